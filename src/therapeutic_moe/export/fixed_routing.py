"""Run a loaded MoE model with fixed gates instead of its routers (to check an export)."""

from __future__ import annotations

from contextlib import contextmanager

import torch

from therapeutic_moe.moe.router import Routing


def _fixed(vector: torch.Tensor, top_k: int, n: int, dtype: torch.dtype) -> Routing:
    gate = vector.to(torch.promote_types(dtype, torch.float32)).expand(n, -1)
    index = vector.topk(top_k).indices.expand(n, -1)
    return Routing(logits=torch.zeros_like(gate), probs=gate, topk_index=index, gates=gate)


@contextmanager
def fixed_routing(model, gates: list[list[float]]):
    """Inside the block every MoE layer uses ``gates[layer]`` for every token (top-k ignored).

    The router's decision step is replaced: ``route(logits)`` where the router has one (every
    expert operator ends there), else its whole ``forward``.
    """
    saved = []
    for layer in model.moe_layers:
        router = layer.router
        vector = torch.tensor(gates[layer.layer_index], dtype=torch.float32, device=router.weight.device)
        name = "route" if hasattr(router, "route") else "forward"

        def replacement(tensor, _v=vector, _k=router.top_k):
            return _fixed(_v, _k, tensor.shape[0], tensor.dtype)

        saved.append((router, name))
        setattr(router, name, replacement)
    try:
        yield model
    finally:
        for router, name in saved:
            delattr(router, name)  # the instance attribute hides the class method; drop it
