"""Crash matrix: the training process dies at each file write of a checkpoint save.

Checkpoints are written by the background writer thread (``async_checkpointing``, the
default), so every save trial here dies while that thread writes; ``test_crash_async_writer``
adds a real SIGKILL in each phase of a background save while the loop goes on.

A clean run lists every write under the output directory (files, renames, deletions). Each
trial then re-runs it and dies (``os._exit(137)``, what an OOM kill leaves) at one of those
writes, before it or half-way through it. After each crash:
- the checkpoints that were complete before the interrupted save are byte-identical;
- ``--resume_from_checkpoint latest`` resumes from the newest checkpoint that is complete
  (checked here with an independent manifest reader), never from a torn one;
- the resumed run exits 0 and ends with exactly the weights of the uninterrupted run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from . import tally
from .checkpoint_audit import changed_since, intact_steps, newest_intact, snapshot
from .runs import FRESH_START, assert_same_tensors, report, resumed_step, train_argv, trained_tensors, write_config

pytestmark = pytest.mark.slow

FILE_WRITES = {"open", "torch.save", "safetensors", "rmtree"}  # can be cut half-way
CRASH_EXIT = 137


def clean_run(workspace, fork_pool, root: Path, **overrides) -> tuple[Path, list[dict]]:
    out = root / "out"
    config = write_config(workspace, root / "config.json", out, **overrides)
    events = root / "events.jsonl"
    code = fork_pool(lambda s: s.run(train_argv(config, workspace), root, root / "run.log",
                                     hooks={"scope": str(out), "event_log": str(events)}))
    assert code == 0, (root / "run.log").read_text()[-3000:]
    return out, [json.loads(line) for line in events.read_text().splitlines()]


def last_snapshot(directory: Path) -> dict:
    files = sorted(directory.glob("before-save-*.json"))
    return json.loads(files[-1].read_text())["checkpoints"] if files else {}


def crash_and_resume(workspace, server, root: Path, event: dict, mode: str, overrides: dict) -> dict:
    """One trial; returns what the assertions need (computed in the worker thread)."""
    out, snaps = root / "out", root / "snapshots"
    snaps.mkdir(parents=True)
    config = write_config(workspace, root / "config.json", out, **overrides)
    events = root / "events.jsonl"
    code = server.run(train_argv(config, workspace), root, root / "crash.log",
                      hooks={"scope": str(out), "crash_at": event["n"], "crash_mode": mode,
                             "snapshot_dir": str(snaps), "event_log": str(events)})
    last_event = json.loads(events.read_text().splitlines()[-1])
    before = last_snapshot(snaps)
    after_crash = snapshot(out)
    changed_by_crash = changed_since(before, out)
    newest = newest_intact(out)
    resume_code = server.run(train_argv(config, workspace, "--resume_from_checkpoint", "latest"), root,
                             root / "resume.log")
    text = (root / "resume.log").read_text()
    return dict(code=code, last_event=last_event, before=before, changed_by_crash=changed_by_crash, newest=newest,
                resume_code=resume_code, resume_log=text, resumed=resumed_step(text),
                changed_by_resume=changed_since(after_crash, out), out=out)


def check_trial(trial: dict, event: dict, mode: str, expected_newest: int | None, reference: Path,
                final_step: int) -> None:
    where = f"crash {mode} write #{event['n']} ({event['kind']} {event['path']})"
    assert trial["code"] == CRASH_EXIT, f"{where}: the injected crash did not happen"
    last = trial["last_event"]  # temporary file names are random: compare their folder
    assert (last["n"], last["kind"], Path(last["path"]).parent) == (event["n"], event["kind"], Path(event["path"]).parent), where
    assert trial["changed_by_crash"] == [], f"{where}: complete checkpoints changed: {trial['changed_by_crash']}"
    assert trial["newest"] == expected_newest, f"{where}: newest complete checkpoint {trial['newest']}"
    assert trial["resume_code"] == 0, f"{where}: resume failed:\n{trial['resume_log'][-3000:]}"
    if expected_newest is None:
        assert FRESH_START in trial["resume_log"], where
    else:
        assert trial["resumed"] == expected_newest, f"{where}: resumed from {trial['resumed']}"
    assert trial["changed_by_resume"] == [], f"{where}: the resumed run changed {trial['changed_by_resume']}"
    out = trial["out"]
    assert not list(out.glob("*.tmp")), f"{where}: stale temporary checkpoint left behind"
    rep = report(out)
    assert rep["stop_reason"] == "completed" and rep["global_step"] == final_step, where
    assert_same_tensors(trained_tensors(out), trained_tensors(reference))


def test_crash_at_every_write_of_a_checkpoint_save_and_of_the_export(workspace, fork_pool, tmp_path):
    reference, events = clean_run(workspace, fork_pool, tmp_path / "clean")
    assert intact_steps(reference) == [1, 2, 3]
    save2 = [e for e in events if e["path"].startswith("checkpoint-2.tmp")]
    publish2 = next(e["n"] for e in save2 if e["kind"] == "rename")
    export = [e for e in events if not e["path"].startswith("checkpoint-")]
    assert len(save2) >= 10 and len(export) >= 5, events  # the harness sees the writes
    # async_checkpointing (the default): every write of a save is the background writer's, so
    # each trial below kills the process while that thread is writing; the export is the loop's
    assert all(e["thread"].startswith("checkpoint-writer") for e in save2), {e["thread"] for e in save2}
    assert all(e["thread"] == "MainThread" for e in export), {e["thread"] for e in export}

    trials = [(e, "before") for e in save2] + [(e, "mid") for e in save2 if e["kind"] in FILE_WRITES]
    trials += [(e, "before") for e in export]

    def one(server, item):
        event, mode = item
        return crash_and_resume(workspace, server, tmp_path / f"w{event['n']:03d}-{mode}", event, mode, {})

    results = fork_pool.map(one, trials)
    for (event, mode), trial in zip(trials, results):
        # Until the rename publishes checkpoint-2, checkpoint-1 is the newest complete one.
        expected = 1 if event["n"] <= publish2 else 3
        check_trial(trial, event, mode, expected, reference, final_step=3)
    save_trials = sum(1 for e, _ in trials if e in save2)
    tally.add("crash matrix: write points killed", len(trials))
    tally.add("crash matrix: resumes correct", len(trials))
    tally.summary_line("crash-matrix", writes_per_checkpoint=len(save2), save_kill_points=save_trials,
                       export_kill_points=len(export), resumes_correct=len(trials))


def test_crash_while_pruning_old_checkpoints(workspace, fork_pool, tmp_path):
    """save_total_limit=1: dying while the previous checkpoint is deleted leaves the new one."""
    reference, events = clean_run(workspace, fork_pool, tmp_path / "clean", save_total_limit=1)
    assert intact_steps(reference) == [3]
    prunes = [e for e in events if e["kind"] == "rmtree" and e["path"] == "checkpoint-1"]
    assert prunes, events
    trials = [(e, mode) for e in prunes for mode in ("before", "mid")]

    def one(server, item):
        event, mode = item
        return crash_and_resume(workspace, server, tmp_path / f"p{event['n']:03d}-{mode}", event, mode,
                                {"save_total_limit": 1})

    for (event, mode), trial in zip(trials, fork_pool.map(one, trials)):
        where = f"crash {mode} pruning ({event['path']})"
        assert trial["code"] == CRASH_EXIT, where
        assert trial["newest"] == 2, where
        assert trial["resume_code"] == 0 and trial["resumed"] == 2, trial["resume_log"][-2000:]
        assert intact_steps(trial["out"]) == [3], where
        assert_same_tensors(trained_tensors(trial["out"]), trained_tensors(reference))
    tally.add("crash matrix: write points killed", len(trials))
    tally.add("crash matrix: resumes correct", len(trials))
    tally.summary_line("crash-while-pruning", kill_points=len(trials), resumes_correct=len(trials))


def test_a_crash_during_a_re_export_never_leaves_a_mixed_model(workspace, fork_pool, tmp_path):
    out = tmp_path / "out"
    # constant learning rate: the extra step changes the weights (a decayed schedule ends at 0)
    config3 = write_config(workspace, tmp_path / "config3.json", out, max_steps=3, lr_scheduler_type="constant")
    config4 = write_config(workspace, tmp_path / "config4.json", out, max_steps=4, lr_scheduler_type="constant")

    def run(server):
        first = server.run(train_argv(config3, workspace), tmp_path, tmp_path / "first.log")
        crashed = server.run(train_argv(config4, workspace, "--resume_from_checkpoint", "latest"), tmp_path,
                             tmp_path / "second.log",
                             hooks={"scope": str(out), "crash_on": ".export.tmp/moe_layers.pt",
                                    "crash_mode": "before"})
        return first, crashed

    first, crashed = fork_pool(run)
    assert first == 0 and crashed == CRASH_EXIT
    exported = trained_tensors(out)
    assert not all(torch.equal(a, b) for a, b in zip(trained_tensors(out / "checkpoint-3").values(),
                                                     trained_tensors(out / "checkpoint-4").values()))
    whole = [step for step in (3, 4) if all(
        torch.equal(exported[k], v) for k, v in trained_tensors(out / f"checkpoint-{step}").items())]
    assert whole, "the exported model mixes weights of two different steps"


def test_disk_full_during_a_save_loses_nothing(workspace, fork_pool, tmp_path):
    out = tmp_path / "out"
    config = write_config(workspace, tmp_path / "config.json", out, max_steps=3)
    snaps = tmp_path / "snapshots"
    snaps.mkdir()

    def run(server):
        full = server.run(train_argv(config, workspace), tmp_path, tmp_path / "full.log",
                          hooks={"scope": str(out), "crash_on": "checkpoint-2.tmp/optimizer.pt",
                                 "crash_mode": "disk-full", "snapshot_dir": str(snaps)})
        after = snapshot(out)
        resumed = server.run(train_argv(config, workspace, "--resume_from_checkpoint", "latest"), tmp_path,
                             tmp_path / "resume.log")
        return full, after, resumed

    full, after, resumed = fork_pool(run)
    assert full != 0
    assert list(after) == ["checkpoint-1"] and changed_since(last_snapshot(snaps), out) == []
    assert resumed == 0 and resumed_step((tmp_path / "resume.log").read_text()) == 1
    assert intact_steps(out) == [1, 2, 3]
    tally.add("crash matrix: write points killed", 1)
    tally.add("crash matrix: resumes correct", 1)


def test_disk_full_during_a_save_is_one_clear_line(workspace, fork_pool, tmp_path):
    out = tmp_path / "out"
    config = write_config(workspace, tmp_path / "config.json", out, max_steps=2)
    code = fork_pool(lambda s: s.run(train_argv(config, workspace), tmp_path, tmp_path / "full.log",
                                     hooks={"scope": str(out), "crash_on": "checkpoint-2.tmp/optimizer.pt",
                                            "crash_mode": "disk-full"}))
    text = (tmp_path / "full.log").read_text()
    assert code == 2 and "Traceback" not in text, text[-2000:]
    [line] = [x for x in text.splitlines() if x.startswith("error:")]
    assert "optimizer.pt" in line or "checkpoint-2" in line
