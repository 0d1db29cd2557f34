"""evaluate_model on a tiny model: exact loss bookkeeping, baseline, routing, long context, targets."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from conftest import tiny_cfg, tiny_llama
from therapeutic_moe.evaluation.evaluate import evaluate_model
from therapeutic_moe.evaluation.long_context import context_windows
from therapeutic_moe.evaluation.targets import check_targets
from therapeutic_moe.modeling import wrap_model
from therapeutic_moe.moe import RoutingStats


class Tok:
    pad_token_id = 0
    eos_token_id = 2


def example(seed, length, domain=-1, prompt=4):
    """A counting sequence from a seeded start: learnable in a few steps, unlike random tokens."""
    ids = [3 + (seed * 7 + k) % 90 for k in range(length)]
    labels = [-100] * prompt + ids[prompt:]
    return SimpleNamespace(input_ids=ids, labels=labels, domain=domain, conv_id=f"c{seed}")


EXAMPLES = [example(i, n, domain=i % 4) for i, n in enumerate([20, 33, 17, 40, 25, 12])]


@pytest.fixture(scope="module")
def model():
    """Trained once for the module: evaluate_model leaves the model as it found it."""
    return trained()


def trained(steps=12, seed=0):
    """A few steps on the evaluation examples themselves, so the adapters clearly lower their loss."""
    model = wrap_model(tiny_llama(seed=seed), tiny_cfg(), "tiny")
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-2)
    for step in range(steps):
        e = EXAMPLES[step % len(EXAMPLES)]
        ids = torch.tensor([e.input_ids])
        out = model.forward_loss({"input_ids": ids, "labels": torch.tensor([e.labels]),
                                  "attention_mask": torch.ones_like(ids)})
        out["loss"].backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    return model


def reference_loss(base, examples):
    """Summed CE over labelled next tokens with the plain HF model, one example at a time."""
    total, count = 0.0, 0
    with torch.no_grad():
        for e in examples:
            logits = base(input_ids=torch.tensor([e.input_ids])).logits[0, :-1]
            targets = torch.tensor(e.labels[1:])
            keep = targets != -100
            total += float(F.cross_entropy(logits[keep], targets[keep], reduction="sum"))
            count += int(keep.sum())
    return total / count, count


def test_losses_are_exact_and_the_baseline_is_the_untouched_base_model(model):
    result = evaluate_model(model, Tok(), EXAMPLES, max_batch_tokens=64)
    adapted, base = result["adapted"], result["base"]
    assert adapted["perplexity"] == pytest.approx(math.exp(adapted["loss"]))
    assert base["perplexity"] == pytest.approx(math.exp(base["loss"]))
    ref_base, count = reference_loss(tiny_llama(seed=0), EXAMPLES)
    assert adapted["tokens"] == base["tokens"] == count
    assert base["loss"] == pytest.approx(ref_base, rel=1e-5)
    ref_adapted, _ = reference_loss(model, EXAMPLES)  # TherapeuticMoEModel.forward gives HF logits
    assert adapted["loss"] == pytest.approx(ref_adapted, rel=1e-5)
    assert adapted["loss"] < base["loss"] - 0.05  # the adapters learned these examples
    per = result["per_example"]
    assert len(per["perplexity"]) == len(per["lengths"]) == len(EXAMPLES)


def test_routing_numbers_and_domain_confusion(model):
    result = evaluate_model(model, Tok(), EXAMPLES, baseline=False)
    routing = result["routing"]
    assert len(routing["usage_per_layer"]) == 2 and all(len(r) == 4 for r in routing["usage_per_layer"])
    assert sum(routing["usage_overall"]) == pytest.approx(1.0)
    assert list(routing["usage_by_expert"]) == ["psychology", "mental_health", "bias_detection", "general_therapeutic"]
    assert 0 <= routing["routing_entropy"] <= routing["routing_entropy_max"] == pytest.approx(math.log(4))
    assert routing["labelled_samples"] == len(EXAMPLES)
    confusion = torch.tensor(routing["domain_confusion"])
    assert confusion.sum() == len(EXAMPLES) * 2  # every layer votes once per labelled example
    assert confusion.sum(1).tolist() == [4.0, 4.0, 2.0, 2.0]  # true-label rows: domains 0,1,2,3,0,1
    assert 0 <= routing["domain_accuracy"] <= 1
    assert result["base"] is None


def test_unlabelled_data_has_no_confusion_and_state_is_restored(model):
    model.train()
    sentinel = RoutingStats(2, 4)
    model.context.stats = sentinel
    unlabelled = [example(i, 20) for i in range(3)]
    result = evaluate_model(model, Tok(), unlabelled, baseline=False)
    assert "domain_confusion" not in result["routing"] and result["routing"]["labelled_samples"] == 0
    assert model.training and model.context.stats is sentinel and model.context.bypass_experts is False
    model.context.stats = None
    model.eval()


def test_base_only_run_reports_targets_for_the_base_model(model):
    result = evaluate_model(model, Tok(), EXAMPLES, adapted=False)
    assert result["adapted"] is None and result["routing"] is None
    assert result["targets_for"] == "base"
    assert result["targets"][0]["value"] == result["base"]["loss"]


def test_context_windows_take_turns_over_the_longest_sessions():
    seqs = [example(1, 100), example(2, 30), example(3, 60)]
    windows = context_windows(seqs, 32, max_windows=10)
    assert [w.conv_id for w in windows] == ["c1", "c3", "c1", "c1"]
    assert all(len(w.input_ids) == 32 for w in windows)
    assert windows[2].input_ids == seqs[0].input_ids[32:64]
    assert [w.conv_id for w in context_windows(seqs, 32, max_windows=2)] == ["c1", "c3"]
    assert context_windows(seqs, 200, max_windows=5) == []


def test_perplexity_by_context_length_rows(model):
    seqs = [example(1, 100), example(2, 30), example(3, 70)]
    result = evaluate_model(model, Tok(), seqs, context_lengths=[16, 64, 500], max_windows_per_length=4)
    rows = {r["length"]: r for r in result["by_context_length"]}
    assert rows[16]["windows"] == 4 and rows[64]["windows"] == 2 and rows[64]["conversations"] == 2
    assert rows[500]["windows"] == 0 and rows[500]["perplexity"] is None and "no conversation" in rows[500]["note"]
    for length in (16, 64):
        assert rows[length]["perplexity"] == pytest.approx(math.exp(rows[length]["loss"]))
        assert rows[length]["base_perplexity"] > 0 and rows[length]["base_perplexity"] != rows[length]["perplexity"]


@pytest.mark.parametrize("loss, ppl, usage, entropy, expected", [
    (1.2, 2.2, [0.25, 0.25, 0.25, 0.25], 1.3, ["pass", "pass", "pass", "pass"]),
    (1.6, 4.9, [0.40, 0.20, 0.20, 0.20], 0.9, ["miss", "miss", "miss", "miss"]),
    (1.5, 2.5, [0.30, 0.20, 0.30, 0.20], 1.0, ["miss", "miss", "pass", "miss"]),  # bounds: strict <, >; band inclusive
    (None, None, None, None, ["n/a", "n/a", "n/a", "n/a"]),
])
def test_guide_targets(loss, ppl, usage, entropy, expected):
    rows = check_targets(loss, ppl, usage, entropy)
    assert [r["status"] for r in rows] == expected
    assert [r["metric"] for r in rows][:2] == ["loss", "perplexity"]


def test_balance_band_scales_with_the_number_of_experts_and_says_so():
    rows = check_targets(1.0, 2.0, [0.125] * 8, 2.0)
    share = rows[2]
    assert share["status"] == "pass" and share["target"] == "10%-15%" and "E=8" in share["note"]


def test_attention_only_model_has_losses_but_no_routing():
    model = wrap_model(tiny_llama(seed=0), tiny_cfg(use_moe=False), "tiny")
    result = evaluate_model(model, Tok(), EXAMPLES[:3], context_lengths=[16])
    assert result["routing"] is None and result["expert_domains"] == []
    assert result["adapted"]["loss"] == pytest.approx(result["base"]["loss"])  # fresh LoRA B is zero
    assert result["targets"][2]["status"] == "n/a" and result["by_context_length"][0]["windows"] > 0


def test_same_token_mode_scores_the_same_tokens_at_every_length(model):
    from therapeutic_moe.evaluation.long_context import same_token_spans

    seqs = [example(1, 100), example(2, 30), example(3, 70)]
    spans = same_token_spans(seqs, [16, 64], max_sessions=5)
    assert [s.conv_id for s in spans] == ["c1", "c3"]  # c2 is shorter than 64
    assert all(len(s.input_ids) == 64 and all(s.labels[i] == -100 for i in range(0, 64, 16)) for s in spans)
    result = evaluate_model(model, Tok(), seqs, context_lengths=[16, 32, 64], same_tokens=True, baseline=False)
    rows = result["by_context_length"]
    assert result["context_length_mode"] == "same tokens"
    assert [r["windows"] for r in rows] == [8, 4, 2] and len({r["tokens"] for r in rows}) == 1
    assert rows[0]["tokens"] > 0 and rows[0]["loss"] != rows[2]["loss"]
    # no session reaches the longest length: every row is empty and says why
    too_long = evaluate_model(model, Tok(), seqs, context_lengths=[16, 200], same_tokens=True, baseline=False)
    assert all(r["windows"] == 0 and "200 tokens" in r["note"] for r in too_long["by_context_length"])
