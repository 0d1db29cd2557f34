"""Build the trainable model from a base model and the LoRA / MoE settings."""

from __future__ import annotations

import warnings

import torch
from torch import nn

from therapeutic_moe.errors import ModelDirError
from therapeutic_moe.modeling.base_model import load_base_model, load_tokenizer, resolve_base_model
from therapeutic_moe.modeling.wrapper import TherapeuticMoEModel
from therapeutic_moe.moe import MoEConfig, inject_experts

TRAINABLE_SHARE_WARN = 0.05


def _check_targets_exist(base: nn.Module, targets: list[str]) -> None:
    leaf_names = {name.rsplit(".", 1)[-1] for name, _ in base.named_modules()}
    missing = [t for t in targets if t not in leaf_names]
    if missing:
        linear_names = sorted({n.rsplit(".", 1)[-1] for n, m in base.named_modules() if isinstance(m, nn.Linear)})
        raise ModelDirError(
            f"lora_target_modules {missing} match no module of this model; its Linear layers are named {linear_names}"
        )


def wrap_model(base: nn.Module, cfg, base_model_name: str, moe_config: MoEConfig | None = None) -> TherapeuticMoEModel:
    """Apply PEFT LoRA to attention, then inject the experts (after PEFT, which would
    otherwise freeze them as non-LoRA parameters)."""
    from peft import LoraConfig, get_peft_model

    _check_targets_exist(base, list(cfg.lora_target_modules))
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=list(cfg.lora_target_modules), bias="none", task_type="CAUSAL_LM")
    peft_model = get_peft_model(base, lora)
    layers, context = [], None
    if getattr(cfg, "use_moe", True):
        moe_config = moe_config or MoEConfig.from_train_config(cfg)
        layers, context = inject_experts(peft_model.get_base_model(), moe_config)
    else:
        moe_config = None
    return TherapeuticMoEModel(peft_model, moe_config, layers, context, base_model_name)


def report_trainable(model: TherapeuticMoEModel, warn: bool = True) -> dict:
    counts = model.parameter_counts()
    share = counts["trainable"] / max(counts["total"], 1)
    counts["trainable_share"] = share
    if warn and share > TRAINABLE_SHARE_WARN:
        warnings.warn(
            f"trainable parameters are {share:.1%} of the model (> {TRAINABLE_SHARE_WARN:.0%}); "
            "lower lora_r / expert_r or num_experts if that is not intended", stacklevel=2)
    return counts


def set_gradient_checkpointing(hf_model: nn.Module, on: bool) -> None:
    """Gradient checkpointing of a Hugging Face model on or off. Non-reentrant: it needs no
    input that requires grad and works with frozen embeddings."""
    if on:
        hf_model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    else:
        hf_model.gradient_checkpointing_disable()


def build_model(cfg, *, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                gradient_checkpointing: bool = False, attn_implementation: str | None = None):
    """Load the base model named by ``cfg.base_model`` and wrap it. Returns (model, tokenizer)."""
    resolved = resolve_base_model(cfg.base_model, getattr(cfg, "model_cache_dir", None))
    tokenizer = load_tokenizer(resolved, getattr(cfg, "trust_remote_code", False))
    base = load_base_model(resolved, dtype=dtype, device=device,
                           attn_implementation=attn_implementation or getattr(cfg, "attn_implementation", None),
                           trust_remote_code=getattr(cfg, "trust_remote_code", False),
                           load_in_4bit=bool(getattr(cfg, "load_in_4bit", False)))
    for p in base.parameters():
        p.requires_grad_(False)
    if gradient_checkpointing:
        set_gradient_checkpointing(base, True)
    base.config.use_cache = False
    model = wrap_model(base, cfg, cfg.base_model)
    if not getattr(cfg, "load_in_4bit", False):  # 4-bit weights are placed at load time and must not move
        model.to(device)
    # Adapter and expert weights stay fp32 (master weights); autocast does the bf16 math.
    for p in model.parameters():
        if p.requires_grad and p.dtype != torch.float32:
            p.data = p.data.float()
    return model, tokenizer
