"""A SwiGLU MLP with E LoRA experts on its projections (MixLoRA pattern).

out = down'(act(gate'(x)) * up'(x)) where p'(x) = p(x) + Σ_chosen gate_e · B_e A_e x.
The frozen base projections run once for every token; only the low-rank deltas depend on
the routing, so the cost over the base MLP is a few thin GEMMs.

This class is the one place for the layer's rules: the base-only bypass, the routing decision
(``TopKRouter.route``) and the trace; it hands its routing to the aux losses and statistics,
which ``moe/stacked.py`` computes for all layers at once. *How* the logits and the
projections are computed is the job of an ``ExpertOperator`` (``moe/operator.py``); the fast
CUDA path swaps only that operator (``kernels.moe_mlp.patch_moe_layers``).
"""

from __future__ import annotations

import torch
from torch import nn

from therapeutic_moe.moe.balance import observe_load
from therapeutic_moe.moe.config import MoEConfig
from therapeutic_moe.moe.context import RoutingContext
from therapeutic_moe.moe.experts import StackedLoRAExperts
from therapeutic_moe.moe.operator import REFERENCE_OPERATOR, ExpertOperator
from therapeutic_moe.moe.router import TopKRouter
from therapeutic_moe.moe.sequence import router_input


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
        self.router = TopKRouter(hidden, cfg.num_experts, cfg.top_k, cfg.router_init_std,
                                 selection_bias=cfg.balancing == "aux_free", dense_steps=cfg.dense_routing_steps,
                                 counts_steps=cfg.counts_steps)
        shapes = {"gate_proj": (hidden, inter), "up_proj": (hidden, inter), "down_proj": (down.in_features, down.out_features)}
        variant = dict(shared_a=cfg.expert_structure == "shared_a", shared_expert=cfg.shared_expert,
                       shared_r=cfg.shared_expert_r,
                       init=cfg.expert_init, init_std=cfg.expert_init_std, draw_now=False)
        self.experts = nn.ModuleDict({
            name: StackedLoRAExperts(*shapes[name], cfg.num_experts, cfg.expert_r, cfg.expert_alpha, cfg.expert_dropout,
                                     **variant)
            for name in cfg.target_modules
        })
        self.operator: ExpertOperator = REFERENCE_OPERATOR  # a plain object, not a submodule

    def draw_compensated_experts(self) -> None:
        """Start the compensated init (a no-op for other inits); see ``StackedLoRAExperts``."""
        for experts in self.experts.values():
            if experts.compensated:
                experts.draw_compensated(self.cfg.expert_init_std)

    def saved_tensors(self):
        """(name, tensor) of everything the saved MoE weights hold for this layer: router and
        expert parameters plus their saved buffers (aux-free bias, step counter, frozen initial
        experts of the compensated init), never the frozen base MLP."""
        named = list(self.named_parameters())
        named += list(self.named_buffers())
        return [(n, t) for n, t in named if n.startswith(("router.", "experts."))]

    def block_gates(self, gates: torch.Tensor) -> torch.Tensor:
        """[N, blocks] scaled gate per r-wide expert block, shared by the layer's projections
        (their experts are built from one config: same rank, scale and blocks)."""
        return next(iter(self.experts.values())).block_gates(gates)

    def use_operator(self, operator: ExpertOperator) -> None:
        """Compute logits and projections with ``operator`` from now on (same function)."""
        self.operator = operator

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.context.bypass_experts:
            return self.base_mlp(hidden_states)
        shape = hidden_states.shape
        x = hidden_states.reshape(-1, shape[-1])
        read = x if self.cfg.router_input == "token" else router_input(x, shape, self.context, self.layer_index)
        routing = self.router(read, self.operator)  # through __call__: FSDP's hooks gather a sharded router
        out = self.operator.mlp(self, x, routing.gates)
        ctx = self.context
        if ctx.compute_aux:
            self._aux(ctx, routing)
        if ctx.trace is not None:
            ctx.trace.append((self.layer_index, routing.topk_index.detach(), routing.gates.detach()))
        return out.reshape(*shape[:-1], out.shape[-1])

    def _aux(self, ctx: RoutingContext, routing) -> None:
        """Leave the routing for the router losses and statistics, which ``moe/stacked.py``
        computes once over all layers. Nothing here saves a tensor for backward, so the
        forward and its gradient-checkpoint recompute stay alike."""
        if not ctx.collecting:  # gradient-checkpoint recompute: nothing stored
            return
        ctx.aux[self.layer_index] = routing
        if self.training and self.router.selection_bias is not None:
            observe_load(self.router, routing.topk_index, ctx.token_mask)
