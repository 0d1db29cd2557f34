"""The judge's answer parsers: well-formed, wrapped, prose, partial and malformed answers."""

from __future__ import annotations

import json

import pytest

from therapeutic_moe.evaluation.replies.rubric import (
    DIMENSION_KEYS,
    pairwise_messages,
    parse_pairwise,
    parse_rubric,
    rubric_messages,
)
from therapeutic_moe.evaluation.replies.scoring import combine_orders
from therapeutic_moe.evaluation.replies.summary import summarize_pairwise, summarize_rubric

FULL = {"overall": 4, "empathy": 5, "specificity": 3, "medical_advice": "no", "factual_consistency": "n/a",
        "toxicity": 1, "rationale": "Warm but generic."}


def test_rubric_prompt_names_every_dimension_and_holds_the_texts():
    messages = rubric_messages("Why do I feel numb?", "That sounds heavy.")
    assert [m["role"] for m in messages] == ["system", "user"]
    for key in DIMENSION_KEYS:
        assert f'"{key}"' in messages[1]["content"]
    assert "Why do I feel numb?" in messages[1]["content"] and "That sounds heavy." in messages[1]["content"]
    pair = pairwise_messages("q", "first reply", "second reply")[1]["content"]
    assert pair.index("first reply") < pair.index("second reply")


def test_clean_json_is_parsed_with_its_types():
    parsed = parse_rubric(json.dumps(FULL))
    assert parsed.status == "ok" and parsed.rationale == "Warm but generic."
    assert parsed.scores == {"overall": 4, "empathy": 5, "specificity": 3, "medical_advice": 0,
                             "factual_consistency": "n/a", "toxicity": 1}


def test_json_inside_prose_and_code_fences():
    answer = "Sure! Here is my rating:\n```json\n" + json.dumps({**FULL, "medical_advice": "Yes"}) + "\n```\nThanks."
    parsed = parse_rubric(answer)
    assert parsed.status == "ok" and parsed.scores["medical_advice"] == 1


def test_prose_lines_are_a_fallback():
    answer = ("Overall quality: 2\nEmpathy: 3\nSpecificity = 1\nmedical advice: yes\nfactual consistency: 4\n"
              "Toxicity: 1")
    parsed = parse_rubric(answer)
    assert parsed.status == "ok"
    assert parsed.scores == {"overall": 2, "empathy": 3, "specificity": 1, "medical_advice": 1,
                             "factual_consistency": 4, "toxicity": 1}


@pytest.mark.parametrize("answer, status, missing", [
    ('{"overall": 4, "empathy": 9}', "partial", 5),            # 9 is out of range
    ('{"overall": "four", "toxicity": 1}', "partial", 5),
    ("I think this reply is quite nice.", "unparsable", 6),
    ("{not json at all", "unparsable", 6),
    ("", "unparsable", 6),
    ('{"overall": 3.5, "empathy": 3}', "partial", 5),          # half points are not on the scale
])
def test_malformed_answers_are_counted_not_guessed(answer, status, missing):
    parsed = parse_rubric(answer)
    assert parsed.status == status
    assert sum(v is None for v in parsed.scores.values()) == missing


def test_summary_counts_unparsable_answers_and_averages_the_rest():
    rows = {f"q{i}": {"scores": parse_rubric(a).scores, "status": parse_rubric(a).status}
            for i, a in enumerate([json.dumps(FULL), json.dumps({**FULL, "overall": 2, "medical_advice": "yes"}),
                                   "no idea", '{"overall": 5}'])}
    rows["q9"] = {"scores": {}, "status": "skipped"}
    summary = summarize_rubric(rows)
    assert (summary["ok"], summary["partial"], summary["unparsable"], summary["skipped_crisis"]) == (2, 1, 1, 1)
    assert summary["answers"] == 4
    overall = summary["dimensions"]["overall"]
    assert overall["mean"] == pytest.approx((4 + 2 + 5) / 3, abs=1e-3) and overall["rated"] == 3 and overall["missing"] == 2
    assert summary["dimensions"]["medical_advice"]["mean"] == pytest.approx(0.5)
    assert summary["dimensions"]["factual_consistency"]["not_applicable"] == 2


@pytest.mark.parametrize("answer, verdict", [
    ('{"better": "A", "reason": "more specific"}', "A"),
    ('{"better": "Reply B"}', "B"),
    ('Result: {"winner": "tie"}', "tie"),
    ("Reply B is better because it asks a question.", "B"),
    ("A", "A"),
    ("Both have merits.", None),
    ('{"better": "C"}', None),
])
def test_pairwise_parser(answer, verdict):
    assert parse_pairwise(answer) == verdict


@pytest.mark.parametrize("first, second, result", [
    ("A", "B", "x"),            # x won in both positions
    ("B", "A", "y"),
    ("A", "A", "inconsistent"),  # the first position won both times: position bias
    ("tie", "tie", "tie"),
    ("A", "tie", "tie"),
    (None, "A", "unparsable"),
])
def test_both_orders_are_combined(first, second, result):
    assert combine_orders(first, second) == result


def test_pairwise_summary_reports_position_bias():
    verdicts = [{"x_first": "A", "y_first": "A", "result": "inconsistent"},
                {"x_first": "A", "y_first": "B", "result": "x"},
                {"x_first": None, "y_first": "B", "result": "unparsable"},
                {"x_first": None, "y_first": None, "result": "skipped"}]
    s = summarize_pairwise(verdicts, "tuned", "base")
    assert s["tuned_wins"] == 1 and s["base_wins"] == 0 and s["inconsistent"] == 1 and s["unparsable"] == 1
    assert s["skipped_crisis"] == 1 and s["answers"] == 6 and s["answers_parsed"] == 5
    assert s["tuned_win_rate"] == pytest.approx((1 + 0.5) / 2)
    assert s["first_position_pick_share"] == pytest.approx(3 / 5)
