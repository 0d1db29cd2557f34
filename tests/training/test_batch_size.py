"""auto_find_batch_size: the largest micro-batch under the budget, the global batch kept; CPU says it keeps the config."""

from __future__ import annotations

import json

import torch

from runtime_helpers import run_config
from therapeutic_moe.training.batch_size import (
    choose_micro_batch,
    choose_with_checkpointing,
    divisors_up_to,
    find_batch_size,
)
from therapeutic_moe.training.loop import train

GIB = 2**30


def linear_probe(fixed: float, per_row: float, calls: list):
    """Peak memory of a fake model: fixed part + a part per row; None (OOM) above 100 GiB."""
    def probe(rows: int):
        calls.append(rows)
        peak = int((fixed + per_row * rows) * GIB)
        return None if peak > 100 * GIB else peak
    return probe


def test_divisors_keep_the_global_batch():
    assert divisors_up_to(16, 6) == [4, 2, 1]
    assert divisors_up_to(12, 100) == [12, 6, 4, 3, 2, 1]


def test_the_largest_fitting_divisor_is_chosen_and_probed():
    calls = []
    rows = choose_micro_batch(linear_probe(fixed=10, per_row=3, calls=calls), global_rows=32, budget=40 * GIB)
    assert rows == 8  # 10 + 3*8 = 34 GiB fits; 16 rows (58 GiB) would not
    assert calls == [1, 2, 8]


def test_a_smaller_budget_gives_a_smaller_micro_batch():
    rows = choose_micro_batch(linear_probe(fixed=10, per_row=3, calls=[]), global_rows=32, budget=20 * GIB)
    assert rows == 2


def test_a_prediction_that_misses_falls_back_to_the_next_divisor():
    def probe(rows):  # memory grows faster than linearly beyond 4 rows
        return int((10 + 3 * rows + (50 if rows > 4 else 0)) * GIB)
    assert choose_micro_batch(probe, global_rows=16, budget=40 * GIB) == 4


def test_one_row_that_does_not_fit_gives_none():
    assert choose_micro_batch(linear_probe(fixed=99, per_row=3, calls=[]), global_rows=8, budget=50 * GIB) is None


def test_cpu_keeps_the_configured_sizes_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run = run_config(tmp_path, auto_find_batch_size=True, max_steps=2, eval_steps=100)
    choice = find_batch_size(run.train, None, torch.device("cpu"), None, 128)
    assert (choice.micro_batch, choice.accumulation) == (2, 2) and "CUDA only" in choice.message
    assert train(run) == 0
    assert "auto_find_batch_size: CUDA only" in capsys.readouterr().out
    report = json.loads((tmp_path / "out" / "training_report.json").read_text())
    assert report["global_step"] == 2


def test_the_trainer_trains_with_the_found_sizes(tmp_path, monkeypatch):
    """What the probe finds (faked here: CPU has no allocator) is what the trainer uses."""
    from therapeutic_moe.training import batch_size as module

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(module, "find_batch_size", lambda cfg, *a, **k: module.BatchChoice(1, 4, "found 1 x 4"))

    def losses(out):
        hist = json.loads((out / "training_report.json").read_text())["history"]
        return {row["step"]: row["train/loss"] for row in hist if "train/loss" in row}

    explicit, found = tmp_path / "explicit", tmp_path / "found"
    assert train(run_config(tmp_path, output_dir=str(explicit), per_device_train_batch_size=1,
                            gradient_accumulation_steps=4, max_steps=3, eval_steps=100)) == 0
    assert train(run_config(tmp_path, output_dir=str(found), auto_find_batch_size=True, max_steps=3,
                            eval_steps=100)) == 0  # configured 2 x 2: the same global batch of 4 rows
    assert losses(found) == losses(explicit)
    assert losses(found) != {}


def test_a_resume_keeps_the_checkpoints_micro_batch(tmp_path, monkeypatch, capsys):
    """A resumed run must not split the global batch differently from its checkpoint (on other
    hardware the probe could answer otherwise, and the data position would not match)."""
    monkeypatch.chdir(tmp_path)
    first = tmp_path / "first"
    assert train(run_config(tmp_path, output_dir=str(first), per_device_train_batch_size=1,
                            gradient_accumulation_steps=4, max_steps=4, save_steps=2, eval_steps=100)) == 0
    capsys.readouterr()
    assert train(run_config(tmp_path, output_dir=str(tmp_path / "resumed"), auto_find_batch_size=True, max_steps=4,
                            eval_steps=100, resume_from_checkpoint=str(first / "checkpoint-2"))) == 0
    assert "resuming with the checkpoint's micro-batch 1 × 4" in capsys.readouterr().out


class FakeModelMemory:
    """Peak bytes of a probe: a fixed part plus a part per row, 4x smaller with checkpointing."""

    def __init__(self):
        self.checkpointing = None
        self.switches = []

    def switch(self, on: bool) -> None:
        self.checkpointing = on
        self.switches.append(on)

    def probe(self, rows: int) -> int:
        return 10 + rows * (2 if self.checkpointing else 8)


def test_auto_checkpointing_stays_off_when_enough_tokens_fit_without_it():
    memory = FakeModelMemory()
    rows, checkpointing, why = choose_with_checkpointing(memory.probe, 8, 2048, 45, memory.switch)
    assert (rows, checkpointing, memory.switches) == (4, False, [False])  # 4 x 2048 tokens fit without
    assert "auto: off (8192 tokens" in why


def test_auto_checkpointing_goes_on_when_too_few_tokens_fit_without_it():
    memory = FakeModelMemory()
    rows, checkpointing, why = choose_with_checkpointing(memory.probe, 8, 2048, 20, memory.switch)
    # without: only 1 row (2048 < 4096 tokens); with: 10 + 2r <= 20 gives 4 rows (a divisor of 8)
    assert (rows, checkpointing, memory.switches) == (4, True, [False, True])
    assert "auto: on (2048 tokens" in why


def test_auto_checkpointing_counts_a_whole_global_batch_as_enough():
    memory = FakeModelMemory()
    rows, checkpointing, _ = choose_with_checkpointing(memory.probe, 1, 2048, 20, memory.switch)
    assert (rows, checkpointing) == (1, False)  # the global batch is one row: nothing to gain
