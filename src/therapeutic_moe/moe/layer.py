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

from therapeutic_moe.moe.balance import observe_load
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
        self.router = TopKRouter(hidden, cfg.num_experts, cfg.top_k, cfg.router_init_std,
                                 selection_bias=cfg.balancing == "aux_free", dense_steps=cfg.dense_routing_steps,
                                 counts_steps=cfg.counts_steps)
        shapes = {"gate_proj": (hidden, inter), "up_proj": (hidden, inter), "down_proj": (down.in_features, down.out_features)}
        variant = dict(shared_a=cfg.expert_structure == "shared_a", shared_expert=cfg.shared_expert,
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

    def use_operator(self, operator: ExpertOperator) -> None:
        """Compute logits and projections with ``operator`` from now on (same function)."""
        self.operator = operator

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.context.bypass_experts:
            return self.base_mlp(hidden_states)
        shape = hidden_states.shape
        x = hidden_states.reshape(-1, shape[-1])
        routing = self.router(x, self.operator)  # through __call__: FSDP's hooks gather a sharded router
        out = self.operator.mlp(self, x, routing.gates)
        ctx = self.context
        if ctx.compute_aux:
            self._aux(ctx, routing)
        if ctx.trace is not None:
            ctx.trace.append((self.layer_index, routing.topk_index.detach(), routing.gates.detach()))
        return out.reshape(*shape[:-1], out.shape[-1])

    def _aux(self, ctx: RoutingContext, routing) -> None:
        mask = ctx.token_mask
        lb = self._warmed_up(load_balancing_loss(routing.probs, routing.topk_index, mask))
        z = router_z_loss(routing.logits, mask)
        dom = None
        sample_probs = None
        # Per-sample probabilities feed the domain loss and the statistics: skipped when neither
        # runs. The same in the forward and its checkpoint recompute (both settings hold for the step).
        wanted = ctx.compute_domain_loss or ctx.stats is not None
        if wanted and ctx.sample_ids is not None and ctx.sample_domains is not None and ctx.sample_domains.numel():
            sample_probs = sample_mean_probs(routing.probs, ctx.sample_ids, ctx.sample_domains.shape[0])
            if ctx.compute_domain_loss:
                dom = domain_routing_loss(sample_probs, ctx.sample_domains, ctx.domain_class_weights)
        if not ctx.collecting:  # gradient-checkpoint recompute: same tensors, nothing stored
            return
        ctx.aux[self.layer_index] = (lb, z, dom)
        if self.training and self.router.selection_bias is not None:
            observe_load(self.router, routing.topk_index, mask)
        if ctx.stats is not None:
            ctx.stats.add(self.layer_index, routing.probs.detach(), routing.topk_index, mask,
                          None if sample_probs is None else sample_probs.detach(), ctx.sample_domains,
                          token_domains=token_domains(ctx))

    def _warmed_up(self, lb: torch.Tensor) -> torch.Tensor:
        """The balance loss with its gradient scaled by the warm-up ramp; the value is unchanged,
        so the logged loss stays comparable across steps."""
        warmup = self.cfg.load_balancing_warmup_steps
        if warmup <= 0:
            return lb
        ramp = (self.router.routing_steps / warmup).clamp(max=1.0).to(lb.dtype)
        return lb.detach() + ramp * (lb - lb.detach())


def token_domains(ctx: RoutingContext) -> torch.Tensor | None:
    """[N] the domain of each token's sample (-1: unlabelled or padding), for the statistics."""
    if ctx.sample_ids is None or ctx.sample_domains is None or not ctx.sample_domains.numel():
        return None
    ids = ctx.sample_ids
    domains = ctx.sample_domains.to(ids.device)[ids.clamp(min=0)]
    return torch.where(ids >= 0, domains, torch.full_like(domains, -1))
