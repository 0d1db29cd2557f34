"""Tables and plots for docs/results.md from the folders `scripts/gpu_quality.sh` writes.

    python scripts/quality_report.py RUNS [RUNS ...] [--out docs/results]

Each RUNS folder holds one arm per subfolder (training_report.json, eval_val/, eval_long_*/)
and optionally domain_probe.json. With several folders, a later one's arm of the same name is
listed as a rerun. Prints Markdown tables; writes val_perplexity.png and
ppl_by_context_length.png (same-token mode, where measured).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

LABELS = {
    "lora_attention": "LoRA r16 on attention",
    "lora_all_linear": "LoRA r16 on all linear layers (parameter-matched)",
    "lora_all_linear_time_matched": "same, trained for the MoE run's wall time",
    "moe_unsupervised": "MoE-LoRA, unsupervised routing",
    "moe_supervised": "MoE-LoRA, supervised domain routing",
}


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def collect(folders: list[Path]) -> list[dict]:
    arms = []
    for k, folder in enumerate(folders):
        for name in LABELS:
            train = _load(folder / name / "training_report.json")
            val = _load(folder / name / "eval_val" / "evaluation_report.json")
            if not train or not val:
                continue
            arms.append({"name": name, "run": k, "folder": folder, "train": train, "val": val,
                         "same": _load(folder / name / "eval_long_same" / "evaluation_report.json"),
                         "windows": _load(folder / name / "eval_long_windows" / "evaluation_report.json")
                         or _load(folder / name / "eval_long" / "evaluation_report.json")})
    return arms


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="folders written by scripts/gpu_quality.sh (runs/)")
    parser.add_argument("--out", type=Path, default=None, help="write the PNG plots here")
    args = parser.parse_args(argv)
    arms = collect(args.runs)
    if not arms:
        print(f"error: no finished arms under {', '.join(map(str, args.runs))}", file=sys.stderr)
        return 2
    base = next((a["val"]["base"] for a in arms if a["val"].get("base")), None)
    print("| arm | run | trainable params | steps | wall time (s) | val loss | val ppl | vs base |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    if base:
        print(f"| base model, no training | – | 0 | – | – | {base['loss']:.3f} | {base['perplexity']:.2f} | – |")
    for a in arms:
        t, v = a["train"], a["val"]["adapted"]
        rel = f"{v['perplexity'] / base['perplexity'] - 1:+.1%}" if base else "–"
        print(f"| {LABELS[a['name']]} | {a['run'] + 1} | {t['parameters']['trainable']:,} | {t['global_step']} | "
              f"{t['elapsed_hours'] * 3600:.0f} | {v['loss']:.3f} | {v['perplexity']:.2f} | {rel} |")
    print("\n| arm | run | expert share | routing entropy | dead (layer, expert) | domain acc. (layer votes) | "
          "domain acc. (one vote per sample) | balanced (one vote) |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for a in arms:
        r = a["val"].get("routing") or {}
        if not r:
            continue
        share = " / ".join(f"{x:.1%}" for x in r["usage_overall"])
        acc = r.get("domain_accuracy")
        vote = r.get("domain_vote_accuracy")
        conf = r.get("domain_vote_confusion")
        recalls = [row[i] / sum(row) for i, row in enumerate(conf or []) if sum(row)]
        balanced = f"{sum(recalls) / len(recalls):.1%}" if recalls else "–"
        print(f"| {LABELS[a['name']]} | {a['run'] + 1} | {share} | {r['routing_entropy']:.3f} | {r['dead_experts']} | "
              f"{'–' if acc is None else f'{acc:.1%}'} | {'–' if vote is None else f'{vote:.1%}'} | {balanced} |")
    for mode in ("same", "windows"):
        rows = [(a, a[mode]) for a in arms if a[mode]]
        if not rows:
            continue
        lengths = [r["length"] for r in rows[0][1]["by_context_length"]]
        print(f"\nPerplexity by context length ({'same tokens at every length' if mode == 'same' else 'windows'}):\n")
        print("| arm | run | " + " | ".join(str(n) for n in lengths) + " |")
        print("|---|---|" + "---:|" * len(lengths))
        base_row = next((rep for _, rep in rows if rep["by_context_length"][0].get("base_perplexity")), None)
        if base_row:
            print("| base model | – | " + " | ".join(f"{r['base_perplexity']:.2f}" if r.get("base_perplexity") else "–"
                                                    for r in base_row["by_context_length"]) + " |")
        for a, rep in rows:
            print(f"| {LABELS[a['name']]} | {a['run'] + 1} | " + " | ".join(
                f"{r['perplexity']:.2f}" if r.get("perplexity") else "–" for r in rep["by_context_length"]) + " |")
        print("| windows / tokens | | " + " | ".join(f"{r['windows']} / {r['tokens']:,}" for r in rows[0][1]["by_context_length"]) + " |")
    for k, folder in enumerate(args.runs):
        probe = _load(folder / "domain_probe.json")
        if probe:
            print(f"\nDomain probe (run {k + 1}, {probe['device']}): {probe['train_samples']} train / "
                  f"{probe['val_samples']} val samples; majority class {probe['majority_baseline']:.1%}; "
                  f"bag of words {probe['bag_of_words']['accuracy']:.1%} (balanced {probe['bag_of_words']['balanced_accuracy']:.1%})\n")
            print("| hidden state | " + " | ".join(probe["router_probe"]) + " |")
            print("|---|" + "---:|" * len(probe["router_probe"]))
            print("| accuracy | " + " | ".join(f"{x['accuracy']:.1%}" for x in probe["router_probe"].values()) + " |")
            print("| balanced accuracy | " + " | ".join(f"{x['balanced_accuracy']:.1%}" for x in probe["router_probe"].values()) + " |")
    if args.out:
        plot(arms, base, args.out)
    return 0


def plot(arms: list[dict], base: dict | None, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    first = [a for a in arms if a["run"] == min(x["run"] for x in arms)]
    names = (["base model"] if base else []) + [LABELS[a["name"]].replace(" (parameter-matched)", "\n(param-matched)")
                                                  .replace(", ", ",\n") for a in first]
    values = ([base["perplexity"]] if base else []) + [a["val"]["adapted"]["perplexity"] for a in first]
    fig, ax = plt.subplots(figsize=(12, 4.8))
    bars = ax.bar(range(len(values)), values, color=["#999999"] * bool(base) + ["#4C72B0"] * len(first))
    for bar, v in zip(bars, values):
        ax.text(bar.get_x() + bar.get_width() / 2, v + 0.2, f"{v:.2f}", ha="center", fontsize=9)
    ax.set_xticks(range(len(values)), names, fontsize=8)
    ax.set_ylabel("perplexity (therapist tokens)")
    ax.set_title("counsel-chat validation perplexity (lower is better)")
    fig.tight_layout()
    fig.savefig(out / "val_perplexity.png", dpi=110)
    plt.close(fig)
    rows = [(a, a["same"]) for a in arms if a["same"]]
    if rows:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        lengths = [r["length"] for r in rows[0][1]["by_context_length"]]
        base_row = next((rep for _, rep in rows if rep["by_context_length"][0].get("base_perplexity")), None)
        if base_row:
            ax.plot(lengths, [r["base_perplexity"] for r in base_row["by_context_length"]], "o--", color="#999999",
                    label="base model")
        for a, rep in rows:
            ax.plot(lengths, [r["perplexity"] for r in rep["by_context_length"]], "o-", label=LABELS[a["name"]])
        ax.axvline(2048, color="black", lw=0.8, ls=":")
        ax.text(2048, ax.get_ylim()[1], " training length", va="top", fontsize=8)
        ax.set_xscale("log", base=2)
        ax.set_xticks(lengths, [str(n) for n in lengths])
        ax.set_xlabel("context window (tokens)")
        ax.set_ylabel("perplexity, the same tokens at every length")
        ax.set_title("Held-out AnnoMI sessions: perplexity by context length")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "ppl_by_context_length.png", dpi=110)
        plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
