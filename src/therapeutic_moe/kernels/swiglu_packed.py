"""silu(g) * u where g and u are the two halves of one [N, 2I] tensor (a fused gate/up GEMM).

Forward reads y = [g | u] once and writes act [N, I]; backward writes the gradient of y
directly in the same packed layout, which is exactly what the fused gate/up GEMM's backward
consumes. Math in fp32, one rounding at the store. A small Triton kernel on CUDA; plain
PyTorch (autograd) elsewhere.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F


@functools.lru_cache(maxsize=1)
def _kernels():
    try:
        import triton
        import triton.language as tl
    except ImportError:
        return None

    @triton.jit
    def forward_kernel(y_ptr, out_ptr, n_cols, stride_y, stride_out, BLOCK: tl.constexpr):
        row = tl.program_id(0).to(tl.int64)
        cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
        mask = cols < n_cols
        g = tl.load(y_ptr + row * stride_y + cols, mask=mask, other=0.0).to(tl.float32)
        u = tl.load(y_ptr + row * stride_y + n_cols + cols, mask=mask, other=0.0).to(tl.float32)
        act = g * tl.sigmoid(g) * u
        tl.store(out_ptr + row * stride_out + cols, act.to(out_ptr.dtype.element_ty), mask=mask)

    @triton.jit
    def backward_kernel(y_ptr, grad_out_ptr, grad_y_ptr, n_cols, stride_y, stride_go, stride_gy,
                        BLOCK: tl.constexpr):
        row = tl.program_id(0).to(tl.int64)
        cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
        mask = cols < n_cols
        g = tl.load(y_ptr + row * stride_y + cols, mask=mask, other=0.0).to(tl.float32)
        u = tl.load(y_ptr + row * stride_y + n_cols + cols, mask=mask, other=0.0).to(tl.float32)
        go = tl.load(grad_out_ptr + row * stride_go + cols, mask=mask, other=0.0).to(tl.float32)
        sig = tl.sigmoid(g)
        d_g = go * u * sig * (1.0 + g * (1.0 - sig))
        d_u = go * g * sig
        tl.store(grad_y_ptr + row * stride_gy + cols, d_g.to(grad_y_ptr.dtype.element_ty), mask=mask)
        tl.store(grad_y_ptr + row * stride_gy + n_cols + cols, d_u.to(grad_y_ptr.dtype.element_ty), mask=mask)

    return triton, forward_kernel, backward_kernel


BLOCK = 1024


class _PackedSwiGLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, y: torch.Tensor) -> torch.Tensor:
        triton, fwd, _ = _kernels()
        y = y.contiguous()
        rows, width = y.shape
        half = width // 2
        out = torch.empty(rows, half, device=y.device, dtype=y.dtype)
        if rows:
            fwd[(rows, triton.cdiv(half, BLOCK))](y, out, half, y.stride(0), out.stride(0), BLOCK=BLOCK, num_warps=4)
        ctx.save_for_backward(y)
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        triton, _, bwd = _kernels()
        (y,) = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        rows, width = y.shape
        half = width // 2
        grad_y = torch.empty_like(y)
        if rows:
            bwd[(rows, triton.cdiv(half, BLOCK))](y, grad_out, grad_y, half, y.stride(0), grad_out.stride(0),
                                                  grad_y.stride(0), BLOCK=BLOCK, num_warps=4)
        return grad_y


def swiglu_packed(y: torch.Tensor) -> torch.Tensor:
    """y: [N, 2I] = [gate | up] -> silu(gate) * up, [N, I]."""
    if y.is_cuda and y.dim() == 2 and _kernels() is not None:
        return _PackedSwiGLU.apply(y)
    gate, up = y.chunk(2, dim=-1)
    return F.silu(gate) * up
