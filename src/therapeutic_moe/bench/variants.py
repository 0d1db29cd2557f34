"""The training setups the benchmark compares, each built from random weights of a shape.

- ``plain``: HF model + PEFT LoRA r16 on q/k/v/o as a user writes it: bf16 base weights,
  sdpa, the model's own loss from ``labels``, fused AdamW, autocast like HF Trainer's bf16.
- ``liger``: the same after ``apply_liger_kernel_to_llama`` (what a careful user runs).
- ``ours``: our model without experts (attention LoRA only), ``forward_loss``, fast kernels.
- ``ours_e4`` / ``ours_e8``: ours with 4 / 8 LoRA experts, top-2, in every FFN.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace

import torch
from torch import nn

from therapeutic_moe.bench.shapes import ModelShape
from therapeutic_moe.modeling.build import set_gradient_checkpointing

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]
VARIANTS = {
    "plain": "HF + PEFT LoRA r16 q/k/v/o, bf16 weights, sdpa, fused AdamW",
    "liger": "plain + Liger kernels (RMSNorm, RoPE, SwiGLU, fused linear CE)",
    "ours": "ours, no experts (attention LoRA r16), fast kernels",
    "ours_e4": "ours, 4 LoRA experts top-2 in every FFN, fast kernels",
    "ours_e8": "ours, 8 LoRA experts top-2 in every FFN, fast kernels",
}
BASELINES = ("plain", "liger")
EXPERTS = {"ours": 0, "ours_e4": 4, "ours_e8": 8}


@dataclass
class BenchModel:
    """A built setup: what to train and how to get its loss from a batch."""

    module: nn.Module
    params: list[nn.Parameter]
    loss: Callable[[dict], torch.Tensor]
    checkpointing: bool
    kernels: list[str] = field(default_factory=list)


def patched_modules() -> list:
    """Modules whose globals Liger (and our rope patch) rewrite; snapshotted around each setup."""
    from transformers.models.llama import modeling_llama

    return [modeling_llama]


@contextlib.contextmanager
def restore_module_patches() -> Iterator[None]:
    """Undo module-level monkey patches (Liger rewrites e.g. ``apply_rotary_pos_emb``) on exit,
    so one setup's kernels never leak into the next one measured in the same process."""
    from therapeutic_moe.kernels import set_fused_cross_entropy

    saved = [(module, dict(vars(module))) for module in patched_modules()]
    classes = [(cls, dict(vars(cls))) for module, _ in saved for cls in vars(module).values()
               if isinstance(cls, type) and cls.__module__ == module.__name__]
    fused_before = set_fused_cross_entropy(False)
    try:
        yield
    finally:
        for module, before in saved:
            for key in set(vars(module)) - set(before):
                delattr(module, key)
            for key, value in before.items():
                if vars(module).get(key) is not value:
                    setattr(module, key, value)
        for cls, before in classes:
            for key, value in before.items():
                if key not in ("__dict__", "__weakref__", "__doc__") and vars(cls).get(key) is not value:
                    setattr(cls, key, value)
        set_fused_cross_entropy(fused_before)


def build_base(shape: ModelShape, device: torch.device, dtype: torch.dtype, seq: int, seed: int = 0) -> nn.Module:
    """A frozen random-weight Llama of ``shape`` directly on ``device``."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    config = shape.llama_config("sdpa", max_positions=seq)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    for p in model.parameters():
        p.requires_grad_(False)
    model.config.use_cache = False
    return model


def _trainable(module: nn.Module) -> list[nn.Parameter]:
    return [p for p in module.parameters() if p.requires_grad]


def build_plain(shape: ModelShape, device, dtype, seq: int, *, liger: bool, checkpointing: bool,
                lora_r: int = 16, seed: int = 0) -> BenchModel:
    from peft import LoraConfig, get_peft_model

    base = build_base(shape, device, dtype, seq, seed)
    kernels = []
    if liger:
        from liger_kernel.transformers import apply_liger_kernel_to_llama

        apply_liger_kernel_to_llama(model=base)  # rope, rms_norm, swiglu, fused linear CE (defaults)
        kernels = ["liger:rope,rms_norm,swiglu,fused_linear_cross_entropy"]
    if checkpointing:
        set_gradient_checkpointing(base, True)
    lora = LoraConfig(r=lora_r, lora_alpha=2 * lora_r, lora_dropout=0.0, target_modules=list(LORA_TARGETS),
                      bias="none", task_type="CAUSAL_LM")
    model = get_peft_model(base, lora)
    model.train()

    def loss(batch: dict) -> torch.Tensor:
        kwargs = {k: batch[k] for k in ("attention_mask", "position_ids") if batch.get(k) is not None}
        return model(input_ids=batch["input_ids"], labels=batch["labels"], **kwargs).loss

    return BenchModel(model, _trainable(model), loss, checkpointing, kernels)


def ours_config(num_experts: int, lora_r: int = 16) -> SimpleNamespace:
    """The model-building settings of our trainer (defaults of the MoE config), as a namespace."""
    from therapeutic_moe.moe import SEED_DOMAINS, MoEConfig

    defaults = MoEConfig()
    domains = list(SEED_DOMAINS) + [f"expert_{i}" for i in range(len(SEED_DOMAINS), max(num_experts, 1))]
    return SimpleNamespace(
        base_model="bench", lora_r=lora_r, lora_alpha=2 * lora_r, lora_dropout=0.0,
        lora_target_modules=list(LORA_TARGETS), use_moe=num_experts > 0,
        expert_domains=domains[:max(num_experts, 1)], top_k=min(2, max(num_experts, 1)),
        expert_r=defaults.expert_r, expert_alpha=defaults.expert_alpha, expert_dropout=0.0,
        expert_target_modules=list(defaults.target_modules), router_init_std=defaults.router_init_std,
        load_balancing_weight=defaults.load_balancing_weight, router_z_loss_weight=defaults.router_z_loss_weight,
        domain_routing_weight=defaults.domain_routing_weight,
    )


def build_ours(shape: ModelShape, device, dtype, seq: int, *, num_experts: int, checkpointing: bool,
               lora_r: int = 16, seed: int = 0) -> BenchModel:
    """Our model, WITHOUT the fast kernels yet (the caller takes a reference loss first)."""
    from therapeutic_moe.modeling import wrap_model

    base = build_base(shape, device, dtype, seq, seed)
    if checkpointing:
        set_gradient_checkpointing(base, True)
    model = wrap_model(base, ours_config(num_experts, lora_r), f"bench-{shape.name}")
    model.to(device)
    for p in model.parameters():  # fp32 master weights, as the trainer keeps them
        if p.requires_grad and p.dtype != torch.float32:
            p.data = p.data.float()
    model.train()

    def loss(batch: dict) -> torch.Tensor:
        return model.forward_loss(batch)["loss"]

    return BenchModel(model, _trainable(model), loss, checkpointing)


def randomize_trainable(params: list[nn.Parameter], seed: int = 1, std: float = 0.02) -> None:
    """LoRA B and expert B start at zero, which would hide them from a loss comparison."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    with torch.no_grad():
        for p in params:
            p.copy_(torch.randn(p.shape, generator=gen) * std)


def liger_installed() -> bool:
    from therapeutic_moe.kernels import liger_available

    return liger_available()


def describe_versions() -> dict:
    import peft
    import transformers

    out = {"python": sys.version.split()[0], "torch": torch.__version__,
           "transformers": transformers.__version__, "peft": peft.__version__}
    for name in ("liger_kernel", "triton"):
        try:
            from importlib.metadata import version

            out[name] = version(name.replace("_", "-"))
        except Exception:
            out[name] = None
    return out
