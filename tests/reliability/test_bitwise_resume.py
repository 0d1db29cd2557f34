"""Exact resume: N steps straight == k steps, SIGKILL mid-accumulation, resume to N.

Dropout is on (attention LoRA and experts), so the random generators must be restored too.
The kill lands after the first micro-batch of an optimizer step has been forwarded and
back-propagated (gradients half accumulated), between two checkpoints; resuming restarts
that step from the last optimizer-step checkpoint. Compared bit for bit: every step's loss,
the order of the micro-batches, and the final adapter, router and expert tensors (and the
optimizer state of the last checkpoint).
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import torch

from . import tally
from .runs import (
    assert_same_tensors,
    batch_steps,
    losses,
    resumed_step,
    run_until_killed,
    train_argv,
    trained_tensors,
    write_config,
)

pytestmark = pytest.mark.slow

STEPS = 8  # 6 optimizer steps per epoch on this data: the run crosses an epoch boundary
MICRO_BATCHES_PER_STEP = 2


@pytest.fixture(scope="module")
def straight(workspace, fork_pool, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("straight")
    config = write_config(workspace, root / "config.json", root / "out", max_steps=STEPS)
    code = fork_pool(lambda s: s.run(train_argv(config, workspace), root, root / "run.log",
                                     hooks={"batch_log": str(root / "batches.jsonl")}))
    assert code == 0, (root / "run.log").read_text()[-3000:]
    return root


def optimizer_tensors(checkpoint: Path) -> list[torch.Tensor]:
    state = torch.load(checkpoint / "optimizer.pt", weights_only=True)["state"]
    return [t for key in sorted(state) for _, t in sorted(state[key].items()) if isinstance(t, torch.Tensor)]


@pytest.mark.parametrize("killed_step", [4, 8], ids=["epoch1-step4", "epoch2-step8"])
def test_sigkill_mid_accumulation_then_resume_is_bitwise_identical(workspace, fork_pool, straight, tmp_path,
                                                                   killed_step):
    # Pause before the second micro-batch of `killed_step`: the first one's gradients are accumulated.
    pause_at = (killed_step - 1) * MICRO_BATCHES_PER_STEP + 2
    config = write_config(workspace, tmp_path / "config.json", tmp_path / "out", max_steps=STEPS)

    def run(server):
        killed_code = run_until_killed(server, train_argv(config, workspace), tmp_path, tmp_path / "killed.log",
                                       pause_at, batch_log=str(tmp_path / "killed.jsonl"))
        resume_code = server.run(train_argv(config, workspace, "--resume_from_checkpoint", "latest"), tmp_path,
                                 tmp_path / "resume.log", hooks={"batch_log": str(tmp_path / "resumed.jsonl")})
        return killed_code, resume_code

    killed_code, resume_code = fork_pool(run)
    text = (tmp_path / "resume.log").read_text()
    assert killed_code == -signal.SIGKILL
    assert resume_code == 0, text[-3000:]
    last_checkpoint = killed_step - 1
    assert resumed_step(text) == last_checkpoint

    assert losses(tmp_path / "out") == losses(straight / "out")
    assert len(losses(tmp_path / "out")) == STEPS
    assert_same_tensors(trained_tensors(tmp_path / "out"), trained_tensors(straight / "out"))
    for a, b in zip(optimizer_tensors(tmp_path / "out" / f"checkpoint-{STEPS}"),
                    optimizer_tensors(straight / "out" / f"checkpoint-{STEPS}"), strict=True):
        assert torch.equal(a, b)

    killed_batches = batch_steps(tmp_path / "killed.jsonl")
    assert len(killed_batches) == last_checkpoint  # the interrupted step never reached the optimizer
    order = killed_batches + batch_steps(tmp_path / "resumed.jsonl")
    assert order == batch_steps(straight / "batches.jsonl")
    assert all(len(step) == MICRO_BATCHES_PER_STEP for step in order)
    tally.add("exact resume: kills mid-accumulation", 1)
    tally.add("exact resume: resumes bitwise identical", 1)
    tally.summary_line(f"bitwise-resume-step{killed_step}", killed_in_step=killed_step,
                       resumed_from=last_checkpoint, steps_compared=STEPS, micro_batches_compared=sum(map(len, order)))
