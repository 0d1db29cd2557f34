"""Auxiliary router losses. Every one is masked: padding tokens never count.

Inputs are flat over tokens: probs/logits [N, E], topk_index [N, k], mask [N] bool. Each loss
also takes a stack of layers in front ([L, N, E], ...) and then returns one value per layer:
the trainer computes every layer's losses with one set of operations (``moe/stacked.py``).
"""

from __future__ import annotations

import torch


def mask_weights(mask: torch.Tensor | None, like: torch.Tensor, token_dim: int = 0) -> torch.Tensor:
    """[N, 1] float weights (1 = real token). Masks are applied by weighting, never by boolean
    indexing: indexing makes the GPU tell the host how many tokens survived (a sync per layer).
    ``token_dim``: the dimension of ``like`` that counts the tokens (for a mask of None)."""
    if mask is None:
        return torch.ones(like.shape[token_dim], 1, dtype=like.dtype, device=like.device)
    return mask.reshape(-1, 1).to(like.dtype)


def load_balancing_loss(probs: torch.Tensor, topk_index: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Switch/Mixtral balance loss E · Σ_e f_e · P_e.

    f_e is the share of top-k assignments that went to expert e, P_e the mean router
    probability of e. Equals 1 for perfectly uniform routing; larger when unbalanced.
    Only P carries gradient (f comes from a discrete choice). No real token: exactly 0.
    """
    num_experts = probs.shape[-1]
    w = mask_weights(mask, probs, token_dim=-2)
    n = w.sum()
    assigned = torch.zeros_like(probs).scatter_(-1, topk_index, 1.0) * w
    f = assigned.sum(dim=-2) / (n * topk_index.shape[-1]).clamp(min=1e-9)
    p = (probs * w).sum(dim=-2) / n.clamp(min=1e-9)
    return num_experts * (f * p).sum(dim=-1)


def router_z_loss(logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """ST-MoE z-loss: mean(logsumexp(logits)²) keeps router logits small and stable."""
    z = torch.logsumexp(logits, dim=-1).square()
    w = mask_weights(mask, z, token_dim=-1).squeeze(1)
    return (z * w).sum(dim=-1) / w.sum().clamp(min=1e-9)


def sample_mean_probs(probs: torch.Tensor, sample_ids: torch.Tensor, num_samples: int) -> torch.Tensor:
    """Mean router probability per sample: [S, E]. sample_ids [N] in 0..S-1, -1 = padding."""
    valid = sample_ids >= 0
    ids = sample_ids.clamp(min=0)
    weights = valid.to(probs.dtype).unsqueeze(-1)
    sums = torch.zeros(*probs.shape[:-2], num_samples, probs.shape[-1], dtype=probs.dtype, device=probs.device)
    sums.index_add_(-2, ids, probs * weights)
    counts = torch.zeros(num_samples, dtype=probs.dtype, device=probs.device)
    counts.index_add_(0, ids, valid.to(probs.dtype))
    return sums / counts.clamp(min=1.0).unsqueeze(-1)


def domain_routing_loss(mean_probs: torch.Tensor, sample_domains: torch.Tensor,
                        class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy between each labelled sample's token-mean router probability and its
    domain's expert. Unlabelled samples (domain -1) do not count.

    ``class_weights`` [E] (optional) weighs each sample by its domain, e.g. inverse frequency,
    so that a minority domain is not ignored: with imbalanced labels the unweighted loss is
    cheapest to lower by sending everything to the majority domains' experts.
    """
    labelled = sample_domains >= 0  # no host sync: an all-unlabelled batch gives exactly 0
    target = sample_domains.clamp(min=0)
    picked = mean_probs.gather(-1, target.expand(mean_probs.shape[:-1]).unsqueeze(-1)).squeeze(-1)
    nll = -torch.log(picked.clamp(min=1e-9))
    w = labelled.to(nll.dtype)
    if class_weights is not None:
        w = w * class_weights.to(nll.dtype)[target]
    return (nll * w).sum(dim=-1) / w.sum().clamp(min=1e-9)


def domain_class_weights(domains: list[int], num_experts: int, device=None) -> torch.Tensor:
    """Inverse-frequency weight per domain, [E]: n / (D · n_d) over the D domains present, 0 for
    absent ones, so that every present domain carries the same total weight and a labelled
    sample weighs 1 on average."""
    counts = torch.zeros(num_experts, dtype=torch.float64)
    for d in domains:
        if d is not None and 0 <= d < num_experts:
            counts[d] += 1
    present = counts > 0
    weights = torch.zeros(num_experts, dtype=torch.float64)
    if present.any():
        weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights.to(device=device, dtype=torch.float32)
