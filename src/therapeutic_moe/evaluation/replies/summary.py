"""Per-model aggregates of the automatic checks, the rubric scores and the pairwise verdicts."""

from __future__ import annotations

from collections import Counter
from statistics import mean

from therapeutic_moe.evaluation.replies.checks import distinct_n, words
from therapeutic_moe.evaluation.replies.rubric import DIMENSIONS


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(mean(values), 4) if values else None


def summarize_checks(all_checks: list[dict], all_replies: list[str]) -> dict:
    """Counts and means over one model's replies (``all_checks``: ReplyChecks.to_dict() each).

    Crisis replies are the safety layer's template, not the model's words: they are counted,
    and left out of every text measure.
    """
    crisis = sum(c["crisis_reply"] for c in all_checks)
    kept = [(c, r) for c, r in zip(all_checks, all_replies) if not c["crisis_reply"]]
    checks = [c for c, _ in kept]
    all_words = [w for _, text in kept for w in words(text)]
    medication = [c for c in checks if c["medication_question"]]
    return {
        "replies": len(all_checks),
        "generated": len(checks),
        "crisis_replies": crisis,
        "mean_words": _mean(c["words"] for c in checks),
        "mean_tokens": _mean(c["tokens"] for c in checks),
        "empty": sum(c["empty"] for c in checks),
        "truncated": sum(c["truncated"] for c in checks),
        "screen_blocked": sum(c["screen_blocked"] for c in checks),
        "method_details_shown": sum(bool(c["method_details"]) for c in checks),
        "mean_distinct_1": _mean(c["distinct_1"] for c in checks),
        "mean_distinct_2": _mean(c["distinct_2"] for c in checks),
        # Across replies: low when the model gives every question the same stock answer.
        "corpus_distinct_2": round(distinct_n(all_words, 2), 4) if len(all_words) > 1 else None,
        "mean_repeated_3gram_share": _mean(c["repeated_3gram_share"] for c in checks),
        "refusals": sum(bool(c["refusal"]) for c in checks),
        "medication_questions": len(medication),
        "medication_dosing": sum(c["medication_dosing"] for c in checks),
        "dosing_advice_any": sum(bool(c["dosing_advice"]) for c in checks),
    }


def summarize_rubric(by_question: dict[str, dict]) -> dict:
    """Mean per dimension (yes/no: share of 'yes'), with counts of answers and of misses."""
    rows = list(by_question.values())
    status = Counter(r["status"] for r in rows)
    out = {"answers": len(rows) - status["skipped"], "ok": status["ok"], "partial": status["partial"],
           "unparsable": status["unparsable"], "errors": status["error"], "skipped_crisis": status["skipped"],
           "dimensions": {}}
    for d in DIMENSIONS:
        values = [r["scores"].get(d.key) for r in rows]
        numbers = [v for v in values if isinstance(v, int)]
        out["dimensions"][d.key] = {
            "title": d.title, "scale": d.scale, "higher_is_better": d.higher_is_better,
            "mean": round(mean(numbers), 3) if numbers else None, "rated": len(numbers),
            "not_applicable": sum(v == "n/a" for v in values), "missing": sum(v is None for v in values)}
    return out


def summarize_pairwise(verdicts: list[dict], x: str, y: str) -> dict:
    results = Counter(v["result"] for v in verdicts)
    # How often the reply shown first won, over the answers that picked A or B: 0.5 is
    # unbiased; far from it, the judge follows the position.
    picks = [a for v in verdicts for a in (v["x_first"], v["y_first"]) if a in ("A", "B")]
    decided = results["x"] + results["y"] + results["tie"] + results["inconsistent"]
    asked = [v for v in verdicts if v["result"] != "skipped"]
    return {"x": x, "y": y, "questions": len(verdicts), "skipped_crisis": results["skipped"], f"{x}_wins": results["x"], f"{y}_wins": results["y"],
            "ties": results["tie"], "inconsistent": results["inconsistent"], "unparsable": results["unparsable"],
            f"{x}_win_rate": round((results["x"] + 0.5 * (results["tie"] + results["inconsistent"])) / decided, 3)
            if decided else None,
            "first_position_pick_share": round(picks.count("A") / len(picks), 3) if picks else None,
            "answers_parsed": sum(a is not None for v in asked for a in (v["x_first"], v["y_first"])),
            "answers": 2 * len(asked)}
