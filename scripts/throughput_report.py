"""The throughput table of scripts/gpu_throughput.sh: trainer arms, HF baseline and bench per shape.

    python scripts/throughput_report.py throughput-out > table.md

Trainer tokens/s: the median of the logged intervals' ``train/tokens_per_second`` (non-padding
tokens; the first interval, with start-up and autotuning, is left out). MFU uses the bench's
FLOPs per token at 2048 tokens and the dense bf16 peak of the H100/H200 (989 TFLOP/s). Also
writes ``throughput.json`` beside the inputs.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path

from therapeutic_moe.bench.shapes import H100_BF16_PEAK_FLOPS, SHAPES


def history_numbers(report: dict) -> dict:
    """Tokens/s (median of the logged intervals after the first) and peak GPU memory of a training report."""
    rates = [h["train/tokens_per_second"] for h in report["history"] if "train/tokens_per_second" in h][1:]
    memory = [h.get("gpu/memory_allocated_gb", 0) for h in report["history"]]
    return {"tokens_per_s": statistics.median(rates) if rates else None, "intervals": len(rates),
            "peak_memory_gib": max(memory, default=0)}


def trainer_numbers(out: Path, shape: str, arm: str) -> dict | None:
    path = out / f"{shape}_{arm}.report.json"
    if not path.is_file():
        return None
    report = json.loads(path.read_text())
    log = (out / f"{shape}_{arm}.train.log").read_text(errors="replace")
    micro = re.search(r"micro-batch (\d+)", log)
    ckpt = "gradient checkpointing: on" in log
    return history_numbers(report) | {"micro_batch": int(micro.group(1)) if micro else None,
                                      "gradient_checkpointing": ckpt, "steps": report["global_step"]}


def bench_numbers(out: Path, shape: str) -> dict:
    path = out / f"{shape}_bench.json"
    if not path.is_file():
        return {}
    return {r["variant"]: r for r in json.loads(path.read_text())["results"] if r.get("shape") == shape}


def shape_row(out: Path, shape: str) -> dict:
    flops = SHAPES[shape].flops_per_token(2048)
    lora, moe = trainer_numbers(out, shape, "lora"), trainer_numbers(out, shape, "moe")
    qlora = trainer_numbers(out, shape, "qlora")
    base_path = out / f"{shape}_baseline.json"
    base = json.loads(base_path.read_text()) if base_path.is_file() else None
    bench = bench_numbers(out, shape)
    row = {"shape": shape, "lora": lora, "moe": moe, "qlora": qlora, "baseline": base,
           "bench": {k: {"tokens_per_s": v.get("tokens_per_s"), "batch": v.get("batch")} for k, v in bench.items()}}
    for arm in (lora, moe, qlora, base):
        if arm and arm.get("tokens_per_s"):
            arm["mfu"] = arm["tokens_per_s"] * flops / H100_BF16_PEAK_FLOPS
    if base and moe and moe.get("tokens_per_s"):
        row["moe_vs_baseline"] = moe["tokens_per_s"] / base["tokens_per_s"]
    if base and lora and lora.get("tokens_per_s"):
        row["lora_vs_baseline"] = lora["tokens_per_s"] / base["tokens_per_s"]
    if lora and moe and lora.get("tokens_per_s") and moe.get("tokens_per_s"):
        row["moe_overhead"] = lora["tokens_per_s"] / moe["tokens_per_s"] - 1
    for arm, variant in ((lora, "ours"), (moe, "ours_e4")):
        if arm and arm.get("tokens_per_s") and bench.get(variant, {}).get("tokens_per_s"):
            arm["trainer_vs_bench"] = arm["tokens_per_s"] / bench[variant]["tokens_per_s"]
    return row


def fmt(x, spec=",.0f") -> str:
    return "–" if x is None else format(x, spec)


def table(rows: list[dict]) -> str:
    lines = ["| shape | run | micro-batch | tokens/s | MFU | peak GiB | vs baseline | vs bench |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for name, arm, ratio in (("HF Trainer + PEFT + Liger", r["baseline"], None),
                                 ("train, all-linear LoRA", r["lora"], r.get("lora_vs_baseline")),
                                 ("train, 4 experts top-2", r["moe"], r.get("moe_vs_baseline")),
                                 ("train, 4 experts, 4-bit base (QLoRA)", r.get("qlora"), None)):
            if not arm and name.endswith("(QLoRA)"):
                continue
            if not arm:
                lines.append(f"| {r['shape']} | {name} | – | failed | | | | |")
                continue
            micro = arm.get("micro_batch") or arm.get("rows_per_step")
            lines.append(f"| {r['shape']} | {name} | {fmt(micro, 'd') if micro else '–'} | {fmt(arm.get('tokens_per_s'))} | "
                         f"{fmt(arm.get('mfu'), '.1%')} | {fmt(arm.get('peak_memory_gib'), '.1f')} | "
                         f"{fmt(ratio, '.2f') + 'x' if ratio else ''} | {fmt(arm.get('trainer_vs_bench'), '.0%') if arm.get('trainer_vs_bench') else ''} |")
        if r.get("moe_overhead") is not None:
            lines.append(f"| {r['shape']} | expert overhead (all-linear tokens/s ÷ MoE tokens/s − 1) | | "
                         f"{r['moe_overhead']:.1%} | | | | |")
    return "\n".join(lines)


def main(argv=None) -> None:
    out = Path((argv or sys.argv[1:])[0])
    shapes = [s for s in SHAPES if (out / f"{s}_lora.train.log").is_file() or (out / f"{s}_moe.train.log").is_file()]
    rows = [shape_row(out, s) for s in shapes]
    (out / "throughput.json").write_text(json.dumps(rows, indent=1))
    print(table(rows))


if __name__ == "__main__":
    main()
