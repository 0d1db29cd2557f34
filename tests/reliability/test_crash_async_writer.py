"""A SIGKILL while the background checkpoint writer is in each phase of a save.

The writer thread is stopped in one phase of the save of checkpoint-2 (right after it took
over the snapshot; half-way through a file; after every file and the manifest are fsynced,
before the rename that publishes it; half-way through pruning the previous checkpoint). The
training loop goes on meanwhile: the test waits until it has applied step 3 and is blocked at
the next save point (at most one write in flight), then sends a real SIGKILL. After each kill
the same guarantees as for a synchronous save hold: the checkpoints complete before the save
are byte-identical, ``--resume_from_checkpoint latest`` resumes from the newest complete one,
and the resumed run ends with exactly the weights of an uninterrupted run. A synchronous save
stopped in the same phase is the control: there the loop stops with the writer.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from . import tally
from .checkpoint_audit import changed_since, intact_steps, newest_intact, snapshot
from .runs import assert_same_tensors, batch_steps, report, resumed_step, train_argv, trained_tensors, wait_for, write_config

pytestmark = pytest.mark.slow

WRITER_THREAD = "checkpoint-writer"
# phase -> (hooks that stop the writer there, config overrides, newest complete checkpoint after the kill)
PHASES = {
    "after-snapshot": ({"writer_crash_at_save": 2}, {}, 1),
    "mid-file": ({"crash_on": "checkpoint-2.tmp/optimizer.pt", "crash_mode": "mid"}, {}, 1),
    "after-fsync-before-rename": ({"crash_on": "checkpoint-2.tmp", "crash_mode": "before"}, {}, 1),
    "during-prune": ({"crash_on": "checkpoint-1", "crash_mode": "mid"}, {"save_total_limit": 1}, 2),
}


def wait_for_steps(batch_log: Path, steps: int, pid: int, log: Path, timeout: float = 60.0) -> int:
    """Optimizer steps the run has applied once it stops making progress (or reaches ``steps``)."""
    deadline, seen, last_change = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        done = len(batch_steps(batch_log))
        if done != seen:
            seen, last_change = done, time.monotonic()
        if done >= steps or time.monotonic() - last_change > 3.0:
            return done
        time.sleep(0.05)
    raise AssertionError(f"no progress report from {pid}:\n{Path(log).read_text()[-2000:]}")


def kill_in_phase(workspace, server, root: Path, hooks: dict, overrides: dict, async_on: bool) -> dict:
    out, snaps, marker, batches = root / "out", root / "snapshots", root / "paused.jsonl", root / "batches.jsonl"
    snaps.mkdir(parents=True)
    config = write_config(workspace, root / "config.json", out, async_checkpointing=async_on, **overrides)
    pid = server.start(train_argv(config, workspace), root, root / "killed.log",
                       hooks={"scope": str(out), "pause_marker": str(marker), "snapshot_dir": str(snaps),
                              "batch_log": str(batches), **hooks})
    wait_for(marker, pid, root / "killed.log")
    paused = json.loads(marker.read_text().splitlines()[0])
    # the loop goes on without the writer: step 3, then it waits at checkpoint-3 for checkpoint-2
    steps_when_killed = wait_for_steps(batches, 3, pid, root / "killed.log")
    os.kill(pid, signal.SIGKILL)
    code = server.wait()
    before = json.loads(sorted(snaps.glob("before-save-*.json"))[-1].read_text())["checkpoints"]
    after_kill = snapshot(out)
    trial = dict(code=code, thread=paused["thread"], steps_when_killed=steps_when_killed,
                 changed_by_kill=changed_since(before, out), newest=newest_intact(out))
    trial["resume_code"] = server.run(train_argv(config, workspace, "--resume_from_checkpoint", "latest"), root,
                                      root / "resume.log")
    text = (root / "resume.log").read_text()
    return trial | dict(resume_log=text, resumed=resumed_step(text), changed_by_resume=changed_since(after_kill, out),
                        out=out)


@pytest.fixture(scope="module")
def reference(workspace, fork_pool, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("async-reference")
    config = write_config(workspace, root / "config.json", root / "out")
    assert fork_pool(lambda s: s.run(train_argv(config, workspace), root, root / "run.log")) == 0
    return root / "out"


def test_sigkill_while_the_background_writer_is_in_each_phase(workspace, fork_pool, tmp_path, reference):
    phases = list(PHASES)

    def one(server, phase):
        hooks, overrides, _ = PHASES[phase]
        return kill_in_phase(workspace, server, tmp_path / phase, hooks, overrides, async_on=True)

    for phase, trial in zip(phases, fork_pool.map(one, phases)):
        expected = PHASES[phase][2]
        where = f"SIGKILL {phase}"
        assert trial["code"] == -signal.SIGKILL, f"{where}: exit {trial['code']}"
        assert trial["thread"].startswith(WRITER_THREAD), f"{where}: stopped on {trial['thread']}"
        assert trial["steps_when_killed"] == 3, f"{where}: the loop waited for the writer too early"
        pruned = ["checkpoint-1"] if phase == "during-prune" else []  # the one being deleted, on purpose
        assert trial["changed_by_kill"] in ([], pruned), f"{where}: complete checkpoints changed: {trial['changed_by_kill']}"
        assert trial["newest"] == expected, f"{where}: newest complete checkpoint {trial['newest']}"
        assert trial["resume_code"] == 0, f"{where}: resume failed:\n{trial['resume_log'][-3000:]}"
        assert trial["resumed"] == expected, f"{where}: resumed from {trial['resumed']}"
        # save_total_limit=1: the resume's own saves prune checkpoint-2 once checkpoint-3 is complete
        kept_by_limit = ["checkpoint-2"] if phase == "during-prune" else []
        assert trial["changed_by_resume"] in ([], kept_by_limit), f"{where}: the resume changed {trial['changed_by_resume']}"
        assert not list(trial["out"].glob("*.tmp")), f"{where}: stale temporary checkpoint left behind"
        rep = report(trial["out"])
        assert rep["stop_reason"] == "completed" and rep["global_step"] == 3, where
        if phase == "during-prune":
            assert intact_steps(trial["out"]) == [3], where
        assert_same_tensors(trained_tensors(trial["out"]), trained_tensors(reference))
    tally.add("crash matrix: async writer phases killed", len(phases))
    tally.add("crash matrix: resumes correct", len(phases))
    tally.summary_line("crash-async-writer", phases=len(phases), resumes_correct=len(phases))


def test_a_synchronous_save_stopped_in_the_same_phase_stops_the_loop(workspace, fork_pool, tmp_path, reference):
    """The control: with async_checkpointing false the save runs on the loop's thread, so the loop
    never reaches step 3; the resume guarantees are the same."""
    hooks, overrides, expected = PHASES["after-fsync-before-rename"]
    trial = fork_pool(lambda s: kill_in_phase(workspace, s, tmp_path / "sync", hooks, overrides, async_on=False))
    assert trial["thread"] == "MainThread" and trial["steps_when_killed"] == 2
    assert trial["newest"] == expected and trial["resumed"] == expected and trial["resume_code"] == 0
    assert_same_tensors(trained_tensors(trial["out"]), trained_tensors(reference))
    tally.add("crash matrix: write points killed", 1)
    tally.add("crash matrix: resumes correct", 1)
