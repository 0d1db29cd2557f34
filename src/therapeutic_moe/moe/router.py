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


class TopKRouter(nn.Module):
    def __init__(self, hidden_size: int, num_experts: int, top_k: int, init_std: float = 0.02):
        super().__init__()
        self.num_experts = num_experts
        self.top_k = top_k
        # fp32 on purpose: routing decisions in bf16 flip on ties and destabilise training.
        self.weight = nn.Parameter(torch.empty(num_experts, hidden_size, dtype=torch.float32))
        nn.init.normal_(self.weight, std=init_std)

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
            top_p, top_i = probs.topk(self.top_k, dim=-1)
            # Renormalise over the chosen k so the gates sum to 1 per token (Mixtral style).
            top_p = top_p / top_p.sum(dim=-1, keepdim=True)
            gates = torch.zeros_like(probs).scatter(1, top_i, top_p)
        return Routing(logits=logits, probs=probs, topk_index=top_i, gates=gates)

    def forward(self, hidden: torch.Tensor) -> Routing:
        return self.route(self.logits(hidden))
