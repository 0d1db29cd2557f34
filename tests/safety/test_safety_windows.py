"""The semantic detector's multi-turn window: what it reads, which score counts, and the
windows the training script builds from single messages."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from therapeutic_moe.safety.corpus import CorpusItem
from therapeutic_moe.safety.semantic import TURN_SEPARATOR, WINDOW_TURNS, SemanticCrisisDetector, SemanticScore, window_text

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
train_crisis_head = importlib.import_module("train_crisis_head")


def test_window_is_the_last_turns_oldest_first():
    turns = ["one", "two", "three", "four"]
    assert window_text(turns) == TURN_SEPARATOR.join(turns[-WINDOW_TURNS:])
    assert window_text(["alone"]) == "alone"


class _ScriptedDetector(SemanticCrisisDetector):
    """The real decision logic over scores given per text (no encoder)."""

    def __init__(self, by_text: dict[str, float], threshold: float = 0.9):
        from types import SimpleNamespace
        self.model = SimpleNamespace(threshold=threshold)
        self.by_text, self.seen = by_text, []

    def scores(self, texts):
        self.seen.append(list(texts))
        return [SemanticScore(self.by_text.get(t, 0.0), "plan_time_place", "ordinary") for t in texts]


def test_the_window_is_scored_with_the_latest_turn_and_the_higher_score_counts():
    turns = ["I've worked out how", "after my shift tomorrow then"]
    detector = _ScriptedDetector({window_text(turns): 0.97})
    found = detector.assess_turns(turns)
    assert detector.seen == [[turns[-1], window_text(turns)]]  # one encoder batch
    assert found.is_crisis and found.matched_rules == ("semantic.turns.plan_time_place",)
    quiet = _ScriptedDetector({turns[-1]: 0.5, window_text(turns): 0.6})
    assert not quiet.assess_turns(turns).is_crisis


def test_a_single_turn_is_scored_alone():
    detector = _ScriptedDetector({"I have the pills here": 0.95})
    assert detector.assess_turns(["I have the pills here"]).matched_rules == ("semantic.plan_time_place",)
    assert detector.seen == [["I have the pills here"]]


def test_context_windows_keep_labels_before_and_after_a_crisis():
    originals = [CorpusItem("ordinary", (f"small talk {k}",)) for k in range(6)]
    originals += [CorpusItem("active_ideation", (f"crisis {k}",), "suicide") for k in range(6)]
    windows, origin = train_crisis_head.context_windows(originals, every=1)
    crisis_windows = [w for w in windows if w.group == "active_ideation"]
    before = [w for w in crisis_windows if w.turns[-1].startswith("crisis")]
    assert before and all(len(w.turns) in (2, 3) and all(t.startswith("small talk") for t in w.turns[:-1])
                          for w in before)
    after = [w for w in crisis_windows if not w.turns[-1].startswith("crisis")]
    # a harmless turn after a crisis message is still a crisis window, never a calm one
    assert after and all(w.is_crisis and w.turns[0].startswith("crisis") and w.turns[1].startswith("small talk")
                         for w in after)
    assert not [w for w in windows if w.group == "multi_turn_calm"]
    assert len(origin) == len(windows) and all(originals[k].text in w.turns for k, w in zip(origin, windows))
    ordinary = [w for w in windows if w.group == "ordinary"]
    assert ordinary and all(not w.is_crisis for w in ordinary)


def test_real_client_sessions_are_split_by_transcript_id_and_windows_follow_the_layer():
    from therapeutic_moe.safety.layer import USER_TURNS_WINDOW
    from therapeutic_moe.safety.real_text import client_windows, trains_the_head

    assert [trains_the_head(t) for t in (0, 1, 2, 7)] == [True, False, True, False]
    windows = client_windows([f"t{k}" for k in range(6)])
    assert windows[0] == ["t0"] and windows[-1] == [f"t{k}" for k in range(6)][-USER_TURNS_WINDOW:]
    assert all(w[-1] == f"t{k}" for k, w in enumerate(windows))


def test_real_text_reads_sessions_and_questions_with_their_ids(tmp_path):
    import json

    from therapeutic_moe.safety.real_text import EVERYDAY_TOPICS, annomi_sessions, counselchat_threads, names_no_danger

    (tmp_path / "annomi_high.json").write_text(json.dumps({"conversations": [
        {"text": "Therapist: hi\nClient: fine thanks\nTherapist: and?\nClient: work is a lot", "transcript_id": 4}]}))
    (tmp_path / "counselchat_train.json").write_text(json.dumps({"conversations": [
        {"text": "Client: How do I talk to my wife?\nTherapist: Try ...", "topic": "marriage", "question_id": 2},
        {"text": "Client: How do I talk to my wife?\nTherapist: Another answer", "topic": "marriage", "question_id": 2},
        {"text": "Client: I want to hurt myself\nTherapist: ...", "topic": "depression", "question_id": 3}]}))
    assert annomi_sessions(tmp_path) == [(4, ["fine thanks", "work is a lot"])]
    threads = counselchat_threads(tmp_path)
    assert threads == [(2, "marriage", "How do I talk to my wife?"), (3, "depression", "I want to hurt myself")]
    assert "marriage" in EVERYDAY_TOPICS and "depression" not in EVERYDAY_TOPICS
    assert names_no_danger(threads[0][2]) and not names_no_danger(threads[1][2])
