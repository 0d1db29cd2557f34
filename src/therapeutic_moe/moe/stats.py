"""Routing statistics, kept as device tensors so the hot path never syncs with the host."""

from __future__ import annotations

import math

import torch

from therapeutic_moe.moe.losses import mask_weights


class RoutingStats:
    """Accumulates per-layer expert usage, token entropy and domain confusion.

    Call ``reset()`` at each logging interval; ``summary()`` moves numbers to the host once.
    """

    def __init__(self, num_layers: int, num_experts: int):
        self.num_layers, self.num_experts = num_layers, num_experts
        self.reset()

    def reset(self) -> None:
        self.assign_counts: torch.Tensor | None = None  # [L, E] top-k assignments
        self.entropy_sum: torch.Tensor | None = None  # [L] sum of per-token router entropy
        self.tokens: torch.Tensor | None = None  # [L] valid tokens seen
        self.confusion: torch.Tensor | None = None  # [L, E_true, E_pred] labelled samples, per layer
        # The model-level decision: each sample's router probabilities averaged over all layers,
        # then argmax. Summed layer by layer during a forward, counted after the last layer.
        self.vote_confusion: torch.Tensor | None = None  # [E_true, E_pred]
        self._vote_sum: torch.Tensor | None = None
        # [L, D, E] top-k assignments of labelled tokens by their sample's domain: the joint
        # distribution behind the specialisation metric (normalised mutual information).
        self.domain_assignments: torch.Tensor | None = None

    def _lazy(self, device: torch.device) -> None:
        if self.assign_counts is None:
            L, E = self.num_layers, self.num_experts
            self.assign_counts = torch.zeros(L, E, device=device)
            self.entropy_sum = torch.zeros(L, device=device)
            self.tokens = torch.zeros(L, device=device)
            self.confusion = torch.zeros(L, E, E, device=device)
            self.vote_confusion = torch.zeros(E, E, device=device)
            self.domain_assignments = torch.zeros(L, E, E, device=device)

    @torch.no_grad()
    def add(self, layer: int, probs: torch.Tensor, topk_index: torch.Tensor, mask: torch.Tensor | None,
            sample_probs: torch.Tensor | None = None, sample_domains: torch.Tensor | None = None,
            token_domains: torch.Tensor | None = None) -> None:
        self._lazy(probs.device)
        # Weighted by the mask rather than indexed with it: indexing would sync with the host.
        w = mask_weights(mask, probs).squeeze(1)
        assigned = torch.zeros_like(probs).scatter_(1, topk_index, 1.0) * w[:, None]
        self.assign_counts[layer] += assigned.sum(0)
        if token_domains is not None:
            # One-hot domain per token (all zero when unlabelled), times its assignments.
            labelled = (token_domains >= 0).to(probs.dtype)
            onehot = torch.zeros_like(probs).scatter_(1, token_domains.clamp(min=0).unsqueeze(1), 1.0)
            self.domain_assignments[layer] += (onehot * labelled[:, None]).t() @ assigned
        ent = -(probs * probs.clamp(min=1e-9).log()).sum(-1)
        self.entropy_sum[layer] += (ent * w).sum()
        self.tokens[layer] += w.sum()
        if sample_probs is not None and sample_domains is not None:
            labelled = sample_domains >= 0
            self._count(self.confusion[layer], sample_probs, sample_domains, labelled)
            # Layers run in order 0..L-1 in every forward, so layer 0 starts a new vote.
            self._vote_sum = sample_probs.clone() if layer == 0 or self._vote_sum is None else self._vote_sum + sample_probs
            if layer == self.num_layers - 1:
                self._count(self.vote_confusion, self._vote_sum, sample_domains, labelled)
                self._vote_sum = None

    def _count(self, confusion: torch.Tensor, probs: torch.Tensor, domains: torch.Tensor, labelled: torch.Tensor) -> None:
        idx = domains.clamp(min=0) * self.num_experts + probs.argmax(-1)
        confusion.view(-1).index_add_(0, idx, labelled.to(confusion.dtype))

    def summary(self, dead_threshold: float = 0.1) -> dict:
        """Host-side numbers. An expert is dead in a layer when its share of assignments is
        below ``dead_threshold / E`` (a tenth of the uniform share by default)."""
        if self.assign_counts is None or float(self.tokens.sum()) == 0:
            return {}
        counts = self.assign_counts.double().cpu()
        usage = counts / counts.sum(-1, keepdim=True).clamp(min=1)  # [L, E]
        overall = counts.sum(0) / counts.sum().clamp(min=1)
        def entropy(p: torch.Tensor) -> float:
            p = p[p > 0]
            return float(-(p * p.log()).sum())
        layer_entropy = [entropy(usage[i]) for i in range(usage.shape[0])]
        out = {
            "usage_per_layer": usage.tolist(),
            "usage_overall": overall.tolist(),
            # Entropy of the expert-usage distribution (nats): how diverse selection is.
            # Max is ln(E) (1.386 for 4 experts); the guide's target is > 1.0.
            "routing_entropy": sum(layer_entropy) / len(layer_entropy),
            "routing_entropy_max": math.log(self.num_experts),
            "token_entropy": float((self.entropy_sum.cpu() / self.tokens.cpu().clamp(min=1)).mean()),
            "dead_experts": int((usage < dead_threshold / self.num_experts).sum()),
        }
        joint = self.domain_assignments.double().cpu()
        if float(joint.sum()) > 0:
            nmi = [normalized_mutual_information(j) for j in joint]
            out["routing_nmi_per_layer"] = nmi
            out["routing_nmi"] = sum(nmi) / len(nmi)
        per_layer = self.confusion.double().cpu()
        conf = per_layer.sum(0)
        if float(conf.sum()) > 0:
            out["domain_confusion"] = conf.tolist()
            out["domain_accuracy"] = float(conf.diag().sum() / conf.sum())
            out["domain_accuracy_per_layer"] = [float(c.diag().sum() / c.sum().clamp(min=1)) for c in per_layer]
            vote = self.vote_confusion.double().cpu()
            if float(vote.sum()) > 0:
                out["domain_vote_confusion"] = vote.tolist()
                out["domain_vote_accuracy"] = float(vote.diag().sum() / vote.sum())
        return out


def normalized_mutual_information(joint: torch.Tensor) -> float:
    """NMI of a [D, E] count table (domain × chosen expert): I(D; E) / ((H(D) + H(E)) / 2),
    sklearn's default ("arithmetic") normalisation. 0: expert choice says nothing about the
    domain; 1: each domain has its own experts. 0 when either side has a single value."""
    p = joint / joint.sum().clamp(min=1e-12)
    pd, pe = p.sum(1), p.sum(0)

    def entropy(q: torch.Tensor) -> float:
        q = q[q > 0]
        return float(-(q * q.log()).sum())

    nz = p > 0
    mi = float((p[nz] * (p[nz] / (pd[:, None] * pe[None, :])[nz]).log()).sum())
    denom = (entropy(pd) + entropy(pe)) / 2
    return max(0.0, mi / denom) if denom > 0 else 0.0
