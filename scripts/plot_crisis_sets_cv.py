"""Plot a leave-sets-out comparison of crisis heads (the JSON that bench/results keeps from
scripts/crisis_sets_cv.py runs): recall against ordinary false alarms, and real text flagged.

    python scripts/plot_crisis_sets_cv.py bench/results/2026-12-04-crisis-leave-sets-out.json docs/results/crisis_leave_sets_out.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

LABELS = {"f": "+ other blind sets", "c": "+ other blind sets + two tried files", "d": "+ other blind sets, real text weight 4"}
MARKED = ("0.6", "0.7", "0.75", "0.9")


def curve(thresholds: dict, arm: str) -> tuple[list[float], list[float], list[str]]:
    ts = sorted(thresholds, key=float)
    x = [100 * thresholds[t][arm]["ordinary_false_alarms"] / thresholds[t][arm]["ordinary"] for t in ts]
    return x, [thresholds[t][arm]["recall"] for t in ts], ts


def flagged(audit: dict) -> tuple[list[float], list[int]]:
    ts = sorted(next(iter(audit.values()))["combined"], key=float)
    return [float(t) for t in ts], [sum(src["combined"][t] for src in audit.values()) for t in ts]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path, help="the JSON with one entry per arm under 'arms'")
    parser.add_argument("png", type=Path, help="where to write the figure")
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = json.loads(args.results.read_text(encoding="utf-8"))["arms"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    first = next(iter(arms.values()))
    lines = [("shipped head (trained on none of the sets)", first["thresholds"], "baseline",
              first["audit"]["crisis_model.safetensors"], True)]
    for key, label in LABELS.items():  # the later arms have other baselines; the figure compares the eight-set folds
        audit = next(v for k, v in arms[key]["audit"].items() if k != "crisis_model.safetensors")
        lines.append((label, arms[key]["thresholds"], "candidate", audit, key == "d"))
    for label, thresholds, which, audit, marked in lines:
        x, y, ts = curve(thresholds, which)
        left.plot(x, y, "o-", label=label)
        for xx, yy, t in zip(x, y, ts):
            if marked and t in MARKED:
                left.annotate(t, (xx, yy), fontsize=7)
        right.plot(*flagged(audit), "o-", label=label)
    left.axhline(0.98, ls=":", c="gray")
    left.axvline(2, ls=":", c="gray")
    left.set(xlabel="ordinary + venting messages flagged, %", ylabel="crisis recall (rules or head)", ylim=(0.85, 1.0))
    left.set_title("Blind sets 6-13, each scored by a head that never trained on it", fontsize=9)
    right.set(xlabel="threshold", ylabel="real client texts flagged", yscale="log")
    right.set_title("AnnoMI + counsel-chat audit halves (2,679 texts)", fontsize=9)
    for ax in (left, right):
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.png, dpi=110)
    print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
