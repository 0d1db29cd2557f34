"""Optional Liger kernels (Triton): found once, used only on CUDA, absent without harm.

Liger's import can print warnings about optional backends it does not find (CuTe, Ascend);
they do not matter here, so the import runs with warnings silenced and any failure simply
means "no Liger".
"""

from __future__ import annotations

import functools
import importlib
import warnings
from types import SimpleNamespace


@functools.lru_cache(maxsize=1)
def liger() -> SimpleNamespace | None:
    """The Liger entry points used here, or None when liger-kernel (or Triton) is missing."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ops_swiglu = importlib.import_module("liger_kernel.ops.swiglu")
            functional = importlib.import_module("liger_kernel.transformers.functional")
            rms_norm = importlib.import_module("liger_kernel.transformers.rms_norm")
            rope = importlib.import_module("liger_kernel.transformers.rope")
    except Exception:  # ImportError, or a Triton/driver problem at import time
        return None
    return SimpleNamespace(
        silu_mul=ops_swiglu.LigerSiLUMulFunction,
        fused_linear_cross_entropy=functional.liger_fused_linear_cross_entropy,
        rms_norm_forward=rms_norm.LigerRMSNorm.forward,
        rotary_pos_emb=rope.liger_rotary_pos_emb,
    )


def liger_available() -> bool:
    return liger() is not None
