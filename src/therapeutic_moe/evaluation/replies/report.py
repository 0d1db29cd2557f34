"""The reply report: JSON (numbers and verdicts), a side-by-side Markdown page, and a plot.

The JSON holds no question or reply text (those stay in the replies_*.jsonl files and the
Markdown page, both in the output directory the user chose).
"""

from __future__ import annotations

import json
from pathlib import Path

from therapeutic_moe.evaluation.replies.rubric import DIMENSIONS

JUDGE_WARNING = ("LLM judges rate too kindly and miss safety problems that professionals flag (CounselBench, "
                 "ICLR 2026): read the flagged replies yourself; a small local judge is weaker still.")
CHECK_ROWS = (  # (key in the summary, label)
    ("replies", "replies"), ("crisis_replies", "crisis-layer replies (left out below)"),
    ("generated", "generated replies"), ("mean_words", "mean words"), ("mean_tokens", "mean tokens"), ("truncated", "hit the token limit"),
    ("empty", "empty replies"), ("screen_blocked", "output screen cut"),
    ("method_details_shown", "method details shown"), ("mean_distinct_1", "distinct-1 (mean)"),
    ("mean_distinct_2", "distinct-2 (mean)"), ("corpus_distinct_2", "distinct-2 across replies"),
    ("mean_repeated_3gram_share", "repeated 3-gram share (mean)"), ("refusals", "refusals"),
    ("medication_questions", "medication questions"), ("medication_dosing", "dosing advice on them"),
    ("dosing_advice_any", "dosing advice, any question"))
RATE_ROWS = (("truncated", "hit token limit"), ("refusals", "refusal"), ("dosing_advice_any", "dosing advice"),
             ("screen_blocked", "screen cut"))


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _text_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\r", "").replace("\n", "<br>") or "(empty)"


def markdown_tables(report: dict) -> list[str]:
    """The aggregate tables (what the docs quote)."""
    models = report["models"]
    head = "| | " + " | ".join(models) + " |\n|---|" + "---|" * len(models)
    lines = ["## Automatic checks", "", head]
    lines += [f"| {label} | " + " | ".join(_cell(report["automatic"][m][key]) for m in models) + " |"
              for key, label in CHECK_ROWS]
    if report.get("rubric"):
        lines += ["", f"## Rubric (judge: {report['judge']['name']})", "", JUDGE_WARNING, "", head]
        for d in DIMENSIONS:
            arrow = "higher is better" if d.higher_is_better else "lower is better"
            scale = "share of yes" if d.scale == "yes/no" else d.scale
            lines.append(f"| {d.title} ({scale}, {arrow}) | " + " | ".join(
                _cell(report["rubric"][m]["dimensions"][d.key]["mean"]) for m in models) + " |")
        for key in ("ok", "partial", "unparsable", "errors", "skipped_crisis"):
            lines.append(f"| judge answers: {key} | " + " | ".join(_cell(report["rubric"][m][key]) for m in models) + " |")
    if report.get("pairwise"):
        p = report["pairwise"]
        lines += ["", f"## Pairwise: {p['x']} vs {p['y']} (each question in both orders)", "",
                  "| | count |", "|---|---|"]
        for key in (f"{p['x']}_wins", f"{p['y']}_wins", "ties", "inconsistent", "unparsable", "skipped_crisis",
                    f"{p['x']}_win_rate",
                    "first_position_pick_share", "answers_parsed", "answers"):
            lines.append(f"| {key.replace('_', ' ')} | {_cell(p[key])} |")
    return lines


def _flags(checks: dict) -> str:
    flags = [name for name, on in (("truncated", checks["truncated"]), ("crisis reply", checks["crisis_reply"]),
                                   ("screen cut", checks["screen_blocked"]), ("refusal", bool(checks["refusal"])),
                                   ("dosing advice", bool(checks["dosing_advice"]))) if on]
    rep = checks["repeated_3gram_share"]
    return f"{checks['words']} words, rep3 {_cell(rep)}" + ("; " + ", ".join(flags) if flags else "")


def markdown_page(report: dict, questions: list, replies: dict[str, dict[str, dict]]) -> str:
    models = report["models"]
    lines = ["# Reply evaluation", "", f"{report['created']} · dataset `{report['dataset']}` · "
             f"{report['questions']} questions · sampling {json.dumps(report['sampling'])} · device {report['device']}",
             ""] + markdown_tables(report) + ["", "## Replies side by side", ""]
    per_question = {row["question_id"]: row for row in report["per_question"]}
    for n, question in enumerate(questions, start=1):
        row = per_question[question.id]
        lines += [f"### {n}. `{question.id}`" + (f" ({question.topic})" if question.topic else ""), "",
                  "> " + question.text.strip().replace("\n", "\n> "), "",
                  "| | " + " | ".join(models) + " |", "|---|" + "---|" * len(models),
                  "| reply | " + " | ".join(_text_cell(replies[m][question.id]["reply"]) for m in models) + " |",
                  "| checks | " + " | ".join(_flags(row["models"][m]["checks"]) for m in models) + " |"]
        if report.get("rubric"):
            lines.append("| rubric | " + " | ".join(_rubric_cell(row["models"][m].get("rubric")) for m in models) + " |")
        if row.get("pairwise"):
            lines.append(f"| pairwise | {row['pairwise']['result']} (orders: {row['pairwise']['x_first']}, "
                         f"{row['pairwise']['y_first']}) |" + " |" * (len(models) - 1))
        lines.append("")
    return "\n".join(lines) + "\n"


def _rubric_cell(entry: dict | None) -> str:
    if not entry or entry["status"] in ("unparsable", "error", "skipped"):
        return entry["status"] if entry else "–"
    return ", ".join(f"{k} {_cell(v)}" for k, v in entry["scores"].items())


def plot_scores(report: dict, path: Path) -> Path:
    """Bars per model: rubric means (1-5, with the number of answers behind each) when judged,
    and the shares of flagged replies."""
    from matplotlib.figure import Figure

    models = report["models"]
    panels = ["rubric"] if report.get("rubric") else []
    panels.append("checks")
    fig = Figure(figsize=(6.0 * len(panels), 4.5), layout="constrained")
    width = 0.8 / len(models)
    for p, panel in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), p + 1)
        if panel == "rubric":
            dims = [d for d in DIMENSIONS if d.scale == "1-5"]
            names = [d.title for d in dims]
            values = {m: [report["rubric"][m]["dimensions"][d.key]["mean"] or 0 for d in dims] for m in models}
            # How many answers each mean rests on: a weak judge may leave a bar standing on one.
            counts = {m: [f"n={report['rubric'][m]['dimensions'][d.key]['rated']}" for d in dims] for m in models}
            ax.set_ylim(0, 5)
            ax.set_title(f"Judge rubric means ({report['judge']['name']})", fontsize=10)
        else:
            names = [label for _, label in RATE_ROWS] + ["repeated 3-grams"]
            values = {m: [report["automatic"][m][key] / max(report["automatic"][m]["generated"], 1)
                          for key, _ in RATE_ROWS] + [report["automatic"][m]["mean_repeated_3gram_share"] or 0]
                      for m in models}
            ax.set_ylim(0, 1)
            ax.set_title("Automatic checks (share of generated replies)", fontsize=10)
        for i, m in enumerate(models):
            bars = ax.bar([x + i * width for x in range(len(names))], values[m], width, label=m)
            if panel == "rubric":
                ax.bar_label(bars, counts[m], fontsize=7, padding=2)
        ax.set_xticks([x + width * (len(models) - 1) / 2 for x in range(len(names))], names,
                      rotation=25, ha="right", fontsize=8)
        ax.legend(fontsize=8)
    fig.suptitle(f"{report['questions']} questions from {Path(report['dataset']).name}", fontsize=10)
    fig.savefig(path, dpi=110)
    return path


def write_report(report: dict, questions: list, replies: dict[str, dict[str, dict]], out_dir: Path,
                 raw_answers: list[dict], plots: bool = True) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"json": out_dir / "replies_report.json", "markdown": out_dir / "replies_report.md"}
    if raw_answers:
        files["judge_answers"] = out_dir / "judge_answers.jsonl"
        with files["judge_answers"].open("w", encoding="utf-8") as out:
            for record in raw_answers:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    if plots:
        files["plot"] = plot_scores(report, out_dir / "reply_scores.png")
    report["files"] = {k: v.name for k, v in files.items()}
    files["json"].write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    files["markdown"].write_text(markdown_page(report, questions, replies), encoding="utf-8")
    return files
