"""The trainable model: base LM + PEFT LoRA on attention + LoRA experts in every FFN."""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from therapeutic_moe.data.chat_render import IGNORE_INDEX
from therapeutic_moe.kernels.cross_entropy import fused_linear_cross_entropy
from therapeutic_moe.moe import MoEConfig, MoELoRAMLP, RoutingContext
from therapeutic_moe.moe.stacked import router_losses


class TherapeuticMoEModel(nn.Module):
    def __init__(self, peft_model: nn.Module, moe_config: MoEConfig | None,
                 moe_layers: list[MoELoRAMLP], context: RoutingContext | None, base_model_name: str):
        super().__init__()
        self.peft_model = peft_model
        self.moe_config = moe_config
        object.__setattr__(self, "moe_layers", moe_layers)  # already registered inside peft_model
        self.context = context
        self.base_model_name = base_model_name

    # --- structure -------------------------------------------------------------------------
    @property
    def base(self) -> nn.Module:
        """The HF causal LM (with LoRA layers and experts inside)."""
        return self.peft_model.get_base_model()

    @property
    def config(self):
        return self.base.config

    def moe_state_dict(self, full: dict | None = None) -> dict[str, torch.Tensor]:
        """Router and expert tensors, keyed independently of the PEFT wrapping (``full``: whole
        tensors by id(parameter), for a sharded model)."""
        out = {}
        for layer in self.moe_layers:
            for name, tensor in layer.saved_tensors():  # buffers are never sharded: not in ``full``
                out[f"layers.{layer.layer_index}.{name}"] = full.get(id(tensor), tensor).detach() if full is not None else tensor.detach()
        return out

    def load_moe_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        own = {}
        for layer in self.moe_layers:
            for name, param in layer.saved_tensors():
                own[f"layers.{layer.layer_index}.{name}"] = param
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if missing or unexpected:
            raise KeyError(f"MoE weights do not match the model: missing {missing[:3]}…, unexpected {unexpected[:3]}…")
        for key, param in own.items():
            if tuple(state[key].shape) != tuple(param.shape):
                raise ValueError(f"{key}: saved shape {tuple(state[key].shape)} != model shape {tuple(param.shape)}")
            with torch.no_grad():
                param.copy_(state[key].to(param.dtype))

    def parameter_counts(self) -> dict[str, int]:
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        experts = sum(p.numel() for layer in self.moe_layers for p in layer.experts.parameters())
        routers = sum(p.numel() for layer in self.moe_layers for p in layer.router.parameters())
        return {"total": total, "trainable": trainable, "attention_lora": trainable - experts - routers,
                "experts": experts, "routers": routers}

    # --- forward ---------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        """Plain HF forward (logits), e.g. for generation and evaluation of logits."""
        if self.context is not None:
            self.context.clear()
        return self.peft_model(*args, **kwargs)

    def generate(self, *args, **kwargs):
        """HF generate; sequence routers carry each row's running mean across the steps (rows
        are whole conversations: left padding would enter the mean, so use one row per call)."""
        if self.context is None:
            return self.peft_model.generate(*args, **kwargs)
        self.context.clear()
        self.context.sequence_state = {}
        try:
            return self.peft_model.generate(*args, **kwargs)
        finally:
            self.context.sequence_state = None

    def forward_loss(self, batch: dict, *, lm_denominator: torch.Tensor | float | None = None,
                     domain_weight: float | None = None, aux_scale: float = 1.0, per_sample: bool = False) -> dict:
        """LM loss on trained tokens plus the weighted router losses: the one loss path of
        training, validation and `evaluate`.

        ``lm_denominator``: the number of trained tokens in the whole gradient-accumulation
        window, so every token weighs the same however the micro-batches split them;
        ``aux_scale`` (1 / accumulation steps) averages the router losses over the window. Logits
        are computed only at trained positions: the vocabulary projection over context and
        padding tokens would be wasted work and memory. ``per_sample``: also return
        ``sample_loss_sum`` (float64) and ``sample_tokens`` per sample of the batch (``sample_ids``).
        """
        input_ids, labels = batch["input_ids"], batch["labels"]
        attention_mask, position_ids = batch.get("attention_mask"), batch.get("position_ids")
        sample_ids = batch.get("sample_ids")
        ctx = self.context
        if ctx is not None:
            if sample_ids is not None:
                token_mask = (sample_ids >= 0).reshape(-1)
            elif attention_mask is not None:
                token_mask = attention_mask.bool().reshape(-1)
            else:
                token_mask = None
            ctx.begin(token_mask=token_mask,
                      sample_ids=None if sample_ids is None else sample_ids.reshape(-1),
                      sample_domains=batch.get("sample_domains"))
        try:
            hidden = self.base.get_decoder()(
                input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False,
            ).last_hidden_state
        finally:
            if ctx is not None:
                ctx.end()
        targets = labels[:, 1:]
        keep = targets != IGNORE_INDEX
        picked = hidden[:, :-1][keep]
        head = self.base.get_output_embeddings()
        out = {}
        if per_sample:
            token_losses = F.cross_entropy(head(picked).float(), targets[keep], reduction="none")
            lm_sum = token_losses.sum()
            out |= _per_sample(token_losses, sample_ids, keep, len(batch["sample_domains"]))
        elif isinstance(head, nn.Linear):  # fused (chunked) on CUDA once apply_fast_kernels ran; else plain
            lm_sum = fused_linear_cross_entropy(picked, head.weight, targets[keep], bias=head.bias)
        else:
            lm_sum = F.cross_entropy(head(picked).float(), targets[keep], reduction="sum")
        n_tokens = keep.sum()
        denom = lm_denominator if lm_denominator is not None else n_tokens.clamp(min=1)
        loss = lm_sum / denom
        out |= {"lm_loss_sum": lm_sum.detach(), "n_tokens": n_tokens.detach()}
        if ctx is not None and ctx.aux:
            cfg = self.moe_config
            w_dom = cfg.domain_routing_weight if domain_weight is None else domain_weight
            aux, logged = router_losses(ctx, self.moe_layers, cfg, w_dom)  # all layers at once
            loss = loss + aux_scale * aux
            out.update(logged)
            ctx.aux = {}
        out["loss"] = loss
        return out


def _per_sample(token_losses: torch.Tensor, sample_ids: torch.Tensor, keep: torch.Tensor, samples: int) -> dict:
    """Each trained target's loss summed into the sample it belongs to (float64, no host sync)."""
    owner = sample_ids[:, 1:][keep]
    sums = torch.zeros(samples, dtype=torch.float64, device=token_losses.device)
    counts = torch.zeros(samples, dtype=torch.long, device=token_losses.device)
    return {"sample_loss_sum": sums.index_add_(0, owner, token_losses.detach().double()),
            "sample_tokens": counts.index_add_(0, owner, torch.ones_like(owner))}
