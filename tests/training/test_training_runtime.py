"""Tiny-model CPU runs of the real training loop: export, budget, resume, signals, NaN, early stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import REPO_ROOT
from runtime_helpers import run_config
from therapeutic_moe.errors import TrainingHalted
from therapeutic_moe.training.checkpoint import find_latest_valid, list_checkpoints, verify_checkpoint
from therapeutic_moe.training.loop import train

EXPORT = {"adapter_config.json", "adapter_model.safetensors", "moe_layers.pt", "moe_config.json",
          "tokenizer.json", "tokenizer_config.json", "training_report.json", "training_curves.png", "expert_usage.png"}
CHECKPOINT = {"adapter_config.json", "adapter_model.safetensors", "moe_layers.pt", "moe_config.json", "optimizer.pt",
              "scheduler.pt", "rng_state.pt", "trainer_state.json", "run_config.json", "COMPLETE"}


def report(out: Path) -> dict:
    return json.loads((out / "training_report.json").read_text())


def test_run_finishes_and_exports(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert train(run_config(tmp_path, save_steps=3)) == 0
    out = tmp_path / "out"
    files = {p.name for p in out.iterdir() if p.is_file()}
    assert EXPORT <= files, EXPORT - files
    rep = report(out)
    assert rep["stop_reason"] == "completed" and rep["global_step"] == 6
    ckpts = list_checkpoints(out)
    assert ckpts, "no checkpoint written"
    for _, path in ckpts:
        assert verify_checkpoint(path) is None
        assert CHECKPOINT <= {p.name for p in path.iterdir()}
    assert not list(out.glob("*.tmp"))
    assert rep["final_eval"]["val/loss"] > 0


def losses(out: Path) -> dict[int, float]:
    hist = report(out)["history"]
    return {row["step"]: row["train/loss"] for row in hist if "train/loss" in row}


def test_resume_gives_identical_losses_and_weights(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    straight = tmp_path / "a"
    assert train(run_config(tmp_path, output_dir=str(straight), max_steps=8, save_steps=4, save_total_limit=100,
                            eval_steps=100)) == 0
    resumed = tmp_path / "b"
    assert train(run_config(tmp_path, output_dir=str(resumed), max_steps=8, save_steps=4, save_total_limit=100,
                            eval_steps=100, resume_from_checkpoint=str(straight / "checkpoint-4"))) == 0
    la, lb = losses(straight), losses(resumed)
    assert [la[s] for s in range(5, 9)] == [lb[s] for s in range(5, 9)]
    from safetensors.torch import load_file

    wa, wb = load_file(str(straight / "adapter_model.safetensors")), load_file(str(resumed / "adapter_model.safetensors"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    ma = torch.load(straight / "moe_layers.pt", weights_only=True)
    mb = torch.load(resumed / "moe_layers.pt", weights_only=True)
    assert all(torch.equal(ma[k], mb[k]) for k in ma)
    assert report(resumed)["resumes"] == 1


def test_time_budget_stops_saves_and_resume_uses_remaining_budget(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    budget_s = 4.0
    cfg = run_config(tmp_path, max_steps=100000, max_hours=budget_s / 3600, eval_steps=100000, logging_steps=50)
    assert train(cfg) == 0
    out = tmp_path / "out"
    rep = report(out)
    assert rep["stop_reason"] == "time_budget"
    first_steps, first_hours = rep["global_step"], rep["elapsed_hours"]
    assert 0 < first_steps < 100000
    # the stop is decided between steps, so it may overshoot by about a step (slow on a busy CPU)
    slack = 3 * rep["seconds_per_step"] + 2.0
    assert first_hours * 3600 <= budget_s + slack
    latest = find_latest_valid(out)
    assert latest is not None and latest.name == f"checkpoint-{first_steps}"
    # Resume with a doubled budget: it must continue from the saved elapsed time, not start afresh.
    cfg2 = run_config(tmp_path, max_steps=100000, max_hours=2 * budget_s / 3600, eval_steps=100000,
                      logging_steps=50, resume_from_checkpoint="latest")
    assert train(cfg2) == 0
    rep2 = report(out)
    assert rep2["stop_reason"] == "time_budget" and rep2["global_step"] > first_steps
    assert rep2["elapsed_hours"] * 3600 <= 2 * budget_s + slack + 3 * rep2["seconds_per_step"]
    assert rep2["elapsed_hours"] > first_hours


def model_tensors(directory: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    tensors = {f"adapter/{k}": v for k, v in load_file(str(directory / "adapter_model.safetensors")).items()}
    return tensors | {f"moe/{k}": v for k, v in torch.load(directory / "moe_layers.pt", weights_only=True).items()}


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_early_stopping_stops_and_exports_the_best_weights_from_memory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # an improvement must beat the best by 10 nats: none does after the first evaluation
    early = dict(max_steps=40, eval_steps=2, early_stopping_patience=2, early_stopping_threshold=10.0)
    assert train(run_config(tmp_path, output_dir=str(tmp_path / "saved"), save_steps=2, **early)) == 0
    assert train(run_config(tmp_path, output_dir=str(tmp_path / "unsaved"), save_steps=0, **early)) == 0
    saved, unsaved = tmp_path / "saved", tmp_path / "unsaved"
    for out in (saved, unsaved):
        rep = report(out)
        assert rep["stop_reason"] == "early_stopping"
        assert rep["global_step"] == 6  # evals at 2 (best), 4, 6 -> patience 2 exhausted
        assert rep["best_step"] == 2 and rep["exported"].startswith("best weights (step 2")
    # the improving evaluation wrote no checkpoint of its own; the export is its weights all the same
    assert list_checkpoints(unsaved) == []
    best = model_tensors(saved / "checkpoint-2")
    assert_same(model_tensors(unsaved), best)
    assert_same(model_tensors(saved), best)
    # later periodic checkpoints carry the best weights, for a resume to export
    for step in (4, 6):
        assert verify_checkpoint(saved / f"checkpoint-{step}") is None
        assert_same(model_tensors(saved / f"checkpoint-{step}" / "best"), best)
    assert not (saved / "checkpoint-2" / "best").exists()  # best at its own step: nothing to add


def test_nan_loss_halts_before_the_update_and_saves_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from therapeutic_moe.modeling.wrapper import TherapeuticMoEModel

    original = TherapeuticMoEModel.forward_loss
    calls = {"n": 0}

    def poisoned(self, batch, **kw):
        out = original(self, batch, **kw)
        calls["n"] += 1
        if calls["n"] >= 5:  # step 3 (2 micro-batches per step)
            out["loss"] = out["loss"] * float("nan")
            out["lm_loss_sum"] = out["lm_loss_sum"] * float("nan")
        return out

    monkeypatch.setattr(TherapeuticMoEModel, "forward_loss", poisoned)
    with pytest.raises(TrainingHalted, match="non-finite loss at step 3"):
        train(run_config(tmp_path, save_steps=1, eval_steps=100))
    out = tmp_path / "out"
    steps = [s for s, _ in list_checkpoints(out)]
    assert steps == [1, 2]
    for _, path in list_checkpoints(out):
        state = torch.load(path / "moe_layers.pt", weights_only=True)
        assert all(torch.isfinite(t).all() for t in state.values())


@pytest.mark.slow
def test_sigterm_mid_run_leaves_complete_checkpoint(tmp_path):
    cfg = tmp_path / "cfg.json"
    run_config(tmp_path)  # writes base + data
    cfg.write_text(json.dumps(dict(base_model=str(tmp_path / "base"), dataset=str(tmp_path / "data.json"),
                                   output_dir=str(tmp_path / "out"), max_steps=100000, logging_steps=1,
                                   per_device_train_batch_size=2, gradient_accumulation_steps=2, max_seq_length=1024,
                                   lora_r=4, lora_alpha=8, expert_r=4, expert_alpha=8, report_to="none",
                                   eval_steps=100000, warmup_steps=1)))
    (tmp_path / "safety.json").write_text(json.dumps({"pii_scrubbing": True}))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, str(REPO_ROOT / "train_moe_h100.py"), "--config", str(cfg),
                             "--safety_config", str(tmp_path / "safety.json")],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines = []
    deadline = time.time() + 120
    for line in proc.stdout:
        lines.append(line)
        if "Step: 3" in line or time.time() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=120)
    text = "".join(lines) + rest
    assert proc.returncode == 128 + signal.SIGTERM, text[-2000:]
    assert "Stopped by SIGTERM" in text
    latest = find_latest_valid(tmp_path / "out")
    assert latest is not None and verify_checkpoint(latest) is None
