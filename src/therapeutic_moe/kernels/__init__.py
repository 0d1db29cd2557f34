"""Optional fast CUDA paths (Liger kernels, varlen flash attention, fused adds) with plain
PyTorch fallbacks. Nothing here is needed for correctness: on CPU every function computes
exactly what the unfused model computes."""

from therapeutic_moe.kernels.cross_entropy import (
    fused_cross_entropy,
    fused_linear_cross_entropy,
    set_fused_cross_entropy,
)
from therapeutic_moe.kernels.fast_kernels import ALL_KERNELS, apply_fast_kernels
from therapeutic_moe.kernels.liger import liger_available
from therapeutic_moe.kernels.moe_mlp import FusedExpertOperator, patch_moe_layers, silu_mul
from therapeutic_moe.kernels.packed_attention import (
    ATTN_IMPLEMENTATION,
    packed_varlen_attention,
    packing_segments,
    register_packed_attention,
    varlen_available,
)

__all__ = [
    "ALL_KERNELS", "ATTN_IMPLEMENTATION", "apply_fast_kernels", "fused_cross_entropy", "fused_linear_cross_entropy",
    "FusedExpertOperator", "liger_available", "patch_moe_layers", "packed_varlen_attention", "packing_segments",
    "register_packed_attention", "set_fused_cross_entropy", "silu_mul", "varlen_available",
]
