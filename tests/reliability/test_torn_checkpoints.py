"""Torn or damaged files in the newest checkpoint: resume falls back to the previous one, loudly;
the same checkpoint given by path is refused with exit 2 and one clear line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from . import tally
from .checkpoint_audit import intact_steps
from .runs import FRESH_START, copy_tree, report, resumed_step, train_argv, write_config

pytestmark = pytest.mark.slow


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {
    "adapter-truncated": lambda c: truncate(c / "adapter_model.safetensors"),
    "optimizer-truncated": lambda c: truncate(c / "optimizer.pt"),
    "moe-weights-empty": lambda c: truncate(c / "moe_layers.pt", 0.0),
    "optimizer-bit-flip": lambda c: flip_byte(c / "optimizer.pt"),
    "scheduler-missing": lambda c: (c / "scheduler.pt").unlink(),
    "manifest-missing": lambda c: (c / "COMPLETE").unlink(),
    "manifest-truncated": lambda c: truncate(c / "COMPLETE"),
    "manifest-not-an-object": lambda c: (c / "COMPLETE").write_text("[]"),
    "manifest-files-not-a-dict": lambda c: (c / "COMPLETE").write_text('{"files": ["optimizer.pt"]}'),
}
XFAIL: dict[str, str] = {}  # damage kinds with a known bug: strict xfail until fixed


def cases():
    for name in DAMAGE:
        marks = [pytest.mark.xfail(strict=True, reason=XFAIL[name])] if name in XFAIL else []
        yield pytest.param(name, marks=marks, id=name)


@pytest.fixture(scope="module")
def finished(workspace, fork_pool, tmp_path_factory) -> Path:
    """A finished 3-step run with checkpoints 1, 2, 3."""
    root = tmp_path_factory.mktemp("finished")
    config = write_config(workspace, root / "config.json", root / "out", max_steps=3)
    assert fork_pool(lambda s: s.run(train_argv(config, workspace), root, root / "run.log")) == 0
    assert intact_steps(root / "out") == [1, 2, 3]
    return root / "out"


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("damage", list(cases()))
def test_damaged_newest_checkpoint(workspace, fork_pool, finished, tmp_path, damage):
    out = copy_tree(finished, tmp_path / "out")
    DAMAGE[damage](out / "checkpoint-3")
    config = write_config(workspace, tmp_path / "config.json", out, max_steps=4)

    def run(server):
        explicit = server.run(train_argv(config, workspace, "--resume_from_checkpoint", str(out / "checkpoint-3")),
                              tmp_path, tmp_path / "explicit.log")
        latest = server.run(train_argv(config, workspace, "--resume_from_checkpoint", "latest"), tmp_path,
                            tmp_path / "latest.log")
        return explicit, latest

    explicit, latest = fork_pool(run)
    # by path: refused, one line naming it and the intact one to use instead
    text = (tmp_path / "explicit.log").read_text()
    assert explicit == 2, text[-2000:]
    assert "Traceback" not in text
    [line] = error_lines(text)
    assert "checkpoint-3" in line and "damaged" in line and "checkpoint-2" in line, line
    # latest: falls back to checkpoint-2 with a warning, re-does step 3 and goes on
    text = (tmp_path / "latest.log").read_text()
    assert latest == 0, text[-3000:]
    assert "skipping torn checkpoint" in text and "checkpoint-3" in text
    assert resumed_step(text) == 2 and FRESH_START not in text
    assert report(out)["global_step"] == 4
    assert intact_steps(out) == [1, 2, 3, 4]  # step 3 saved again over the torn directory
    tally.add("torn checkpoints: damages tried", 1)
    tally.add("torn checkpoints: fallbacks correct", 1)


def test_every_checkpoint_torn_starts_fresh_but_says_so(workspace, fork_pool, finished, tmp_path):
    out = copy_tree(finished, tmp_path / "out")
    for step in (1, 2, 3):
        truncate(out / f"checkpoint-{step}" / "optimizer.pt")
    config = write_config(workspace, tmp_path / "config.json", out, max_steps=3)
    code = fork_pool(lambda s: s.run(train_argv(config, workspace, "--resume_from_checkpoint", "latest"), tmp_path,
                                     tmp_path / "latest.log"))
    text = (tmp_path / "latest.log").read_text()
    assert code == 0, text[-3000:]
    for step in (1, 2, 3):
        assert f"skipping torn checkpoint {out / f'checkpoint-{step}'}" in text
    assert FRESH_START in text and resumed_step(text) is None
    assert intact_steps(out) == [1, 2, 3]
    tally.add("torn checkpoints: damages tried", 1)
    tally.add("torn checkpoints: fallbacks correct", 1)


def test_stale_temporary_directory_is_ignored_and_cleaned(workspace, fork_pool, finished, tmp_path):
    """A save killed before its rename leaves checkpoint-N.tmp: never resumed from, removed later."""
    out = copy_tree(finished, tmp_path / "out")
    shutil.copytree(out / "checkpoint-3", out / "checkpoint-9.tmp")  # complete-looking, but unpublished
    config = write_config(workspace, tmp_path / "config.json", out, max_steps=4)
    code = fork_pool(lambda s: s.run(train_argv(config, workspace, "--resume_from_checkpoint", "latest"), tmp_path,
                                     tmp_path / "latest.log"))
    text = (tmp_path / "latest.log").read_text()
    assert code == 0 and resumed_step(text) == 3, text[-3000:]
    assert not (out / "checkpoint-9.tmp").exists()
    tally.add("torn checkpoints: damages tried", 1)
    tally.add("torn checkpoints: fallbacks correct", 1)
