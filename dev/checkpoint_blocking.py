"""How long the training loop is blocked per checkpoint, written in the loop vs in the background.

Runs the real trainer (``Trainer.fit``) on the test suite's tiny random model on CPU with a
checkpoint after every optimizer step, alternating async_checkpointing false/true, and prints
per mode: the loop's blocked time per checkpoint (median and max over every save of every
repeat), the background write time, the wait for the last write at the end, and the run's
wall time. Run from the repository root on an idle machine:

    OMP_NUM_THREADS=1 python dev/checkpoint_blocking.py --steps 12 --repeats 3
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the tiny base model and dataset of the test suite


def one_run(root: Path, steps: int, async_on: bool, hidden: int) -> dict:
    from runtime_helpers import run_config

    from therapeutic_moe.training import checkpoint_writer
    from therapeutic_moe.training.distributed import init_distributed
    from therapeutic_moe.training.loop import Trainer

    if not (root / "base").exists():
        from conftest import make_tiny_tokenizer, tiny_llama

        model = tiny_llama(hidden=hidden, inter=2 * hidden)
        model.save_pretrained(root / "base")
        make_tiny_tokenizer().save_pretrained(root / "base")
    out = root / f"out-{'async' if async_on else 'sync'}-{time.monotonic_ns()}"
    run = run_config(root, output_dir=str(out), max_steps=steps, save_steps=1, save_total_limit=3, eval_steps=1000,
                     validation_split=0.0, async_checkpointing=async_on)
    close, waited = checkpoint_writer.CheckpointWriter.close, []

    def timed_close(self):
        started = time.monotonic()
        close(self)
        waited.append(time.monotonic() - started)

    checkpoint_writer.CheckpointWriter.close = timed_close
    try:
        trainer = Trainer(run, init_distributed())
        started = time.monotonic()
        with contextlib.redirect_stdout(io.StringIO()):  # the run's own progress lines
            assert trainer.fit() == 0
        wall = time.monotonic() - started
    finally:
        checkpoint_writer.CheckpointWriter.close = close
    size = sum(p.stat().st_size for p in (out / f"checkpoint-{steps}").rglob("*") if p.is_file())
    return {"blocked": trainer.blocked_seconds, "write": trainer.writer.write_seconds, "end_wait": sum(waited),
            "wall": wall, "step": trainer.step_seconds, "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=12, help="optimizer steps per run (a checkpoint after each)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per mode, alternating")
    parser.add_argument("--hidden", type=int, default=32, help="hidden size of the tiny model (32 = the tests')")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(1)
    results = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for async_on in (False, True):
                results[async_on].append(one_run(Path(tmp), args.steps, async_on, args.hidden))
    summary = {}
    for async_on, runs in results.items():
        blocked = [b for r in runs for b in r["blocked"]]
        summary["async" if async_on else "sync"] = {
            "checkpoints": len(blocked), "checkpoint_bytes": runs[0]["bytes"],
            "blocked_ms_median": round(1000 * statistics.median(blocked), 2),
            "blocked_ms_max": round(1000 * max(blocked), 2),
            "write_ms_max": round(1000 * max(r["write"] for r in runs), 2),
            "end_wait_ms_median": round(1000 * statistics.median(r["end_wait"] for r in runs), 2),
            "step_ms": round(1000 * statistics.median(r["step"] for r in runs), 2),
            "run_s_median": round(statistics.median(r["wall"] for r in runs), 2)}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
