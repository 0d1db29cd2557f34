"""Bad inputs through the real command line: exit 2, one ``error:`` line naming the file or field,
no traceback; a pickled ``moe_layers.pt`` is refused, never executed.

Every case runs in its own process forked from a pre-imported parent (the same ``main()`` the
``therapeutic-moe`` script calls); cases marked ``fresh`` also run in a new interpreter
(``python -m therapeutic_moe``) to show the two agree.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from . import tally
from .bad_inputs import ALL_CASES, MARKER, ExecutesWhenUnpickled
from .runs import write_config

pytestmark = pytest.mark.slow
ERROR_LINE = re.compile(r"^(therapeutic-moe[\w -]*: )?error: ")


def params():
    for case in ALL_CASES:
        marks = [pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else []
        yield pytest.param(case, id=case.id, marks=marks)


@pytest.fixture(scope="module")
def outcomes(workspace, trained_model, fork_pool, tmp_path_factory) -> dict:
    """Run every case once (in parallel); {case id: {"fork": (code, text), "fresh": (code, stderr)}}."""
    root = tmp_path_factory.mktemp("bad-inputs")
    fx = {"good_config": write_config(workspace, root / "good-config.json", root / "unused"),
          "safety": workspace / "safety.json", "base": workspace / "base", "data": workspace / "data.json",
          "model": trained_model}
    dirs = {}
    for case in ALL_CASES:
        d = root / case.id
        d.mkdir()
        case.setup(d, fx)
        dirs[case.id] = d

    def forked(server, case):
        d = dirs[case.id]
        code = server.run(case.argv(d, fx), d, d / "fork.log", timeout=300)
        return code, (d / "fork.log").read_text(errors="replace"), (d / MARKER).exists()

    results = {case.id: {"fork": r} for case, r in zip(ALL_CASES, fork_pool.map(forked, ALL_CASES))}

    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", WANDB_MODE="disabled")

    def fresh(case):
        d = dirs[case.id]
        proc = subprocess.run([sys.executable, "-m", "therapeutic_moe", *case.argv(d, fx)], cwd=d, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
        return proc.returncode, proc.stderr, (d / MARKER).exists()

    fresh_cases = [c for c in ALL_CASES if c.fresh]
    with ThreadPoolExecutor(fork_pool.size) as pool:
        for case, r in zip(fresh_cases, pool.map(fresh, fresh_cases)):
            results[case.id]["fresh"] = r
    return results


def assert_refused(code: int, text: str, marker_exists: bool, case) -> None:
    assert "Traceback" not in text, text[-3000:]
    assert code == 2, f"exit {code}:\n{text[-3000:]}"
    errors = [line for line in text.splitlines() if ERROR_LINE.match(line)]
    assert len(errors) == 1, text[-3000:]
    missing = [name for name in case.names if name not in text]
    assert not missing, f"the message does not name {missing}:\n{errors[0]}"
    assert not marker_exists, "the pickled payload was EXECUTED"


@pytest.mark.parametrize("case", list(params()))
def test_bad_input_is_refused_cleanly(outcomes, case):
    runs = outcomes[case.id]
    for how, (code, text, marker) in runs.items():
        assert_refused(code, text, marker, case)
    tally.add("bad inputs through the CLI", 1)
    tally.add("bad inputs: CLI processes run", len(runs))
    if case.extra.get("marker"):
        tally.add("pickled payloads refused", len(runs))


def test_the_pickle_payload_is_live(tmp_path):
    """The refusal tests mean something only if loading the payload would run it."""
    path, marker = tmp_path / "moe_layers.pt", tmp_path / MARKER
    torch.save({"w": ExecutesWhenUnpickled(marker)}, path)
    torch.load(path, weights_only=False)  # our own harmless payload: writes the marker
    assert marker.read_text() == "executed"


def test_table_size():
    assert len(ALL_CASES) >= 30
    tally.summary_line("bad-inputs", cases=len(ALL_CASES), known_bugs=sum(1 for c in ALL_CASES if c.bug),
                       fresh_interpreter_runs=sum(1 for c in ALL_CASES if c.fresh))
