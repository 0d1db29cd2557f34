"""20 real SIGKILLs at seeded random moments of a training process, each followed by a resume.

Where a kill lands (setup, a step, a checkpoint save, the export) is up to the clock; the
test reports the spread. After each kill: the checkpoints complete before the last save began
are byte-identical, ``--resume_from_checkpoint latest`` picks the newest complete checkpoint
(or starts fresh, saying so, when there is none), and the resumed run exits 0 with exactly
the weights of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import REPO_ROOT

from . import tally
from .checkpoint_audit import changed_since, newest_intact, snapshot
from .runs import FRESH_START, assert_same_tensors, report, resumed_step, train_argv, trained_tensors, write_config

pytestmark = pytest.mark.slow

KILLS = 20
SEED = 20261124
STEPS = 4


def last_snapshot(directory: Path) -> dict:
    files = sorted(directory.glob("before-save-*.json"))
    return json.loads(files[-1].read_text())["checkpoints"] if files else {}


def where_it_landed(out: Path) -> str:
    if list(out.glob("checkpoint-*.tmp")):
        return "checkpoint save"
    if not out.exists() or not list(out.glob("checkpoint-*")):
        return "setup or first step"
    if (out / "run_config").exists() or (out / "adapter_model.safetensors").exists():
        return "export"
    return "between saves"


@pytest.fixture(scope="module")
def clean_run(workspace, fork_pool, tmp_path_factory) -> tuple[dict, float]:
    """Final tensors and duration of an uninterrupted run."""
    clean = tmp_path_factory.mktemp("clean")
    config = write_config(workspace, clean / "config.json", clean / "out", max_steps=STEPS)
    started = time.monotonic()
    assert fork_pool(lambda s: s.run(train_argv(config, workspace), clean, clean / "run.log")) == 0
    return trained_tensors(clean / "out"), time.monotonic() - started


def test_sigkill_at_random_moments_then_resume(workspace, fork_pool, clean_run, tmp_path):
    reference, duration = clean_run
    rng = random.Random(SEED)
    delays = [rng.uniform(0.02, 0.95 * duration) for _ in range(KILLS)]

    def trial(server, index):
        root = tmp_path / f"kill{index:02d}"
        out, snaps = root / "out", root / "snapshots"
        snaps.mkdir(parents=True)
        config = write_config(workspace, root / "config.json", out, max_steps=STEPS)
        delay = delays[index]
        for _ in range(4):  # a busy machine may finish a run before its kill: retry sooner
            pid = server.start(train_argv(config, workspace), root, root / "killed.log",
                               hooks={"snapshot_dir": str(snaps)})
            time.sleep(delay)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            code = server.wait()
            if code != 0:
                break
            shutil.rmtree(out)
            for old in snaps.iterdir():
                old.unlink()
            delay /= 2
        before, after_kill = last_snapshot(snaps), snapshot(out)
        result = dict(code=code, landed=where_it_landed(out), changed_by_kill=changed_since(before, out),
                      newest=newest_intact(out))
        result["resume_code"] = server.run(train_argv(config, workspace, "--resume_from_checkpoint", "latest"), root,
                                           root / "resume.log")
        text = (root / "resume.log").read_text()
        result |= dict(log=text, resumed=resumed_step(text), changed_by_resume=changed_since(after_kill, out), out=out)
        return result

    results = fork_pool.map(trial, range(KILLS))
    landed = Counter()
    for index, r in enumerate(results):
        where = f"kill #{index} after {delays[index]:.2f}s ({r['landed']})"
        assert r["code"] == -signal.SIGKILL, f"{where}: exit {r['code']}"
        landed[r["landed"]] += 1
        assert r["changed_by_kill"] == [], f"{where}: complete checkpoints changed: {r['changed_by_kill']}"
        assert r["resume_code"] == 0, f"{where}:\n{r['log'][-3000:]}"
        if r["newest"] is None:
            assert FRESH_START in r["log"], where
        else:
            assert r["resumed"] == r["newest"], f"{where}: resumed from {r['resumed']}, newest complete {r['newest']}"
        assert r["changed_by_resume"] == [], f"{where}: resume changed {r['changed_by_resume']}"
        rep = report(r["out"])
        assert rep["stop_reason"] == "completed" and rep["global_step"] == STEPS, where
        assert_same_tensors(trained_tensors(r["out"]), reference)
    tally.add("random SIGKILL: kills", len(results))
    tally.add("random SIGKILL: resumes correct", len(results))
    tally.summary_line("sigkill-random", kills=len(results), resumes_correct=len(results),
                       **{k.replace(" ", "_"): v for k, v in sorted(landed.items())})


def test_sigkill_of_the_entry_script_in_a_fresh_interpreter(workspace, clean_run, tmp_path):
    """The same through `python train_moe_h100.py` itself, without the fork server."""
    reference, _ = clean_run
    out = tmp_path / "out"
    config = write_config(workspace, tmp_path / "config.json", out, max_steps=STEPS)
    argv = [sys.executable, str(REPO_ROOT / "train_moe_h100.py"), *train_argv(config, workspace)[1:]]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", WANDB_MODE="disabled")
    with open(tmp_path / "killed.log", "w") as log:
        proc = subprocess.Popen(argv, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 180
        while not (out / "checkpoint-1").is_dir():  # somewhere in the training steps
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "killed.log").read_text()[-2000:]
            time.sleep(0.01)
        time.sleep(random.Random(SEED).uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    newest = newest_intact(out)
    after_kill = snapshot(out)
    resume = subprocess.run(argv + ["--resume_from_checkpoint", "latest"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert resume.returncode == 0, resume.stdout[-2000:] + resume.stderr[-2000:]
    assert resumed_step(resume.stdout) == newest
    assert changed_since(after_kill, out) == []
    assert_same_tensors(trained_tensors(out), reference)
    tally.add("random SIGKILL: kills", 1)
    tally.add("random SIGKILL: resumes correct", 1)
    tally.summary_line("sigkill-fresh-interpreter", resumed_from=newest)
