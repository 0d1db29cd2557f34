"""A SwiGLU MLP with E LoRA experts on its projections (MixLoRA pattern).

out = down'(act(gate'(x)) * up'(x)) where p'(x) = p(x) + Σ_chosen gate_e · B_e A_e x.
The frozen base projections run once for every token; only the low-rank deltas depend on
the routing, so the cost over the base MLP is a few thin GEMMs.

This class is the one place for the layer's rules: the base-only bypass, the routing decision
(``TopKRouter.route``), the aux losses, the statistics and the trace. *How* the logits and the
projections are computed is the job of an ``ExpertOperator`` (``moe/operator.py``); the fast
CUDA path swaps only that operator (``kernels.moe_mlp.patch_moe_layers``).
"""

from __future__ import annotations

import torch
from torch import nn

from therapeutic_moe.moe.config import MoEConfig
from therapeutic_moe.moe.context import RoutingContext
from therapeutic_moe.moe.experts import StackedLoRAExperts
from therapeutic_moe.moe.losses import (
    domain_routing_loss,
    load_balancing_loss,
    router_z_loss,
    sample_mean_probs,
)
from therapeutic_moe.moe.operator import REFERENCE_OPERATOR, ExpertOperator
from therapeutic_moe.moe.router import TopKRouter


class MoELoRAMLP(nn.Module):
    def __init__(self, base_mlp: nn.Module, layer_index: int, cfg: MoEConfig, context: RoutingContext):
        super().__init__()
        self.base_mlp = base_mlp
        self.layer_index = layer_index
        self.cfg = cfg
        # Not a submodule: it is shared by every layer and holds no parameters.
        object.__setattr__(self, "context", context)
        gate, down = base_mlp.gate_proj, base_mlp.down_proj
        hidden, inter = gate.in_features, gate.out_features
        self.router = TopKRouter(hidden, cfg.num_experts, cfg.top_k, cfg.router_init_std)
        shapes = {"gate_proj": (hidden, inter), "up_proj": (hidden, inter), "down_proj": (down.in_features, down.out_features)}
        self.experts = nn.ModuleDict({
            name: StackedLoRAExperts(*shapes[name], cfg.num_experts, cfg.expert_r, cfg.expert_alpha, cfg.expert_dropout)
            for name in cfg.target_modules
        })
        self.operator: ExpertOperator = REFERENCE_OPERATOR  # a plain object, not a submodule

    def use_operator(self, operator: ExpertOperator) -> None:
        """Compute logits and projections with ``operator`` from now on (same function)."""
        self.operator = operator

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.context.bypass_experts:
            return self.base_mlp(hidden_states)
        shape = hidden_states.shape
        x = hidden_states.reshape(-1, shape[-1])
        routing = self.router.route(self.operator.router_logits(self.router, x))
        out = self.operator.mlp(self, x, routing.gates)
        ctx = self.context
        if ctx.compute_aux:
            self._aux(ctx, routing)
        if ctx.trace is not None:
            ctx.trace.append((self.layer_index, routing.topk_index.detach(), routing.gates.detach()))
        return out.reshape(*shape[:-1], out.shape[-1])

    def _aux(self, ctx: RoutingContext, routing) -> None:
        mask = ctx.token_mask
        lb = load_balancing_loss(routing.probs, routing.topk_index, mask)
        z = router_z_loss(routing.logits, mask)
        dom = None
        sample_probs = None
        if ctx.sample_ids is not None and ctx.sample_domains is not None and ctx.sample_domains.numel():
            sample_probs = sample_mean_probs(routing.probs, ctx.sample_ids, ctx.sample_domains.shape[0])
            if ctx.compute_domain_loss:
                dom = domain_routing_loss(sample_probs, ctx.sample_domains, ctx.domain_class_weights)
        if not ctx.collecting:  # gradient-checkpoint recompute: same tensors, nothing stored
            return
        ctx.aux[self.layer_index] = (lb, z, dom)
        if ctx.stats is not None:
            ctx.stats.add(self.layer_index, routing.probs.detach(), routing.topk_index, mask,
                          None if sample_probs is None else sample_probs.detach(), ctx.sample_domains)
