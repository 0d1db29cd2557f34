"""The table of scripts/gpu_distributed.sh: one GPU against DDP and FSDP2 on two, and kill/resume.

    python scripts/distributed_report.py distributed-out > table.md

tokens/s: the median of the logged intervals after the first (non-padding tokens, all GPUs
together); scaling = 2-GPU tokens/s / (2 x 1-GPU tokens/s); loss gap: the largest relative
difference of the logged training losses from the 1-GPU run's at the same steps (same global
batch, so they should agree within bf16 noise). Resume: the resumed runs' losses after the
checkpoint against the uninterrupted run's. Also writes ``distributed.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput_report import history_numbers  # noqa: E402  (one reading of a report's intervals)


def load(out: Path, name: str) -> dict | None:
    path = out / f"{name}.report.json"
    return json.loads(path.read_text()) if path.is_file() else None


def losses(report: dict) -> dict[int, float]:
    return {h["step"]: h["train/loss"] for h in report["history"] if "train/loss" in h}


def numbers(report: dict | None) -> dict | None:
    if report is None:
        return None
    found = history_numbers(report)
    return {"tokens_per_s": found["tokens_per_s"], "peak_memory_gib_per_gpu": found["peak_memory_gib"],
            "world_size": report.get("world_size"), "steps": report.get("global_step")}


def loss_gap(a: dict | None, b: dict | None, after: int = 0) -> float | None:
    if a is None or b is None:
        return None
    la, lb = losses(a), losses(b)
    common = [s for s in la if s in lb and s > after]
    return max((abs(la[s] - lb[s]) / abs(lb[s]) for s in common), default=None)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the folder scripts/gpu_distributed.sh wrote (its OUT)")
    out = parser.parse_args(argv).out
    rows, lines = {}, ["| run | GPUs | tokens/s | scaling | peak GiB per GPU | loss gap vs 1 GPU |", "|---|---|---:|---:|---:|---:|"]
    for shape in ("1b", "8b"):
        one = load(out, f"{shape}_1gpu")
        for name in (f"{shape}_1gpu", f"{shape}_ddp2", f"{shape}_fsdp2"):
            report = load(out, name)
            row = numbers(report)
            if row is None:
                lines.append(f"| {name} | | failed or not run | | | |")
                continue
            base = numbers(one)
            if base and base["tokens_per_s"] and row["tokens_per_s"] and row["world_size"] == 2:
                row["scaling"] = row["tokens_per_s"] / (2 * base["tokens_per_s"])
            row["loss_gap"] = loss_gap(report, one) if name != f"{shape}_1gpu" else 0.0
            rows[name] = row
            lines.append(f"| {name} | {row['world_size']} | {row['tokens_per_s'] or 0:,.0f} | "
                         f"{row.get('scaling', 0):.2f} | {row['peak_memory_gib_per_gpu']:.1f} | "
                         f"{row['loss_gap'] if row['loss_gap'] is not None else float('nan'):.2e} |")
    reference = load(out, "resume_reference")
    for name in ("resume_killed", "resume_killed_1gpu"):
        gap = loss_gap(load(out, name), reference, after=10)
        rows[name] = {"loss_gap_after_step_10": gap}
        lines.append(f"| {name} (resumed from step 10) | | | | | {gap if gap is not None else float('nan'):.2e} vs uninterrupted |")
    for name in ("8b_seq8192_1gpu", "8b_seq8192_fsdp2"):
        row = numbers(load(out, name))
        rows[name] = row
        lines.append(f"| {name} | | {'did not fit or failed (see its log)' if row is None else format(row['tokens_per_s'] or 0, ',.0f')} | | "
                     f"{'' if row is None else format(row['peak_memory_gib_per_gpu'], '.1f')} | |")
    (out / "distributed.json").write_text(json.dumps(rows, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
