"""How an MoE layer computes its router logits and its projections with expert deltas.

The layer (``moe/layer.py``) owns everything else: the bypass switch, the routing decision,
the aux losses and the trace. An operator only computes numbers the layer asks for, so a
faster operator (``kernels/moe_mlp.py``) can never skip a rule of the layer. The plain
PyTorch operator below is the reference every other operator must match.
"""

from __future__ import annotations

import torch


class ExpertOperator:
    """Plain autograd: base projection + stacked expert delta, one projection at a time."""

    name = "reference"

    def router_logits(self, router, x: torch.Tensor) -> torch.Tensor:
        """[N, E] fp32 logits for the flat tokens ``x`` [N, d]."""
        return router.logits(x)

    def mlp(self, layer, x: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        """The SwiGLU MLP of ``layer`` with each token's expert deltas: [N, d] -> [N, d]."""
        block_gates = layer.block_gates(gates)  # once for the three projections
        act = layer.base_mlp.act_fn(self.projection(layer, "gate_proj", x, gates, block_gates))
        act = act * self.projection(layer, "up_proj", x, gates, block_gates)
        return self.projection(layer, "down_proj", act, gates, block_gates)

    @staticmethod
    def projection(layer, name: str, x: torch.Tensor, gates: torch.Tensor,
                   block_gates: torch.Tensor | None = None) -> torch.Tensor:
        out = getattr(layer.base_mlp, name)(x)
        if name in layer.experts:
            out = out + layer.experts[name](x, gates, block_gates).to(out.dtype)
        return out


REFERENCE_OPERATOR = ExpertOperator()
