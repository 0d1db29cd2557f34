"""Find every decoder FFN of a HF causal LM and wrap it with LoRA experts."""

from __future__ import annotations

from torch import nn

from therapeutic_moe.errors import ModelDirError
from therapeutic_moe.moe.config import MoEConfig
from therapeutic_moe.moe.context import RoutingContext
from therapeutic_moe.moe.layer import MoELoRAMLP

SWIGLU_PARTS = ("gate_proj", "up_proj", "down_proj")


def _is_swiglu_mlp(module: nn.Module) -> bool:
    return all(isinstance(getattr(module, p, None), nn.Linear) for p in SWIGLU_PARTS) and callable(
        getattr(module, "act_fn", None)
    )


def find_mlps(model: nn.Module) -> list[tuple[nn.Module, str, nn.Module]]:
    """(parent, attribute, mlp) for each Llama/Qwen/Mistral-style MLP, in model order."""
    found = []
    for parent in model.modules():
        if isinstance(parent, MoELoRAMLP):
            continue
        for attr, child in parent.named_children():
            if isinstance(child, MoELoRAMLP) or not _is_swiglu_mlp(child):
                continue
            found.append((parent, attr, child))
    return found


def inject_experts(model: nn.Module, cfg: MoEConfig) -> tuple[list[MoELoRAMLP], RoutingContext]:
    """Replace each SwiGLU MLP by an ``MoELoRAMLP``; returns the layers and their shared context.

    The sizes come from each MLP's own Linear layers (which come from the model config), so
    no hidden size is ever assumed.
    """
    if any(isinstance(m, MoELoRAMLP) for m in model.modules()):
        raise ValueError("the model already has MoE experts injected")
    targets = find_mlps(model)
    if not targets:
        kinds = sorted({type(m).__name__ for m in model.modules() if "mlp" in type(m).__name__.lower()})
        raise ModelDirError(
            "this model has no Llama/Qwen/Mistral-style MLP (a module with gate_proj, up_proj, down_proj "
            f"Linear layers and act_fn); found MLP types {kinds or 'none'}. Use a SwiGLU decoder model, "
            "or set use_moe=false to train attention LoRA only."
        )
    unknown = [t for t in cfg.target_modules if t not in SWIGLU_PARTS]
    if unknown:
        raise ModelDirError(f"expert_target_modules {unknown} are not MLP projections; choose from {list(SWIGLU_PARTS)}")
    context = RoutingContext(num_layers=len(targets), num_experts=cfg.num_experts)
    layers = []
    for index, (parent, attr, mlp) in enumerate(targets):
        wrapped = MoELoRAMLP(mlp, index, cfg, context)
        ref = next(mlp.parameters())
        # Trainable expert/router weights stay fp32 (mixed precision: autocast does the bf16 math).
        wrapped.router.to(device=ref.device)
        wrapped.experts.to(device=ref.device)
        setattr(parent, attr, wrapped)
        layers.append(wrapped)
    for layer in layers:  # after every layer is built: routers and A get the zero init's draws
        layer.draw_compensated_experts()
    return layers, context
