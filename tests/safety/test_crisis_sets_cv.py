"""The leave-sets-out comparison: how a fired verdict is counted, and the fold argument."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
cv = importlib.import_module("crisis_sets_cv")


def row(group, crisis, rules, p, name="a.json"):
    return {"set": name, "group": group, "crisis": crisis, "rules": rules, "baseline": p, "candidate": p}


def test_rates_count_rules_or_head_per_kind_of_item():
    rows = [row("self_harm", True, False, 0.9), row("plan_time_place", True, True, 0.1),
            row("typos", True, False, 0.2, "b.json"), row("ordinary", False, False, 0.8),
            row("venting", False, True, 0.0), row("idiom", False, False, 0.95, "b.json"), row("medication", False, False, 0.1)]
    r = cv.rates(rows, "candidate", 0.5)
    assert (r["found"], r["crises"]) == (2, 3) and r["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert (r["ordinary_false_alarms"], r["ordinary"]) == (2, 2)  # one by the head, one by the rules
    assert (r["hard_negative_false_alarms"], r["hard_negatives"]) == (1, 2)
    assert r["found_by_set"] == {"a.json": 2, "b.json": 0}
    assert cv.rates(rows, "candidate", 0.96)["found"] == 1  # only the rules' crisis is left


def test_window_probability_is_the_higher_of_message_and_window():
    class Fixed:
        def scores(self, texts):
            return [type("S", (), {"crisis_probability": 0.9 if " | " in t else 0.2})() for t in texts]

    p = cv.head_probabilities(Fixed(), [["alone"], ["before", "after"]])
    assert np.allclose(p, [0.2, 0.9])


def test_a_fold_needs_a_head_and_existing_sets(tmp_path):
    with pytest.raises(SystemExit, match="expected HEAD=SET"):
        cv.parse_fold("head.safetensors")
    with pytest.raises(SystemExit, match="is not a file"):
        cv.parse_fold(f"{tmp_path / 'missing.safetensors'}=crisis_corpus_blind6.json")
    head = tmp_path / "h.safetensors"
    head.write_bytes(b"x")
    found, sets = cv.parse_fold(f"{head}=crisis_corpus_blind6.json,crisis_corpus_blind7.json")
    assert found == head and [s.name for s in sets] == ["crisis_corpus_blind6.json", "crisis_corpus_blind7.json"]


def test_real_text_weight_scales_only_the_client_turns():
    head = importlib.import_module("train_crisis_head")
    classes = ["client_turn", "ordinary", "self_harm"]
    y = np.array([0] * 8 + [1] * 2 + [2] * 2)
    equal = head.class_weights(y, classes, head.HeadTraining(real_text_weight=1.0))
    assert np.allclose(equal * np.bincount(y), len(y) / 3)  # each group carries the same total weight
    weighted = head.class_weights(y, classes, head.HeadTraining(real_text_weight=4.0))
    assert weighted[0] == pytest.approx(4 * equal[0]) and np.allclose(weighted[1:], equal[1:])


def test_a_fold_head_leaves_its_sets_out_of_the_training_files(capsys):
    head = importlib.import_module("train_crisis_head")
    from therapeutic_moe.safety.corpus import CORPUS_DIR, TRAINING_FILES

    extra = (CORPUS_DIR / "crisis_corpus_blind14.json",)
    files = head.corpus_files(extra, (Path("crisis_corpus_blind6.json"), Path("crisis_corpus_blind7.json")))
    names = [f.name for f in files]
    assert "crisis_corpus_blind6.json" not in names and "crisis_corpus_blind7.json" not in names
    assert len(files) == len(TRAINING_FILES) + 1 - 2 and names[-1] == "crisis_corpus_blind14.json"
    assert head.run(["--check", "--leave-out", "crisis_corpus_blind15.json"]) == 2  # not a training file
    assert "not training files" in capsys.readouterr().err
