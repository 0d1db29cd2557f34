"""Compare crisis heads on blind sets they never trained on, set by set (leave sets out).

    python scripts/crisis_sets_cv.py \\
        --fold runs/heads/f67.safetensors=crisis_corpus_blind6.json,crisis_corpus_blind7.json \\
        --fold runs/heads/f89.safetensors=crisis_corpus_blind8.json,crisis_corpus_blind9.json ... \\
        --audit runs/heads/all.safetensors --out bench/results/heads.json

Each ``--fold HEAD=SETS`` names a head and the blind sets it did not train on; those sets are
scored with it. Every set is scored with the baseline head (default: the shipped one) too, so
both arms read the same items. A message is a crisis when the rules say so or the head's crisis
probability (the latest message alone, or its window with the user turns before it, the higher)
reaches the threshold; each threshold of the grid is reported, pooled over all the sets, so a
threshold can be chosen on several sets written by different people rather than on one.
``--audit HEAD`` also counts, per threshold, the real client texts the head flags (the audit
halves of AnnoMI and counsel-chat, which no head trained on). Only counts are printed and stored.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from therapeutic_moe.safety.corpus import CORPUS_DIR, load_corpus
from therapeutic_moe.safety.crisis_detector import CrisisDetector
from therapeutic_moe.safety.layer import USER_TURNS_WINDOW
from therapeutic_moe.safety.semantic import MODEL_FILE, CrisisModel, SemanticCrisisDetector, scored_texts

sys.path.insert(0, str(Path(__file__).resolve().parent))
from safety_eval import ORDINARY_GROUPS, real_client_windows  # noqa: E402

THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.30, 0.96, 0.05))


def head_probabilities(detector: SemanticCrisisDetector, windows: list[list[str]]) -> np.ndarray:
    """Per window, the crisis probability the layer would act on (as SemanticCrisisDetector.assess_turns)."""
    texts, owner = [], []
    for k, turns in enumerate(windows):
        scored = scored_texts(turns)
        texts += scored
        owner += [k] * len(scored)
    p = np.zeros(len(windows))
    for o, score in zip(owner, detector.scores(texts)):
        p[o] = max(p[o], score.crisis_probability)
    return p


def set_rows(path: Path, rules: CrisisDetector, heads: dict[str, SemanticCrisisDetector]) -> list[dict]:
    """One row per item: its group, whether it is a crisis, the rules' verdict and each head's probability."""
    items = load_corpus(path)
    windows = [list(i.turns[-USER_TURNS_WINDOW:]) for i in items]
    probs = {name: head_probabilities(det, windows) for name, det in heads.items()}
    return [{"set": path.name, "group": i.group, "crisis": i.is_crisis, "rules": rules.assess_turns(w, window=USER_TURNS_WINDOW).is_crisis,
             **{name: float(p[k]) for name, p in probs.items()}} for k, (i, w) in enumerate(zip(items, windows))]


def rates(rows: list[dict], arm: str, t: float) -> dict:
    fired = np.array([r["rules"] or r[arm] >= t for r in rows], dtype=bool)
    crisis = np.array([r["crisis"] for r in rows], dtype=bool)
    ordinary = np.array([r["group"] in ORDINARY_GROUPS for r in rows], dtype=bool)
    hard = ~crisis & ~ordinary
    by_set = {s: int((fired & crisis)[[r["set"] == s for r in rows]].sum()) for s in sorted({r["set"] for r in rows})}
    return {"recall": round(float(fired[crisis].mean()), 4), "found": int((fired & crisis).sum()), "crises": int(crisis.sum()),
            "ordinary_false_alarms": int((fired & ordinary).sum()), "ordinary": int(ordinary.sum()),
            "hard_negative_false_alarms": int((fired & hard).sum()), "hard_negatives": int(hard.sum()), "found_by_set": by_set}


def audit_counts(detector: SemanticCrisisDetector, rules: CrisisDetector) -> dict:
    """Per real source: texts, flagged by the rules, and by rules or head per threshold."""
    out = {}
    for name, windows in real_client_windows().items():
        by_rules = np.array([rules.assess_turns(w, window=USER_TURNS_WINDOW).is_crisis for w in windows])
        p = head_probabilities(detector, windows)
        out[name] = {"texts": len(windows), "rules": int(by_rules.sum()),
                     "combined": {str(t): int((by_rules | (p >= t)).sum()) for t in THRESHOLDS}}
    return out


def parse_fold(spec: str) -> tuple[Path, list[Path]]:
    head, _, sets = spec.partition("=")
    if not sets:
        raise SystemExit(f"--fold {spec!r}: expected HEAD=SET[,SET...]")
    paths = [Path(s) if Path(s).exists() else CORPUS_DIR / s for s in sets.split(",")]
    for p in [Path(head), *paths]:
        if not p.is_file():
            raise SystemExit(f"--fold {spec!r}: {p} is not a file")
    return Path(head), paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fold", action="append", required=True, metavar="HEAD=SETS",
                        help="a head file and the comma-separated blind sets it never trained on (repeatable)")
    parser.add_argument("--baseline", type=Path, default=MODEL_FILE, help="the head every set is also scored with")
    parser.add_argument("--audit", type=Path, action="append", default=[], metavar="HEAD",
                        help="also count this head's flags on the real client text audit halves (repeatable)")
    parser.add_argument("--out", type=Path, help="write the counts as JSON here")
    args = parser.parse_args(argv)
    rules = CrisisDetector()
    baseline = SemanticCrisisDetector(CrisisModel.load(args.baseline))
    rows = []
    for head, sets in map(parse_fold, args.fold):
        candidate = SemanticCrisisDetector(CrisisModel.load(head))
        for path in sets:
            rows += set_rows(path, rules, {"baseline": baseline, "candidate": candidate})
            print(f"scored {path.name} with {args.baseline.name} and {head.name}", flush=True)
    report = {"sets": sorted({r["set"] for r in rows}),
              "thresholds": {str(t): {arm: rates(rows, arm, t) for arm in ("baseline", "candidate")} for t in THRESHOLDS}}
    print("| threshold | baseline recall | candidate recall | baseline ordinary FA | candidate ordinary FA "
          "| baseline hard-negative FA | candidate hard-negative FA |")
    print("|---|---|---|---|---|---|---|")
    for t, arms in report["thresholds"].items():
        b, c = arms["baseline"], arms["candidate"]
        print(f"| {t} | {b['recall']:.3f} ({b['found']}/{b['crises']}) | {c['recall']:.3f} ({c['found']}/{c['crises']}) "
              f"| {b['ordinary_false_alarms']}/{b['ordinary']} | {c['ordinary_false_alarms']}/{c['ordinary']} "
              f"| {b['hard_negative_false_alarms']}/{b['hard_negatives']} | {c['hard_negative_false_alarms']}/{c['hard_negatives']} |")
    report["audit"] = {}
    for head in [args.baseline, *args.audit]:
        report["audit"][head.name] = audit_counts(SemanticCrisisDetector(CrisisModel.load(head)), rules)
        for name, counts in report["audit"][head.name].items():
            print(f"audit {head.name}, {name} ({counts['texts']} texts): " +
                  ", ".join(f"{t}: {n}" for t, n in counts["combined"].items()))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
