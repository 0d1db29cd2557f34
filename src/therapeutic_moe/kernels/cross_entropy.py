"""Cross-entropy of a linear projection (the LM head) without materialising all logits.

The plain form builds an [N, vocab] fp32 logits tensor: at vocab 49k-128k that is the
largest activation of the whole step (64k tokens x 49k x 4 bytes = 12.9 GB). Liger's fused
kernel computes the logits chunk by chunk, writes the loss and the input gradient in the
same pass and never keeps the logits. It is used on CUDA once ``apply_fast_kernels`` has
switched it on; everywhere else the plain PyTorch form runs, bit for bit the computation the
model did before this module existed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from therapeutic_moe.kernels.liger import liger

_state = {"fused": False}


def set_fused_cross_entropy(enabled: bool) -> bool:
    """Switch the fused CUDA path on or off for this process; returns the previous setting."""
    previous = _state["fused"]
    _state["fused"] = bool(enabled)
    return previous


@contextlib.contextmanager
def fused_cross_entropy(enabled: bool) -> Iterator[None]:
    """Temporarily switch the fused path (e.g. off, to compute a reference loss)."""
    previous = set_fused_cross_entropy(enabled)
    try:
        yield
    finally:
        set_fused_cross_entropy(previous)


def fused_path_active(hidden: torch.Tensor, bias: torch.Tensor | None = None) -> bool:
    return _state["fused"] and hidden.is_cuda and bias is None and liger() is not None


def fused_linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, *,
                               bias: torch.Tensor | None = None, ignore_index: int = -100,
                               reduction: str = "sum") -> torch.Tensor:
    """``cross_entropy(hidden @ weight.T + bias, targets)`` in fp32, summed by default.

    hidden: [N, d]; weight: [vocab, d]; targets: [N] (``ignore_index`` = not trained).
    """
    if fused_path_active(hidden, bias):
        if torch.is_autocast_enabled(hidden.device.type):
            # Custom autograd functions see no autocast: give the kernel what F.linear would use.
            dtype = torch.get_autocast_dtype(hidden.device.type)
            hidden, weight = hidden.to(dtype), weight.to(dtype)
        elif hidden.dtype != weight.dtype:
            hidden = hidden.to(weight.dtype)
        return liger().fused_linear_cross_entropy(hidden, weight, targets, ignore_index=ignore_index,
                                                  reduction=reduction)
    logits = F.linear(hidden, weight, bias).float()
    return F.cross_entropy(logits, targets, ignore_index=ignore_index, reduction=reduction)
