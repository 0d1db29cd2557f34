"""`evaluate_model`: held-out loss/perplexity on therapist tokens, the base-model baseline,
routing statistics, domain-routing accuracy and perplexity by context length.

Reusable by the trainer: it takes a model and already tokenized examples, leaves the model's
train/eval mode and routing-statistics hook as it found them, and returns plain numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from therapeutic_moe.evaluation.base_only import base_model_only
from therapeutic_moe.evaluation.long_context import perplexity_by_length
from therapeutic_moe.evaluation.scoring import BatchLayout, score_examples
from therapeutic_moe.evaluation.targets import check_targets

DEAD_THRESHOLD = 0.1  # an expert is dead in a layer below a tenth of the balanced share 1/E


def _pad_id(tokenizer) -> int:
    pad = getattr(tokenizer, "pad_token_id", None)
    if pad is None:
        pad = getattr(tokenizer, "eos_token_id", None)
    return int(pad or 0)


def _domain(example) -> int:
    value = getattr(example, "domain", -1)
    return -1 if value is None else int(value)


def _totals(scores) -> dict:
    loss_sum = sum(s.loss_sum for s in scores)
    tokens = sum(s.n_tokens for s in scores)
    loss = loss_sum / tokens if tokens else None
    return {"loss": loss, "perplexity": math.exp(loss) if loss is not None else None, "tokens": tokens}


def _perplexities(scores) -> list:
    return [math.exp(s.loss_sum / s.n_tokens) if s.n_tokens else None for s in scores]


def _routing_summary(stats, expert_domains: list[str], n_labelled: int) -> dict:
    summary = stats.summary(dead_threshold=DEAD_THRESHOLD)
    if not summary:
        return {}
    e = len(expert_domains)
    usage = summary["usage_per_layer"]
    dead = [{"layer": layer, "expert": expert_domains[j]} for layer, row in enumerate(usage)
            for j, share in enumerate(row) if share < DEAD_THRESHOLD / e]
    out = {
        "expert_domains": list(expert_domains),
        "usage_per_layer": usage,
        "usage_overall": summary["usage_overall"],
        "usage_by_expert": dict(zip(expert_domains, summary["usage_overall"])),
        "routing_entropy": summary["routing_entropy"],
        "routing_entropy_max": summary["routing_entropy_max"],
        "token_entropy": summary["token_entropy"],
        "dead_experts": len(dead),
        "dead_expert_list": dead,
        "dead_threshold": f"share < {DEAD_THRESHOLD:g}/E in a layer",
        "labelled_samples": n_labelled,
    }
    if "routing_nmi" in summary:  # specialisation: normalised MI between token domain and chosen expert
        out["routing_nmi"], out["routing_nmi_per_layer"] = summary["routing_nmi"], summary["routing_nmi_per_layer"]
    if "domain_confusion" in summary:
        # Every layer votes once per labelled sample (router's mean probability, argmax).
        out["domain_confusion"] = summary["domain_confusion"]
        out["domain_accuracy"] = summary["domain_accuracy"]
        out["domain_accuracy_per_layer"] = summary["domain_accuracy_per_layer"]
        if "domain_vote_confusion" in summary:
            # One vote per sample: router probabilities averaged over all layers, then argmax.
            out["domain_vote_confusion"] = summary["domain_vote_confusion"]
            out["domain_vote_accuracy"] = summary["domain_vote_accuracy"]
    return out


def _by_context_length(model, seqs: Sequence, context_lengths: Sequence[int], *, adapted: bool, baseline: bool,
                       **options) -> list[dict]:
    """Perplexity-by-length rows of the adapted model, each with the base model's perplexity beside it."""
    rows = perplexity_by_length(model, seqs, context_lengths, **options) if adapted else None
    if not baseline:
        return rows
    with base_model_only(model):
        base_rows = perplexity_by_length(model, seqs, context_lengths, label="base ", **options)
    if rows is None:
        for row in base_rows:
            row["base_perplexity"] = row["perplexity"]
            row["perplexity"] = row["loss"] = None
        return base_rows
    for row, base_row in zip(rows, base_rows):
        row["base_perplexity"] = base_row["perplexity"]
    return rows


def evaluate_model(model, tokenizer, examples: Sequence, *, long_sequences: Sequence | None = None,
                   context_lengths: Sequence[int] = (), adapted: bool = True, baseline: bool = True,
                   max_batch_tokens: int = 16384, max_windows_per_length: int = 16,
                   same_tokens: bool = False, progress: bool = False) -> dict:
    """Evaluate ``model`` on tokenized ``examples`` (objects with input_ids, labels, domain, conv_id).

    ``adapted``: score the trained model (LoRA + experts) and collect routing statistics.
    ``baseline``: score the same tokens with adapters off and experts bypassed (the base model).
    ``long_sequences`` (whole tokenized conversations, default ``examples``) are cut into
    windows of each of ``context_lengths`` tokens for perplexity by context length;
    ``same_tokens``: every length scores the same tokens of the sessions that reach the longest.
    """
    from therapeutic_moe.moe import RoutingStats

    if not examples:
        raise ValueError("no examples to evaluate")
    pad_id = _pad_id(tokenizer)
    was_training = model.training
    ctx = model.context
    saved_stats = ctx.stats if ctx is not None else None
    expert_domains = list(model.moe_config.expert_domains) if model.moe_config is not None else []
    result: dict = {"examples": len(examples), "expert_domains": expert_domains,
                    "adapted": None, "base": None, "routing": None}
    lengths = [len(e.input_ids) for e in examples]
    conv_ids = [str(getattr(e, "conv_id", "")) for e in examples]
    per_example: dict = {"lengths": lengths, "conv_ids": conv_ids}
    layout = BatchLayout.for_token_budget(lengths, max_batch_tokens)

    def scores(stats=None, desc: str = "adapted") -> list:
        return score_examples(model, examples, layout, pad_id=pad_id, per_sample=True, stats=stats,
                              progress=progress, desc=desc).per_sample

    model.eval()
    try:
        with torch.no_grad():
            if adapted:
                stats = RoutingStats(ctx.num_layers, ctx.num_experts) if ctx is not None else None
                adapted_scores = scores(stats)
                result["adapted"] = _totals(adapted_scores)
                per_example["perplexity"] = _perplexities(adapted_scores)
                if stats is not None:
                    n_labelled = sum(1 for e in examples if _domain(e) >= 0)
                    result["routing"] = _routing_summary(stats, expert_domains, n_labelled)
            if baseline:
                with base_model_only(model):
                    base_scores = scores(desc="base")
                result["base"] = _totals(base_scores)
                per_example["base_perplexity"] = _perplexities(base_scores)
            if context_lengths:
                seqs = long_sequences if long_sequences is not None else examples
                result["by_context_length"] = _by_context_length(
                    model, seqs, context_lengths, adapted=adapted, baseline=baseline, pad_id=pad_id,
                    max_windows=max_windows_per_length, max_batch_tokens=max_batch_tokens, progress=progress,
                    same_tokens=same_tokens)
                result["context_length_mode"] = "same tokens" if same_tokens else "windows"
    finally:
        if ctx is not None:
            ctx.stats = saved_stats
        model.train(was_training)
    result["per_example"] = per_example
    # --base-only runs have no adapted numbers: the targets are then shown for the base model.
    result["targets_for"] = "adapted" if result["adapted"] else "base"
    main = result["adapted"] or result["base"] or {}
    routing = result["routing"] or {}
    note = "not measured: the base model has no router" if not adapted else "model has no experts"
    result["targets"] = check_targets(main.get("loss"), main.get("perplexity"), routing.get("usage_overall"),
                                      routing.get("routing_entropy"), no_routing_note=note)
    return result
