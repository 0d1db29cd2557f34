"""Switch a model to the fast CUDA paths in one call.

``apply_fast_kernels(model)`` is what the trainer calls on CUDA. Each piece is optional and
named in the returned list, so the training log says exactly what ran:

- ``liger_rms_norm``, ``liger_rope``: Liger's fused RMSNorm and rotary kernels;
- ``fused_moe_mlp`` / ``fused_gate_up_mlp``: gate and up as one GEMM with the expert deltas
  folded in, a packed SwiGLU kernel, down with its delta in the GEMM epilogue
  (``moe_mlp.py``; never Liger's SwiGLU module, which would drop the experts);
- ``liger_fused_linear_cross_entropy``: the LM-head loss without materialised logits;
- ``lean_lora_forward``: PEFT LoRA without the fp32 input copy and extra passes;
- ``packed_varlen_attention``: flash attention over packed rows (``packed_attention.py``).

On CPU, or for a piece whose library is missing, nothing changes and the list says so.
"""

from __future__ import annotations

import sys
from types import MethodType

from torch import nn

from therapeutic_moe.kernels.cross_entropy import set_fused_cross_entropy
from therapeutic_moe.kernels.liger import liger
from therapeutic_moe.kernels.lora_linear import patch_lora_linears
from therapeutic_moe.kernels.moe_mlp import _is_silu, fused_swiglu_forward, patch_moe_layers
from therapeutic_moe.kernels.packed_attention import register_packed_attention, varlen_available

# Model families whose RMSNorm is w * x / rms(x) (no Gemma-style 1 + w offset) and whose
# rotary function has Llama's signature; Liger's kernels compute exactly these.
RMS_NORM_CLASSES = {"LlamaRMSNorm", "MistralRMSNorm", "Qwen2RMSNorm", "Qwen3RMSNorm"}
ROPE_MODEL_TYPES = {"llama", "mistral", "qwen2", "qwen3"}
ALL_KERNELS = ("rms_norm", "rope", "swiglu", "fused_cross_entropy", "lora", "packed_attention")


def _hf_model(model: nn.Module) -> nn.Module:
    """The HF causal LM inside our wrapper or a PEFT model (or the model itself)."""
    base = getattr(model, "base", None)
    if isinstance(base, nn.Module):
        return base
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def _patch_rms_norms(hf: nn.Module) -> int:
    forward = liger().rms_norm_forward
    count = 0
    for module in hf.modules():
        if type(module).__name__ in RMS_NORM_CLASSES and getattr(module, "weight", None) is not None:
            # The attributes LigerRMSNorm.forward reads (the Llama casting mode: compute in fp32,
            # cast back, then scale: what the HF module does).
            module.offset, module.casting_mode, module.in_place, module.row_mode = 0.0, "llama", True, None
            module.variance_epsilon = getattr(module, "variance_epsilon", None) or getattr(module, "eps", 1e-6)
            module.forward = MethodType(forward, module)
            count += 1
    return count


def _cuda_only_rope(original, fused):
    """Liger's rotary kernel for CUDA tensors, the module's own function for anything else: the
    patch is module-level (as Liger's own), so it reaches every model of that family in the
    process, CPU ones too (a CPU evaluation after a GPU run), and Triton cannot read CPU memory."""

    def apply_rotary_pos_emb(q, k, cos, sin, *args, **kwargs):
        return (fused if q.is_cuda else original)(q, k, cos, sin, *args, **kwargs)

    apply_rotary_pos_emb._therapeutic_original = original
    return apply_rotary_pos_emb


def _patch_rope(hf: nn.Module) -> bool:
    if getattr(hf.config, "model_type", None) not in ROPE_MODEL_TYPES:
        return False
    modules = {sys.modules.get(type(m).__module__) for m in hf.modules() if type(m).__name__.endswith("Attention")}
    patched = False
    for module in modules:
        if module is not None and hasattr(module, "apply_rotary_pos_emb"):
            current = module.apply_rotary_pos_emb
            if not hasattr(current, "_therapeutic_original"):
                module.apply_rotary_pos_emb = _cuda_only_rope(current, liger().rotary_pos_emb)
            patched = True
    return patched


def _patch_plain_mlps(hf: nn.Module) -> int:
    from therapeutic_moe.moe.inject import find_mlps

    count = 0
    for _, _, mlp in find_mlps(hf):
        if _is_silu(mlp.act_fn) and not getattr(mlp, "_therapeutic_fused", False):
            mlp.forward = MethodType(fused_swiglu_forward, mlp)
            mlp._therapeutic_fused = True
            count += 1
    return count


def apply_fast_kernels(model: nn.Module, *, rms_norm: bool = True, rope: bool = True, swiglu: bool = True,
                       fused_cross_entropy: bool = True, lora: bool = True,
                       packed_attention: bool = True) -> list[str]:
    """Apply the fast paths to ``model`` (ours, a PEFT model or a HF model) on CUDA.

    Returns the names of what was applied; an empty list on CPU. Call it after the experts
    are injected and before the optimizer is built (it does not change any parameter).
    """
    hf = _hf_model(model)
    first = next(hf.parameters(), None)
    if first is None or first.device.type != "cuda":
        return []
    applied = []
    has_liger = liger() is not None
    if rms_norm and has_liger and _patch_rms_norms(hf):
        applied.append("liger_rms_norm")
    if rope and has_liger and _patch_rope(hf):
        applied.append("liger_rope")
    if swiglu:
        moe_layers = getattr(model, "moe_layers", None) or []
        if moe_layers and patch_moe_layers(moe_layers):
            applied.append("fused_moe_mlp")
        elif not moe_layers and _patch_plain_mlps(hf):
            applied.append("fused_gate_up_mlp")
    if fused_cross_entropy and has_liger:
        set_fused_cross_entropy(True)
        applied.append("liger_fused_linear_cross_entropy")
    if lora and patch_lora_linears(hf):
        applied.append("lean_lora_forward")
    if packed_attention and varlen_available():
        hf.config._attn_implementation = register_packed_attention()
        applied.append("packed_varlen_attention")
    return applied
