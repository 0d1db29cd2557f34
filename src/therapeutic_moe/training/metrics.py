"""What the trainer measures: the interval accumulators, validation, routing metrics."""

from __future__ import annotations

import hashlib
import math
import time

import torch

from therapeutic_moe.evaluation.scoring import BatchLayout, score_examples
from therapeutic_moe.moe import RoutingStats

AUX_TERMS = (("load_balancing_loss", "lb"), ("router_z_loss", "z"), ("domain_routing_loss", "dom"))


class Interval:
    """Sums since the last log line. Device tensors accumulate here and reach the host only at
    logging time (one all-reduce when distributed), so a step adds no host sync."""

    def __init__(self, device: torch.device):
        zero = lambda: torch.zeros((), device=device)  # noqa: E731
        self.loss, self.lm_sum, self.lb, self.z, self.dom, self.grad_norm = (zero() for _ in range(6))
        self.tokens = self.all_tokens = self.steps = 0
        self.has_dom = False
        self.t0 = time.monotonic()

    def add_micro_batch(self, out: dict, weight: float, window: int) -> None:
        """One micro-batch's losses; ``weight`` 0 for a rank's padding pass, router losses averaged over the window."""
        self.loss += out["loss"].detach() * weight
        for key, short in AUX_TERMS:
            if key in out:
                setattr(self, short, getattr(self, short) + out[key] * weight / window)
        self.has_dom |= "domain_routing_loss" in out

    def add_step(self, lm_sum: torch.Tensor, grad_norm: torch.Tensor, trained: int, real: int) -> None:
        self.lm_sum += lm_sum
        self.grad_norm += grad_norm.detach()
        self.tokens += trained
        self.all_tokens += real
        self.steps += 1

    def sums(self) -> torch.Tensor:
        return torch.stack([self.loss, self.lm_sum, self.lb, self.z, self.dom])


def routing_metrics(summary: dict, domains: list[str], prefix: str = "moe") -> dict:
    if not summary:
        return {}
    out = {f"{prefix}/routing_entropy": summary["routing_entropy"], f"{prefix}/token_entropy": summary["token_entropy"],
           f"{prefix}/dead_experts": summary["dead_experts"]}
    for e, name in enumerate(domains):
        out[f"{prefix}/usage/{name}"] = summary["usage_overall"][e]
        for layer, row in enumerate(summary["usage_per_layer"]):
            out[f"{prefix}/usage/layer_{layer:02d}/{name}"] = row[e]
    for key in ("domain_accuracy", "domain_vote_accuracy", "routing_nmi"):
        if key in summary:
            out[f"{prefix}/{key}"] = summary[key]
    return out


def evaluate(model, examples, hw, cfg, pad_id: int, packing: bool, forward=None) -> dict:
    """Validation loss on therapist tokens, plus routing statistics and domain accuracy, through
    the one evaluation routine (``forward``: the wrapped model under FSDP)."""
    if not examples:
        return {}
    stats = RoutingStats(len(model.moe_layers), model.moe_config.num_experts) if model.context is not None else None
    layout = BatchLayout(batch_size=cfg.per_device_eval_batch_size, max_seq_length=cfg.max_seq_length, packing=packing)
    scores = score_examples(model, examples, layout, pad_id=pad_id, device=hw.device, autocast=hw.autocast,
                            forward=forward, stats=stats)
    val_loss = float(scores.loss_sum / scores.n_tokens.clamp(min=1))
    metrics = {"val/loss": val_loss, "val/perplexity": math.exp(min(val_loss, 50)), "val/tokens": int(scores.n_tokens)}
    summary = stats.summary() if stats is not None else {}
    for key in ("domain_accuracy", "domain_vote_accuracy"):
        if key in summary:
            metrics[f"val/{key}"] = summary[key]
    if summary:
        metrics["val/routing_entropy"] = summary["routing_entropy"]
    return metrics | {"_routing": summary}


def fingerprint(examples) -> str:
    """A short hash of the training windows: a resume on other data says so."""
    h = hashlib.sha256()
    for e in examples:
        h.update(len(e.input_ids).to_bytes(4, "little"))
        h.update(bytes(str(e.input_ids[:8]), "ascii"))
    return h.hexdigest()[:16]
