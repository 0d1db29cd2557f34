"""Routing state that moves with the optimizer: the aux-free selection bias and the step counter.

Auxiliary-loss-free balancing (DeepSeek-V3, arXiv:2412.19437, section 2.1.2): each expert has
a bias that is added to the router logits for *selection only*; after every optimizer step
an overloaded expert's bias goes down and an underloaded one's goes up by a fixed rate. The
gates stay the router's own probabilities, so the LM gradient is not distorted by a loss that
pulls toward uniform. ``after_optimizer_step(model)`` is the one call the trainer makes.
"""

from __future__ import annotations

import torch

from therapeutic_moe.moe.losses import mask_weights


@torch.no_grad()
def observe_load(router, topk_index: torch.Tensor, mask: torch.Tensor | None) -> None:
    """Add one training forward's top-k assignments per expert (real tokens only, no sync)."""
    counts = torch.zeros(topk_index.shape[0], router.num_experts, device=topk_index.device)
    counts.scatter_(1, topk_index, 1.0)
    load = (counts * mask_weights(mask, counts)).sum(0)
    router.observed_load = load if router.observed_load is None else router.observed_load + load


def _all_reduce(tensor: torch.Tensor) -> None:
    """Every process sees different tokens; the bias must move the same way on all of them."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(tensor)


@torch.no_grad()
def update_selection_bias(routers, rate: float) -> None:
    """b_e += rate · sign(mean load − load_e) per layer, from the load since the last update."""
    routers = [r for r in routers if r.selection_bias is not None]
    if not routers:
        return
    # A layer that saw no training forward since the last step (all processes must agree on
    # the tensor's shape for the all-reduce) counts zero load: no move for it.
    load = torch.stack([r.observed_load if r.observed_load is not None else torch.zeros_like(r.selection_bias)
                        for r in routers])  # [L, E]
    _all_reduce(load)
    seen = (load.sum(dim=1, keepdim=True) > 0).to(load.dtype)
    step = rate * torch.sign(load.mean(dim=1, keepdim=True) - load) * seen
    for router, delta in zip(routers, step):
        router.selection_bias += delta.to(router.selection_bias.device)
        router.observed_load = None


@torch.no_grad()
def after_optimizer_step(model) -> None:
    """Call once after every optimizer step: moves the aux-free biases and the step counters
    that the warm-ups read. A no-op for models whose routing does not depend on the step."""
    layers = getattr(model, "moe_layers", None) or []
    cfg = getattr(model, "moe_config", None)
    if not layers or cfg is None or not cfg.counts_steps:
        return
    routers = [layer.router for layer in layers]
    update_selection_bias(routers, cfg.aux_free_bias_rate)
    for router in routers:
        if router.routing_steps is not None:
            router.routing_steps += 1
