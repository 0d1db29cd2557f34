"""The MoE FFN's projections with their LoRA-expert deltas, as few passes over big tensors as possible.

For one projection with stacked experts: y = x W^T + ((x A) * s) B, where A stacks every
expert's A ([d_in, k], k = E*r), B stacks every B ([k, d_out]) and s [N, k] is each token's
gate (0 for unchosen experts) times the LoRA scale, repeated over the r columns of each
expert. Autograd on the plain formula reads and writes the [N, d_out] tensors several
times (delta, add, and in backward one extra GEMM over grad_y plus a separate accumulation
of grad_x). The two functions here each do one big GEMM forward and one backward:

- gate+up (d_in small, d_out = 2*I large): one GEMM over the concatenation
  [x | x A * s] @ [[W_gate; W_up] | blockdiag(B_gate, B_up)^T]^T, whose backward gives the
  gradient of x and of the low-rank input at once; gate and up come out packed side by side
  for ``swiglu_packed``.
- down (d_in = I large, d_out small): the delta enters the GEMM epilogue (addmm), and backward
  computes grad_act with one GEMM over [grad_z | grad_h] @ [W_down; A^T].

The frozen weights are concatenated on the fly in forward and again in backward instead of
being kept (at 8B shape that would be 7.5 GB). Both functions expect one dtype for all
inputs; ``compute_dtype`` casting happens in the caller, outside autocast.
"""

from __future__ import annotations

import torch


def _gate_up_weight(w_gate: torch.Tensor, w_up: torch.Tensor, b_full: torch.Tensor | None) -> torch.Tensor:
    """[2I, d] or [2I, d + k]: the frozen weights stacked, the expert B block appended as
    columns; built with one write per element (the frozen weights are not kept stacked: two
    parameters sharing one buffer would break ``save_pretrained`` of the base model)."""
    inter, d = w_gate.shape
    k = 0 if b_full is None else b_full.shape[0]
    out = torch.empty(2 * inter, d + k, dtype=w_gate.dtype, device=w_gate.device)
    out[:inter, :d] = w_gate
    out[inter:, :d] = w_up
    if b_full is not None:
        out[:, d:] = b_full.t()
    return out


class GateUpLoRA(torch.autograd.Function):
    """x [N, d], A [d, k], B [k, 2I] (block-diagonal over gate|up), scale [N, k], W_gate/W_up [I, d]
    (frozen) -> [N, 2I] = [gate | up]."""

    @staticmethod
    def forward(ctx, x, a, b_full, scale, w_gate, w_up):
        h = x @ a
        s = h * scale
        y = torch.cat([x, s], dim=1) @ _gate_up_weight(w_gate, w_up, b_full).t()
        # x itself, not the concatenation: the router keeps the same tensor, so it is stored once.
        ctx.save_for_backward(x, s, h, scale, a, b_full, w_gate, w_up)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, s, h, scale, a, b_full, w_gate, w_up = ctx.saved_tensors
        d = a.shape[0]
        grad_xs = grad_y @ _gate_up_weight(w_gate, w_up, b_full)  # [N, d + k]: grad of x and of s at once
        grad_s = grad_xs[:, d:]
        grad_b = s.t() @ grad_y
        grad_h = grad_s * scale
        grad_scale = grad_s * h if ctx.needs_input_grad[3] else None
        grad_a = x.t() @ grad_h
        grad_x = torch.addmm(grad_xs[:, :d], grad_h, a.t())
        return grad_x, grad_a, grad_b, grad_scale, None, None


class GateUp(torch.autograd.Function):
    """The expert-free version: x [N, d] @ [W_gate; W_up]^T -> [N, 2I], keeping only x."""

    @staticmethod
    def forward(ctx, x, w_gate, w_up):
        ctx.save_for_backward(w_gate, w_up)
        return x @ _gate_up_weight(w_gate, w_up, None).t()

    @staticmethod
    def backward(ctx, grad_y):
        w_gate, w_up = ctx.saved_tensors
        return grad_y @ _gate_up_weight(w_gate, w_up, None), None, None


class DownLoRA(torch.autograd.Function):
    """act [N, I], A [I, k], B [k, d], scale [N, k], W_down [d, I] (frozen) -> [N, d]."""

    @staticmethod
    def forward(ctx, act, a, b, scale, w_down):
        h = act @ a
        z = torch.addmm((h * scale) @ b, act, w_down.t())
        ctx.save_for_backward(act, h, scale, a, b, w_down)
        return z

    @staticmethod
    def backward(ctx, grad_z):
        act, h, scale, a, b, w_down = ctx.saved_tensors
        grad_s = grad_z @ b.t()
        grad_b = (h * scale).t() @ grad_z
        grad_h = grad_s * scale
        grad_scale = grad_s * h if ctx.needs_input_grad[3] else None
        grad_a = act.t() @ grad_h
        grad_act = torch.cat([grad_z, grad_h], dim=1) @ torch.cat([w_down, a.t()], dim=0)
        return grad_act, grad_a, grad_b, grad_scale, None


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """What autocast would compute a matmul of ``x`` in (x's own dtype without autocast)."""
    if torch.is_autocast_enabled(x.device.type):
        return torch.get_autocast_dtype(x.device.type)
    return x.dtype


class RouterLogits(torch.autograd.Function):
    """fp32 router logits F.linear(x.float(), W) that keep x in its own (bf16) dtype for
    backward instead of an fp32 copy: the same numbers, half the memory of the plain form."""

    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(x, weight)
        return torch.nn.functional.linear(x.float(), weight.float())

    @staticmethod
    def backward(ctx, grad_logits):
        x, weight = ctx.saved_tensors
        grad_x = (grad_logits @ weight.float()).to(x.dtype) if ctx.needs_input_grad[0] else None
        grad_w = grad_logits.t() @ x.float() if ctx.needs_input_grad[1] else None
        return grad_x, grad_w
