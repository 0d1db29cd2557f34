"""E LoRA experts for one projection, computed as two stacked GEMMs.

delta(x) = scale · Σ_e gate_e(x) · (x A_e) B_e. Stacking every A_e into one [d_in, E·r]
matrix and every B_e into one [E·r, d_out] matrix gives the same sum with one GEMM each:
the gate scales each r-wide block of x·A_all, and unchosen experts have gate 0. Exact, no
token sort, no per-expert Python loop, no host sync — and cheap, because r is small.

Variants (``MoEConfig``), all in the same two GEMMs:
- ``shared_a`` (HydraLoRA): one A [d_in, r] for every expert; x·A is computed once and
  repeated over the experts' blocks.
- ``shared_expert``: one more expert whose gate is always 1; ``shared_r`` (a multiple of r) gives
  it a wider rank, stored as shared_r / r more r-wide blocks, all with gate 1.
- ``compensated`` init: B starts non-zero and a frozen copy of the initial (A, B), fed the
  detached gates, is subtracted. Both terms are computed by the same operations on equal
  values, so at step 0 the difference is exactly zero (the model is the base model) while the
  router's gradient is that of the non-zero experts.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class StackedLoRAExperts(nn.Module):
    def __init__(self, in_features: int, out_features: int, num_experts: int, r: int, alpha: float,
                 dropout: float = 0.0, *, shared_a: bool = False, shared_expert: bool = False,
                 shared_r: int = 0, init: str = "zero", init_std: float = 0.02, draw_now: bool = True):
        super().__init__()
        self.num_experts, self.r, self.scaling = num_experts, r, alpha / r
        self.shared_a, self.shared_expert = shared_a, shared_expert
        # r-wide blocks of the always-on expert: the gates repeat 1 over them (block_gates);
        # MoEConfig checks that shared_r is a multiple of r with independent A
        self.shared_blocks = (shared_r or r) // r if shared_expert else 0
        self.blocks = num_experts + self.shared_blocks  # r-wide blocks of the stacked B
        a_blocks = 1 if shared_a else self.blocks
        # Not named lora_* on purpose: PEFT's adapter save must only pick up the attention LoRA.
        self.expert_A = nn.Parameter(torch.empty(in_features, a_blocks * r, dtype=torch.float32))
        self.expert_B = nn.Parameter(torch.zeros(self.blocks * r, out_features, dtype=torch.float32))
        # Same init as LoRA (kaiming-uniform A per expert, B = 0): the wrapped model starts
        # exactly equal to the base model.
        for e in range(a_blocks):
            block = torch.empty(r, in_features)
            nn.init.kaiming_uniform_(block, a=math.sqrt(5))
            self.expert_A.data[:, e * r:(e + 1) * r] = block.t()
        self.compensated = init == "compensated"
        if self.compensated:
            # Buffers, not parameters: frozen, saved with the expert weights (moe_layers.pt).
            self.register_buffer("init_A", torch.zeros_like(self.expert_A.detach()))
            self.register_buffer("init_B", torch.zeros_like(self.expert_B.detach()))
            if draw_now:
                self.draw_compensated(init_std)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    @torch.no_grad()
    def draw_compensated(self, std: float) -> None:
        """B ~ N(0, std), and the frozen copies become the current (A, B): the delta is exactly 0.
        ``inject_experts`` calls this after building every layer, so that the routers and A
        matrices get the same random draws as with the zero init (a fair comparison)."""
        nn.init.normal_(self.expert_B, std=std)
        self.init_A.copy_(self.expert_A)
        self.init_B.copy_(self.expert_B)

    @property
    def plain(self) -> bool:
        """The original structure (what the fused CUDA operator computes)."""
        return not (self.shared_a or self.shared_expert or self.compensated)

    def block_gates(self, gates: torch.Tensor) -> torch.Tensor:
        """[N, blocks] the scaled gate of each r-wide block (the shared expert's is 1). The same
        for every projection of a layer: the layer computes it once (``MoELoRAMLP.block_gates``)."""
        if self.shared_expert:
            gates = torch.cat([gates, gates.new_ones(gates.shape[0], self.shared_blocks)], dim=1)
        return gates * self.scaling

    def _delta(self, x: torch.Tensor, block_gates: torch.Tensor, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        if not torch.is_autocast_enabled(x.device.type):
            A, B = A.to(x.dtype), B.to(x.dtype)
        h = x @ A  # [N, E*r], or [N, r] with a shared A
        # Each r-wide block times its gate by broadcasting: one operator (a repeated gate
        # vector costs a copy and its own backward); a shared A broadcasts over the blocks.
        blocks = h.reshape(h.shape[0], -1, self.r) * block_gates.to(h.dtype).unsqueeze(-1)
        return blocks.reshape(h.shape[0], -1) @ B

    def forward(self, x: torch.Tensor, gates: torch.Tensor, block_gates: torch.Tensor | None = None) -> torch.Tensor:
        """x: [N, in], gates: [N, E] (0 for unchosen experts) -> [N, out]. ``block_gates``:
        ``self.block_gates(gates)`` when the caller has it already."""
        x = self.dropout(x)  # one mask for both terms below
        block_gates = self.block_gates(gates) if block_gates is None else block_gates
        delta = self._delta(x, block_gates, self.expert_A, self.expert_B)
        if self.compensated:
            delta = delta - self._delta(x, block_gates.detach(), self.init_A, self.init_B)
        return delta
