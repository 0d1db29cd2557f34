"""Evaluation output: `evaluation_report.json`, PNG plots and a table for the terminal."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

REPORT_NAME = "evaluation_report.json"


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isinf(value) or math.isnan(value):
            return str(value)
        return f"{value:.{digits}f}" if abs(value) < 1e5 else f"{value:.3g}"
    if isinstance(value, list):
        return " ".join(f"{v:.0%}" if isinstance(v, float) else str(v) for v in value)
    return str(value)


def write_plots(result: dict, out_dir: Path) -> dict[str, str]:
    """PNG plots next to the report; the shared plotting functions draw the heatmap, the confusion
    matrix and the per-example scatter (skipped with a note when they are not installed)."""
    from therapeutic_moe.evaluation.plots import plot_context_curve

    written: dict[str, str] = {}
    rows = result.get("by_context_length") or []
    if rows:
        path = plot_context_curve(rows, out_dir / "ppl_by_context_length.png",
                                  title="Perplexity by context length (windows of the longest sessions)")
        written["ppl_by_context_length"] = path.name
    try:
        from therapeutic_moe.training import plots
    except ImportError as exc:
        print(f"warning: heatmap and confusion plots skipped ({exc})", file=sys.stderr)
        return written
    routing = result.get("routing") or {}
    names = result.get("expert_domains") or None
    if routing.get("usage_per_layer"):
        path = out_dir / "expert_usage_heatmap.png"
        plots.plot_expert_usage_heatmap(routing["usage_per_layer"], names, path,
                                        title="Expert usage per layer (held-out data)")
        written["expert_usage_heatmap"] = path.name
    if routing.get("domain_confusion"):
        path = out_dir / "domain_confusion.png"
        plots.plot_confusion_matrix(routing["domain_confusion"], names, path,
                                    title="Routed expert vs domain label (votes of all layers)")
        written["domain_confusion"] = path.name
    if routing.get("domain_vote_confusion"):
        path = out_dir / "domain_vote_confusion.png"
        plots.plot_confusion_matrix(routing["domain_vote_confusion"], names, path,
                                    title="Routed expert vs domain label (one vote per sample, all layers averaged)")
        written["domain_vote_confusion"] = path.name
    per = result.get("per_example") or {}
    ppls = per.get("perplexity") or per.get("base_perplexity")
    if ppls:
        nan = float("nan")
        base = per.get("base_perplexity") if per.get("perplexity") else None
        path = out_dir / "ppl_by_example_length.png"
        plots.plot_ppl_by_length(per["lengths"], [nan if p is None else p for p in ppls], path,
                                 baseline=None if base is None else [nan if p is None else p for p in base],
                                 title="Perplexity by example length (trained vs base model)")
        written["ppl_by_example_length"] = path.name
    return written


def write_report(result: dict, out_dir: str | Path, plots: bool = True) -> Path:
    """Write the JSON report (and plots) into ``out_dir``; returns the JSON path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if plots:
        result["plots"] = write_plots(result, out_dir)
    path = out_dir / REPORT_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, allow_nan=True), encoding="utf-8")
    tmp.replace(path)
    return path


def format_table(result: dict) -> str:
    """The report as a readable plain-text table."""
    lines = []
    head = f"Evaluated {result['examples']} examples"
    if result.get("dataset"):
        head += f" from {result['dataset']}"
    lines.append(head)
    adapted, base = result.get("adapted") or {}, result.get("base") or {}
    lines.append(f"{'':28}{'adapted':>12}{'base model':>12}")
    for key in ("loss", "perplexity", "tokens"):
        lines.append(f"{key:28}{_fmt(adapted.get(key)):>12}{_fmt(base.get(key)):>12}")
    lines.append("")
    lines.append(f"Guide targets ({result.get('targets_for', 'adapted')} model):")
    lines.append(f"  {'metric':28}{'target':>10}  {'measured':<26}{'status':>6}")
    for row in result.get("targets", []):
        lines.append(f"  {row['metric']:28}{row['target']:>10}  {_fmt(row['value']):<26}{row['status'].upper():>6}")
        if row.get("note"):
            lines.append(f"    ({row['note']})")
    routing = result.get("routing") or {}
    if routing:
        lines.append("")
        shares = " | ".join(f"{name} {share:.1%}" for name, share in routing["usage_by_expert"].items())
        lines.append(f"Expert share overall: {shares}")
        lines.append(f"Routing entropy {routing['routing_entropy']:.3f} nats (max {routing['routing_entropy_max']:.3f}), "
                     f"token entropy {routing['token_entropy']:.3f}, dead experts {routing['dead_experts']} "
                     f"({routing['dead_threshold']})")
        if "routing_nmi" in routing:
            lines.append(f"Specialisation (normalised MI, token domain vs chosen expert): {routing['routing_nmi']:.3f}")
        for layer, row in enumerate(routing["usage_per_layer"]):
            lines.append(f"  layer {layer:>3}: " + " ".join(f"{share:6.1%}" for share in row))
        if "domain_accuracy" in routing:
            lines.append(f"Domain-routing accuracy {routing['domain_accuracy']:.1%} "
                         f"({routing['labelled_samples']} labelled examples, every layer votes)")
            if "domain_vote_accuracy" in routing:
                per_layer = routing.get("domain_accuracy_per_layer") or []
                best = max(range(len(per_layer)), key=per_layer.__getitem__) if per_layer else None
                lines.append(f"  one vote per example (all layers averaged): {routing['domain_vote_accuracy']:.1%}"
                             + (f"; best single layer {best}: {per_layer[best]:.1%}" if best is not None else ""))
        else:
            lines.append("Domain-routing accuracy: no domain labels in this data")
    rows = result.get("by_context_length") or []
    if rows:
        lines.append("")
        if result.get("context_length_mode") == "same tokens":
            lines.append("Perplexity by context length (the same tokens at every length, sessions that reach the longest):")
        else:
            lines.append("Perplexity by context length (non-overlapping windows of the longest sessions):")
        lines.append(f"  {'length':>7}{'windows':>9}{'convs':>7}{'tokens':>9}{'ppl':>10}{'base ppl':>10}")
        for r in rows:
            lines.append(f"  {r['length']:>7}{r['windows']:>9}{r['conversations']:>7}{r['tokens']:>9}"
                         f"{_fmt(r.get('perplexity')):>10}{_fmt(r.get('base_perplexity')):>10}")
    if result.get("plots"):
        lines.append("")
        lines.append("Plots: " + ", ".join(result["plots"].values()))
    return "\n".join(lines)
