"""E LoRA experts for one projection, computed as two stacked GEMMs.

delta(x) = scale · Σ_e gate_e(x) · (x A_e) B_e. Stacking every A_e into one [d_in, E·r]
matrix and every B_e into one [E·r, d_out] matrix gives the same sum with one GEMM each:
the gate scales each r-wide block of x·A_all, and unchosen experts have gate 0. Exact, no
token sort, no per-expert Python loop, no host sync — and cheap, because r is small.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class StackedLoRAExperts(nn.Module):
    def __init__(self, in_features: int, out_features: int, num_experts: int, r: int, alpha: float,
                 dropout: float = 0.0):
        super().__init__()
        self.num_experts, self.r, self.scaling = num_experts, r, alpha / r
        # Not named lora_* on purpose: PEFT's adapter save must only pick up the attention LoRA.
        self.expert_A = nn.Parameter(torch.empty(in_features, num_experts * r, dtype=torch.float32))
        self.expert_B = nn.Parameter(torch.zeros(num_experts * r, out_features, dtype=torch.float32))
        # Same init as LoRA (kaiming-uniform A per expert, B = 0): the wrapped model starts
        # exactly equal to the base model.
        for e in range(num_experts):
            block = torch.empty(r, in_features)
            nn.init.kaiming_uniform_(block, a=math.sqrt(5))
            self.expert_A.data[:, e * r:(e + 1) * r] = block.t()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        """x: [N, in], gates: [N, E] (0 for unchosen experts) -> [N, out]."""
        A, B = self.expert_A, self.expert_B
        if not torch.is_autocast_enabled(x.device.type):
            A, B = A.to(x.dtype), B.to(x.dtype)
        h = self.dropout(x) @ A  # [N, E*r]
        scale = (gates * self.scaling).to(h.dtype).repeat_interleave(self.r, dim=1)
        return (h * scale) @ B
