"""Fixtures for the reliability tests: a workspace with a tiny base model and dataset, fork
servers for fast real training processes, and a trained tiny model directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runtime_helpers import write_dataset, write_tiny_base

from . import tally
from .runs import SAFETY_CONFIG, ForkPool, train_argv, write_config


@pytest.fixture(scope="package")
def workspace(tmp_path_factory) -> Path:
    """Tiny base model, dataset and safety config shared by every run (read-only for tests)."""
    root = tmp_path_factory.mktemp("reliability")
    write_tiny_base(root / "base")
    write_dataset(root / "data.json")
    (root / "safety.json").write_text(json.dumps(SAFETY_CONFIG))
    return root


@pytest.fixture(scope="package")
def fork_pool():
    pool = ForkPool(size=max(1, min(2, os.cpu_count() or 1)))
    yield pool
    pool.close()


@pytest.fixture(scope="package")
def trained_model(workspace, fork_pool) -> Path:
    """An exported tiny model directory (4 experts, checkpoints 1 and 2), trained once for these tests."""
    out = workspace / "trained"
    if not (out / "moe_layers.pt").is_file():
        config = write_config(workspace, workspace / "trained.json", out, max_steps=2, save_steps=1)
        code = fork_pool(lambda s: s.run(train_argv(config, workspace), workspace, workspace / "trained.log"))
        assert code == 0, (workspace / "trained.log").read_text()[-3000:]
    return out


def pytest_terminal_summary(terminalreporter):
    if tally.COUNTS:
        terminalreporter.write_sep("-", "reliability counts")
        for name, value in sorted(tally.COUNTS.items()):
            terminalreporter.write_line(f"{name}: {value}")
