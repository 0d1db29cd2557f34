"""Top-k token router: an fp32 linear map from the hidden state to one logit per expert."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F


@dataclass
class Routing:
    """What the router decided for a flat batch of N tokens."""

    logits: torch.Tensor  # [N, E] fp32
    probs: torch.Tensor  # [N, E] fp32 softmax over all experts
    topk_index: torch.Tensor  # [N, k] chosen experts
    gates: torch.Tensor  # [N, E] fp32, renormalised weight of chosen experts, 0 elsewhere


def renormalised_gates(logits: torch.Tensor, top_i: torch.Tensor) -> torch.Tensor:
    """[N, E] the chosen experts' probabilities renormalised over the chosen k (they sum to 1
    per token, Mixtral style), 0 elsewhere: the softmax of the logits with the unchosen ones
    masked out. Equal to p_e / Σ_chosen p but with 4 operators forward and 1 backward (the
    division, the gather and the scatter of that form cost about 14). The mask is added (0 or
    -inf) rather than filled in: an addition passes its gradient through without an operator."""
    mask = torch.full_like(logits, float("-inf")).scatter_(-1, top_i, 0.0)
    return (logits + mask).softmax(dim=-1)


class TopKRouter(nn.Module):
    """``selection_bias`` (aux-free balancing) and ``dense_steps`` (dense warm-up) are optional;
    when either is set, or ``counts_steps``, the router keeps ``routing_steps``, a counter of
    optimizer steps, as a buffer that is saved with the weights (``moe/balance.py`` moves it)."""

    def __init__(self, hidden_size: int, num_experts: int, top_k: int, init_std: float = 0.02, *,
                 selection_bias: bool = False, dense_steps: int = 0, counts_steps: bool = False):
        super().__init__()
        self.num_experts = num_experts
        self.top_k = top_k
        self.dense_steps = dense_steps
        # fp32 on purpose: routing decisions in bf16 flip on ties and destabilise training.
        self.weight = nn.Parameter(torch.empty(num_experts, hidden_size, dtype=torch.float32))
        nn.init.normal_(self.weight, std=init_std)
        # Buffers (not parameters): no optimizer, no gradient sync; FSDP leaves them whole.
        # A None buffer is absent from every state dict: the default router saves what it always did.
        self.register_buffer("selection_bias", torch.zeros(num_experts) if selection_bias else None)
        self.register_buffer("routing_steps", torch.zeros(()) if counts_steps or selection_bias or dense_steps > 0 else None)
        # Assignments per expert since the last optimizer step: a plain attribute, not a buffer,
        # so DDP's buffer broadcast never overwrites one process's counts with another's, and
        # nothing saves it (it is zero at the end of every optimizer step).
        self.observed_load: torch.Tensor | None = None

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """[N, E] router logits in fp32 (fp64 input stays fp64)."""
        with torch.autocast(device_type=hidden.device.type, enabled=False):
            dtype = torch.promote_types(hidden.dtype, torch.float32)
            return F.linear(hidden.to(dtype), self.weight.to(dtype))

    def route(self, logits: torch.Tensor) -> Routing:
        """The routing decision from logits; every operator (plain or fused) ends here, so the
        selection rule lives in one place."""
        with torch.autocast(device_type=logits.device.type, enabled=False):
            probs = logits.softmax(dim=-1)
            if self.selection_bias is None:
                top_i = probs.topk(self.top_k, dim=-1).indices
            else:  # the bias picks the experts; the gates stay the unbiased probabilities
                top_i = (logits + self.selection_bias.to(logits.dtype)).topk(self.top_k, dim=-1).indices
            gates = renormalised_gates(logits, top_i)
            if self.dense_steps > 0:  # a tensor condition: no host sync
                gates = torch.where(self.routing_steps < self.dense_steps, probs, gates)
        return Routing(logits=logits, probs=probs, topk_index=top_i, gates=gates)

    def forward(self, hidden: torch.Tensor, operator=None) -> Routing:
        """Logits (by ``operator.router_logits`` when given: the fused path), then ``route``.
        Callers go through ``router(...)``, never ``logits``/``route`` directly: FSDP gathers
        the sharded weight in the module's forward hook."""
        logits = self.logits(hidden) if operator is None else operator.router_logits(self, hidden)
        return self.route(logits)
