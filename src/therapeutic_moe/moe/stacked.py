"""The router losses and routing statistics of every MoE layer, computed once per forward.

Each layer leaves its routing decision in the context (``RoutingContext.aux``); after the
decoder the logits, probabilities and choices of all layers are stacked ([L, N, E]) and each
loss is one set of operations over the stack instead of L separate ones (one per layer made
the router losses a large share of the operators of a step). A loss whose weight is 0 is not
computed at all. The numbers are those of the per-layer losses: the same reductions, per row.
"""

from __future__ import annotations

import torch

from therapeutic_moe.moe.losses import domain_routing_loss, load_balancing_loss, router_z_loss, sample_mean_probs


def router_losses(ctx, layers, cfg, domain_weight: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(weighted sum to add to the loss, detached values to log) from the routing collected in
    ``ctx.aux``; also feeds ``ctx.stats`` when it collects. Each logged loss is the mean over layers."""
    indices = sorted(ctx.aux)
    routings = [ctx.aux[i] for i in indices]
    probs = torch.stack([r.probs for r in routings])  # [L, N, E]
    topk = torch.stack([r.topk_index for r in routings])
    logged, total = {}, []
    if cfg.load_balancing_weight != 0:
        lb = warmed_up(load_balancing_loss(probs, topk, ctx.token_mask), [layers[i] for i in indices], cfg).mean()
        logged["load_balancing_loss"] = lb.detach()
        total.append(cfg.load_balancing_weight * lb)
    if cfg.router_z_loss_weight != 0:
        z = router_z_loss(torch.stack([r.logits for r in routings]), ctx.token_mask).mean()
        logged["router_z_loss"] = z.detach()
        total.append(cfg.router_z_loss_weight * z)
    sample_probs = per_sample_probs(ctx, probs)
    if sample_probs is not None and ctx.compute_domain_loss:
        dom = domain_routing_loss(sample_probs, ctx.sample_domains, ctx.domain_class_weights).mean()
        logged["domain_routing_loss"] = dom.detach()
        if domain_weight > 0:
            total.append(domain_weight * dom)
    if ctx.stats is not None:
        add_statistics(ctx, indices, probs.detach(), topk, None if sample_probs is None else sample_probs.detach())
    aux = sum_in_order(total, probs)
    logged["aux_loss"] = aux.detach()
    return aux, logged


def sum_in_order(terms: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    """lb + z + domain, added left to right as the per-layer code did (0 when none is computed)."""
    if not terms:
        return torch.zeros((), dtype=like.dtype, device=like.device)
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def warmed_up(lb: torch.Tensor, layers, cfg) -> torch.Tensor:
    """[L] balance losses with each layer's gradient scaled by its warm-up ramp; the values are
    unchanged, so the logged loss stays comparable across steps."""
    warmup = cfg.load_balancing_warmup_steps
    if warmup <= 0:
        return lb
    steps = torch.stack([layer.router.routing_steps for layer in layers])
    ramp = (steps / warmup).clamp(max=1.0).to(lb.dtype)
    return lb.detach() + ramp * (lb - lb.detach())


def per_sample_probs(ctx, probs: torch.Tensor) -> torch.Tensor | None:
    """[L, S, E] token-mean probabilities per sample, for the domain loss and the statistics;
    None when neither runs or the batch has no sample layout."""
    wanted = ctx.compute_domain_loss or ctx.stats is not None
    if not wanted or ctx.sample_ids is None or ctx.sample_domains is None or not ctx.sample_domains.numel():
        return None
    return sample_mean_probs(probs, ctx.sample_ids, ctx.sample_domains.shape[0])


@torch.no_grad()
def add_statistics(ctx, indices: list[int], probs, topk, sample_probs) -> None:
    """The routing statistics of each layer, in layer order (the model-level vote counts after the last)."""
    domains = token_domains(ctx)
    for row, layer_index in enumerate(indices):
        ctx.stats.add(layer_index, probs[row], topk[row], ctx.token_mask,
                      None if sample_probs is None else sample_probs[row], ctx.sample_domains, token_domains=domains)


def token_domains(ctx) -> torch.Tensor | None:
    """[N] the domain of each token's sample (-1: unlabelled or padding), for the statistics."""
    if ctx.sample_ids is None or ctx.sample_domains is None or not ctx.sample_domains.numel():
        return None
    ids = ctx.sample_ids
    domains = ctx.sample_domains.to(ids.device)[ids.clamp(min=0)]
    return torch.where(ids >= 0, domains, torch.full_like(domains, -1))
