"""Measure the safety layer on its hand-written probe set (probes.json).

    python -m therapeutic_moe.safety.probe_eval            # table
    python -m therapeutic_moe.safety.probe_eval --json     # machine-readable
    python -m therapeutic_moe.safety.probe_eval --split heldout --show-errors

Message probes run through ``SafetyLayer.check_user_message`` (with their history, if
any); output probes through ``SafetyLayer.screen_output``. 'heldout' probes were split off
before the rules were written and must never be used to tune them.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from therapeutic_moe.errors import DataError
from therapeutic_moe.safety.layer import SafetyLayer

SPLITS = ("all", "dev", "heldout")
LEVELS = ("low", "moderate", "high")


def load_probes(path: str | Path | None = None) -> dict:
    """The probe file shipped with the package, or another file of the same shape."""
    try:
        if path is None:
            text = resources.files("therapeutic_moe.safety").joinpath("probes.json").read_text(encoding="utf-8")
            where = "therapeutic_moe/safety/probes.json"
        else:
            text, where = Path(path).read_text(encoding="utf-8"), str(path)
        data = json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path or 'probes.json'}: cannot read probe file ({exc}); fix or restore it") from exc
    if not isinstance(data, dict):
        raise DataError(f"{where}: must be a JSON object with 'messages' and 'outputs' lists")
    for key in ("messages", "outputs"):
        if not isinstance(data.get(key), list):
            raise DataError(f"{where}: top-level '{key}' must be a list of probes")
    for i, p in enumerate(data["messages"]):
        missing = {"id", "split", "crisis", "category", "level", "text"} - set(p)
        if missing:
            raise DataError(f"{where}: messages[{i}] lacks {sorted(missing)}")
    for i, p in enumerate(data["outputs"]):
        missing = {"id", "split", "unsafe", "text"} - set(p)
        if missing:
            raise DataError(f"{where}: outputs[{i}] lacks {sorted(missing)}")
    return data


def _rate(hits: int, total: int) -> float | None:
    return None if total == 0 else hits / total


def _messages_for(probe: dict) -> list[dict]:
    return [{"role": "user", "content": t} for t in probe.get("history", [])] + [
        {"role": "user", "content": probe["text"]}
    ]


def evaluate_probes(
    safety_cfg: Any = None, split: str = "all", probes: dict | None = None, with_errors: bool = False
) -> dict:
    """Recall on crisis probes (overall and per level), false-alarm rate on ordinary probes,
    and recall / false-positive rate of the output screen, for one split of the probe set."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    probes = probes or load_probes()
    layer = SafetyLayer(safety_cfg)
    chosen = [p for p in probes["messages"] if split == "all" or p["split"] == split]
    outputs = [p for p in probes["outputs"] if split == "all" or p["split"] == split]

    crisis_hits = {lvl: [0, 0] for lvl in LEVELS}
    category_right = level_right = 0
    ordinary = ordinary_alarms = 0
    errors = []
    for p in chosen:
        a = layer.check_user_message(_messages_for(p))
        if p["crisis"]:
            crisis_hits[p["level"]][1] += 1
            if a.is_crisis:
                crisis_hits[p["level"]][0] += 1
                category_right += bool(a.categories) and a.categories[0] == p["category"]
                level_right += a.level.value == p["level"]
            else:
                errors.append({"id": p["id"], "error": "missed", "expected": p["level"], "text": p["text"]})
        else:
            ordinary += 1
            if a.is_crisis:
                ordinary_alarms += 1
                errors.append({"id": p["id"], "error": "false_alarm", "got": a.level.value,
                               "rules": list(a.matched_rules), "text": p["text"]})

    unsafe = [p for p in outputs if p["unsafe"]]
    safe = [p for p in outputs if not p["unsafe"]]
    blocked_unsafe = 0
    for p in unsafe:
        if not layer.screen_output(p["text"]).allowed:
            blocked_unsafe += 1
        else:
            errors.append({"id": p["id"], "error": "output_missed", "text": p["text"]})
    blocked_safe = 0
    for p in safe:
        r = layer.screen_output(p["text"])
        if not r.allowed:
            blocked_safe += 1
            errors.append({"id": p["id"], "error": "output_false_block", "rules": list(r.reasons), "text": p["text"]})

    n_crisis = sum(t for _, t in crisis_hits.values())
    n_found = sum(h for h, _ in crisis_hits.values())
    result = {
        "split": split,
        "crisis_probes": n_crisis,
        "crisis_recall": _rate(n_found, n_crisis),
        "recall_by_level": {lvl: _rate(h, t) for lvl, (h, t) in crisis_hits.items()},
        "probes_by_level": {lvl: t for lvl, (_, t) in crisis_hits.items()},
        "category_accuracy_on_found": _rate(category_right, n_found),
        "level_accuracy_on_found": _rate(level_right, n_found),
        "ordinary_probes": ordinary,
        "false_alarm_rate": _rate(ordinary_alarms, ordinary),
        "unsafe_output_probes": len(unsafe),
        "output_screen_recall": _rate(blocked_unsafe, len(unsafe)),
        "safe_output_probes": len(safe),
        "output_screen_false_positive_rate": _rate(blocked_safe, len(safe)),
    }
    if with_errors:
        result["errors"] = errors
    return result


def _fmt(x: float | None) -> str:
    return "  n/a" if x is None else f"{x:5.3f}"


def format_table(results: list[dict]) -> str:
    rows = [
        ("crisis recall (all levels)", "crisis_recall", "crisis_probes"),
        ("  recall, high", ("recall_by_level", "high"), ("probes_by_level", "high")),
        ("  recall, moderate", ("recall_by_level", "moderate"), ("probes_by_level", "moderate")),
        ("  recall, low", ("recall_by_level", "low"), ("probes_by_level", "low")),
        ("category right (found)", "category_accuracy_on_found", None),
        ("level right (found)", "level_accuracy_on_found", None),
        ("false-alarm rate (ordinary)", "false_alarm_rate", "ordinary_probes"),
        ("output screen recall", "output_screen_recall", "unsafe_output_probes"),
        ("output screen false positives", "output_screen_false_positive_rate", "safe_output_probes"),
    ]

    def get(r, key):
        return r[key[0]][key[1]] if isinstance(key, tuple) else r[key]

    head = f"{'metric':32}" + "".join(f"{r['split']:>16}" for r in results)
    lines = [head, "-" * len(head)]
    for label, key, count in rows:
        cells = "".join(
            f"{_fmt(get(r, key)):>10} (n={get(r, count):>3})" if count else f"{_fmt(get(r, key)):>16}" for r in results
        )
        lines.append(f"{label:32}{cells}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m therapeutic_moe.safety.probe_eval",
        description="Recall and false-alarm rates of the crisis-safety layer on its probe set.",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--split", choices=SPLITS, help="only this split (default: all, dev and heldout side by side)")
    parser.add_argument("--probes", help="probe file to use instead of the packaged probes.json")
    parser.add_argument("--show-errors", action="store_true", help="list every missed or wrongly flagged probe")
    args = parser.parse_args(argv)
    try:
        probes = load_probes(args.probes)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    splits = [args.split] if args.split else list(SPLITS)
    results = [evaluate_probes(split=s, probes=probes, with_errors=args.show_errors) for s in splits]
    if args.json:
        print(json.dumps(results[0] if args.split else {r["split"]: r for r in results}, indent=2))
    else:
        print(format_table(results))
        if args.show_errors:
            for r in results:
                for e in r.get("errors", []):
                    print(f"[{r['split']}] {e['id']} {e['error']}: {e['text']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
