"""A fused operator for ``MoELoRAMLP`` (and a fused forward for plain Llama-style MLPs).

The layer keeps its own forward: the base-only bypass, the routing decision, the aux losses
and the trace stay in ``moe/layer.py``. ``FusedExpertOperator`` only changes how the router
logits and the projections are computed:
- router logits: ``RouterLogits`` for half-precision input (no fp32 copy of x kept);
- default setting (experts on gate, up and down, no dropout, SiLU, no biases): gate and up
  are one GEMM with their expert deltas folded in (``GateUpLoRA``), ``swiglu_packed`` reads
  the packed result once, down adds its delta in the GEMM epilogue (``DownLoRA``);
- any other setting: each projection adds its delta inside ``addmm`` and the activation is
  Liger's SiLU-mul when available.
Both are exact up to rounding against the reference ``moe.operator.ExpertOperator``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from therapeutic_moe.kernels.fused_projections import DownLoRA, GateUp, GateUpLoRA, RouterLogits, compute_dtype
from therapeutic_moe.kernels.liger import liger
from therapeutic_moe.kernels.swiglu_packed import swiglu_packed
from therapeutic_moe.moe.operator import ExpertOperator

PROJECTIONS = ("gate_proj", "up_proj", "down_proj")


def silu_mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """silu(a) * b; Liger's fused kernel on CUDA when installed."""
    found = liger()
    if found is not None and a.is_cuda and a.dtype == b.dtype:
        return found.silu_mul.apply(a, b)
    return F.silu(a) * b


def _is_silu(act) -> bool:
    return isinstance(act, nn.SiLU) or getattr(act, "__name__", "") == "silu" or type(act).__name__ in ("SiLU", "SiLUActivation")


def _plain_linears(mlp: nn.Module) -> bool:
    return all(type(getattr(mlp, p)) is nn.Linear and getattr(mlp, p).bias is None for p in PROJECTIONS)


def _fully_fusable(layer) -> bool:
    experts = layer.experts
    return (set(experts) == set(PROJECTIONS) and _plain_linears(layer.base_mlp) and _is_silu(layer.base_mlp.act_fn)
            and all(isinstance(experts[p].dropout, nn.Identity) for p in PROJECTIONS))


def _expert_scale(experts, gates: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return (gates * experts.scaling).to(dtype).repeat_interleave(experts.r, dim=1)


def _fused_projections(layer, x: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
    dtype = compute_dtype(x)
    mlp, ex = layer.base_mlp, layer.experts
    gate, up, down = ex["gate_proj"], ex["up_proj"], ex["down_proj"]
    with torch.autocast(x.device.type, enabled=False):
        a_gu = torch.cat([gate.expert_A, up.expert_A], dim=1).to(dtype)
        b_gu = torch.block_diag(gate.expert_B, up.expert_B).to(dtype)
        # One scale for the three projections (their experts share rank and alpha).
        scale = _expert_scale(down, gates, dtype)
        packed = GateUpLoRA.apply(x.to(dtype), a_gu, b_gu, scale.repeat(1, 2), mlp.gate_proj.weight.to(dtype),
                                  mlp.up_proj.weight.to(dtype))
        act = swiglu_packed(packed)
        return DownLoRA.apply(act, down.expert_A.to(dtype), down.expert_B.to(dtype), scale,
                              mlp.down_proj.weight.to(dtype))


def _project(layer, name: str, x: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
    base_out = getattr(layer.base_mlp, name)(x)
    if name not in layer.experts:
        return base_out
    experts = layer.experts[name]
    A, B = experts.expert_A, experts.expert_B
    if not torch.is_autocast_enabled(x.device.type):
        A, B = A.to(x.dtype), B.to(x.dtype)
    h = experts.dropout(x) @ A  # [N, E*r]
    delta_in = h * _expert_scale(experts, gates, h.dtype)
    if base_out.dtype != delta_in.dtype and not torch.is_autocast_enabled(x.device.type):
        return base_out + (delta_in @ B).to(base_out.dtype)
    return torch.addmm(base_out, delta_in, B)


def fused_router_logits(router, x: torch.Tensor) -> torch.Tensor:
    """``TopKRouter.logits`` with ``RouterLogits`` for half-precision input: the same fp32
    logits, without an fp32 copy of x kept for backward."""
    if x.dtype not in (torch.bfloat16, torch.float16):
        return router.logits(x)
    with torch.autocast(device_type=x.device.type, enabled=False):
        return RouterLogits.apply(x, router.weight)


def lean_routing(router, x: torch.Tensor):
    """The router's decision over the fused logits (identical numbers to ``router(x)``)."""
    return router.route(fused_router_logits(router, x))


class FusedExpertOperator(ExpertOperator):
    """Few passes over the big tensors; exact up to rounding against ``ExpertOperator``."""

    name = "fused"

    def router_logits(self, router, x: torch.Tensor) -> torch.Tensor:
        return fused_router_logits(router, x)

    def mlp(self, layer, x: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        if not all(experts.plain for experts in layer.experts.values()):
            # Shared A, a shared expert or compensated init: the reference computation.
            return super().mlp(layer, x, gates)
        if _fully_fusable(layer):
            return _fused_projections(layer, x, gates)
        gate = _project(layer, "gate_proj", x, gates)
        up = _project(layer, "up_proj", x, gates)
        act = silu_mul(gate, up) if _is_silu(layer.base_mlp.act_fn) else layer.base_mlp.act_fn(gate) * up
        return _project(layer, "down_proj", act, gates)


FUSED_OPERATOR = FusedExpertOperator()


def patch_moe_layers(layers) -> int:
    """Give each ``MoELoRAMLP`` the fused operator; returns how many changed."""
    count = 0
    for layer in layers:
        if not isinstance(layer.operator, FusedExpertOperator):
            layer.use_operator(FUSED_OPERATOR)
            count += 1
    return count


def fused_swiglu_forward(self, x: torch.Tensor) -> torch.Tensor:
    """For a plain (expert-free) Llama-style MLP: one gate+up GEMM, the packed SwiGLU, down."""
    if not (_plain_linears(self) and not any(p.requires_grad for p in self.parameters())):
        return self.down_proj(silu_mul(self.gate_proj(x), self.up_proj(x)))
    shape = x.shape
    flat = x.reshape(-1, shape[-1])
    dtype = compute_dtype(flat)
    with torch.autocast(flat.device.type, enabled=False):
        packed = GateUp.apply(flat.to(dtype), self.gate_proj.weight.to(dtype), self.up_proj.weight.to(dtype))
        out = F.linear(swiglu_packed(packed), self.down_proj.weight.to(dtype))
    return out.reshape(*shape[:-1], out.shape[-1])
