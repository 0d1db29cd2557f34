"""Early stopping, the best model and the time budget survive a SIGKILL and a resume; pruning
during a run never removes the best checkpoint."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import pytest

from . import tally
from .checkpoint_audit import intact_steps
from .runs import (
    assert_same_tensors,
    report,
    resumed_step,
    run_until_killed,
    train_argv,
    trained_tensors,
    write_config,
)

pytestmark = pytest.mark.slow

# Evaluations every 2 steps; an improvement must beat the best by 10 nats, so after the first
# evaluation (step 2, the best) none counts: with patience 2 the run stops at step 6.
EARLY_STOP = dict(max_steps=40, eval_steps=2, early_stopping_patience=2, early_stopping_threshold=10.0,
                  validation_split=0.2)


def test_early_stopping_and_best_model_survive_a_kill(workspace, fork_pool, tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    config_a = write_config(workspace, straight / "config.json", straight / "out", **EARLY_STOP)
    config_b = write_config(workspace, killed / "config.json", killed / "out", **EARLY_STOP)

    def run(server):
        a = server.run(train_argv(config_a, workspace), straight, straight / "run.log")
        # killed during step 5: the checkpoint of step 4 holds one evaluation without improvement
        k = run_until_killed(server, train_argv(config_b, workspace), killed, killed / "killed.log", 9)
        b = server.run(train_argv(config_b, workspace, "--resume_from_checkpoint", "latest"), killed,
                       killed / "resume.log")
        return a, k, b

    a, k, b = fork_pool(run)
    assert a == 0 and k == -signal.SIGKILL
    assert b == 0, (killed / "resume.log").read_text()[-3000:]
    assert resumed_step((killed / "resume.log").read_text()) == 4
    rep_a, rep_b = report(straight / "out"), report(killed / "out")
    for rep in (rep_a, rep_b):
        assert rep["stop_reason"] == "early_stopping" and rep["global_step"] == 6 and rep["best_step"] == 2
    assert rep_b["resumes"] == 1
    # the export is the best checkpoint, not the last step, in both runs
    best = trained_tensors(killed / "out" / "checkpoint-2")
    assert_same_tensors(trained_tensors(killed / "out"), best)
    assert_same_tensors(trained_tensors(straight / "out"), best)
    tally.add("resume state: kills", 1)
    tally.add("resume state: resumes correct", 1)
    tally.summary_line("early-stop-resume", stopped_at=rep_b["global_step"], best_step=rep_b["best_step"])


BEST_KEPT = dict(max_steps=6, eval_steps=2, early_stopping_patience=0, early_stopping_threshold=10.0,
                 validation_split=0.2, save_total_limit=1)
@pytest.mark.parametrize("relocation", [
    "same-place",
    "other-working-directory",
    "moved-output-directory",
])
def test_pruning_keeps_the_best_checkpoint_across_a_resume(workspace, fork_pool, tmp_path, relocation):
    first_cwd = tmp_path / "first"
    first_cwd.mkdir()
    out = first_cwd / "out"
    # relative, as in the shipped config (therapeutic_moe_model); absolute when the folder moves
    config = write_config(workspace, first_cwd / "config.json",
                          out if relocation == "moved-output-directory" else Path("out"), **BEST_KEPT)
    resume_cwd, resume_config = first_cwd, config
    if relocation == "other-working-directory":
        resume_cwd = tmp_path / "elsewhere"
        resume_config = write_config(workspace, resume_cwd / "config.json", out, **BEST_KEPT)
    elif relocation == "moved-output-directory":
        resume_cwd = tmp_path / "new-disk"
        resume_config = write_config(workspace, resume_cwd / "config.json", resume_cwd / "out", **BEST_KEPT)

    def run(server):
        k = run_until_killed(server, train_argv(config, workspace), first_cwd, tmp_path / "killed.log", 9)
        if relocation == "moved-output-directory":
            shutil.move(out, resume_cwd / "out")
        b = server.run(train_argv(resume_config, workspace, "--resume_from_checkpoint", "latest"), resume_cwd,
                       tmp_path / "resume.log")
        return k, b

    k, b = fork_pool(run)
    final = resume_cwd / "out" if relocation == "moved-output-directory" else out
    assert k == -signal.SIGKILL
    assert b == 0, (tmp_path / "resume.log").read_text()[-3000:]
    rep = report(final)
    assert rep["best_step"] == 2 and rep["global_step"] == 6
    assert 2 in intact_steps(final), f"best checkpoint pruned: {intact_steps(final)}"
    assert intact_steps(final) == [2, 6]  # save_total_limit=1 plus the protected best
    assert_same_tensors(trained_tensors(final), trained_tensors(final / "checkpoint-2"))
    tally.add("resume state: kills", 1)
    tally.add("resume state: resumes correct", 1)


def test_time_budget_spans_a_kill_and_resume(workspace, fork_pool, tmp_path):
    """The first run spends over 5 s of a 12 s budget, is killed, and the resume only gets the rest."""
    budget_s = 12.0
    config = write_config(workspace, tmp_path / "config.json", tmp_path / "out", max_steps=100000,
                          max_hours=budget_s / 3600, save_total_limit=2, logging_steps=50)

    def run(server):
        # 5 s pass inside step 2; killed in step 4, so checkpoint-3 carries that time
        k = run_until_killed(server, train_argv(config, workspace), tmp_path, tmp_path / "killed.log", 7,
                             sleep_at_forward={"3": 5.0})
        started = time.monotonic()
        b = server.run(train_argv(config, workspace, "--resume_from_checkpoint", "latest"), tmp_path,
                       tmp_path / "resume.log")
        return k, b, time.monotonic() - started

    k, b, resumed_wall = fork_pool(run)
    assert k == -signal.SIGKILL
    assert b == 0, (tmp_path / "resume.log").read_text()[-3000:]
    assert resumed_step((tmp_path / "resume.log").read_text()) == 3
    rep = report(tmp_path / "out")
    assert rep["stop_reason"] == "time_budget" and rep["resumes"] == 1
    slack = 3 * rep["seconds_per_step"] + 2.0
    assert rep["elapsed_hours"] * 3600 <= budget_s + slack
    # a fresh budget would have run for 12 s more; the resume had at most ~7 s left
    assert resumed_wall < budget_s, f"the resumed run took {resumed_wall:.1f} s: it got a fresh budget"
    tally.add("resume state: kills", 1)
    tally.add("resume state: resumes correct", 1)
    tally.summary_line("budget-resume", budget_s=budget_s, resumed_run_s=round(resumed_wall, 1),
                       total_elapsed_s=round(rep["elapsed_hours"] * 3600, 1))
