"""Perplexity against context length as a line plot.

The shared ``plot_ppl_by_length`` is a scatter for many per-sample points; the context-length
test has a handful of lengths with very different window counts, which reads better as two
lines on a log2 axis with the window count written at each point.
"""

from __future__ import annotations

from pathlib import Path


def plot_context_curve(rows: list[dict], path: str | Path, title: str = "Perplexity by context length") -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 5.0), layout="constrained")
    ax = fig.add_subplot()
    measured = [r for r in rows if r.get("windows")]
    for key, label, colour, style in (("perplexity", "trained model", "C0", "-o"),
                                      ("base_perplexity", "base model", "C3", "--s")):
        points = [(r["length"], r[key]) for r in measured if r.get(key)]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], style, color=colour, label=label)
    for r in measured:
        values = [v for v in (r.get("perplexity"), r.get("base_perplexity")) if v]
        if values:
            top = max(values)
            ax.annotate(f"{r['windows']} win", (r["length"], top), textcoords="offset points", xytext=(0, 8),
                        ha="center", fontsize=8, color="0.35")
    missing = [str(r["length"]) for r in rows if not r.get("windows")]
    if measured:
        ax.set_xscale("log", base=2)
        ax.set_xticks([r["length"] for r in measured], [str(r["length"]) for r in measured])
        values = [v for r in measured for v in (r.get("perplexity"), r.get("base_perplexity")) if v]
        if values and max(values) / max(min(values), 1e-9) > 20:
            ax.set_yscale("log")
        ax.legend(loc="best", fontsize=9)
    else:
        ax.text(0.5, 0.5, "no conversation long enough", ha="center", va="center", transform=ax.transAxes)
    note = f"\nno windows at {', '.join(missing)} tokens" if missing else ""
    ax.set_title(title + note)
    ax.set_xlabel("context length (tokens per window)")
    ax.set_ylabel("perplexity (therapist tokens)")
    ax.grid(True, alpha=0.3)
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path
