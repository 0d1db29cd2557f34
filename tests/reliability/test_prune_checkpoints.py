"""``prune_checkpoints``: never zero intact checkpoints, never the best (protected) or the newest,
oldest first, stale temporary directories removed. Table-driven cases plus a property test."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from therapeutic_moe.training.checkpoint import prune_checkpoints, write_checkpoint

from . import tally
from .checkpoint_audit import intact_steps, step_dirs

MAX_STEP = 10


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """Real checkpoints 1..MAX_STEP written by write_checkpoint, copied into each case."""
    root = tmp_path_factory.mktemp("ckpts")
    for step in range(1, MAX_STEP + 1):
        write_checkpoint(root, step, lambda d, s=step: (d / "weights.bin").write_bytes(bytes([s]) * (100 + s)))
    return root


def build(template: Path, out: Path, steps, torn=(), stale=()) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for step in steps:
        shutil.copytree(template / f"checkpoint-{step}", out / f"checkpoint-{step}")
    for step in torn:
        weights = out / f"checkpoint-{step}" / "weights.bin"
        weights.write_bytes(weights.read_bytes()[:10])  # a size the manifest does not list
    for step in stale:
        shutil.copytree(template / f"checkpoint-{step}", out / f"checkpoint-{step}.tmp")


CASES = [
    # id, existing, torn, keep_last, protected (best), expected intact after
    ("keeps-newest-and-best", [1, 2, 3, 4, 5], [], 1, [2], [2, 5]),
    ("keeps-last-two", [1, 2, 3, 4, 5], [], 2, [], [4, 5]),
    ("best-among-last", [1, 2, 3, 4, 5], [], 2, [5], [4, 5]),
    ("best-is-oldest-keep-two", [1, 2, 3, 4], [], 2, [1], [1, 4]),
    ("newest-torn-keeps-newest-intact", [1, 2, 3, 4], [4], 1, [], [3]),
    ("all-torn-removes-nothing", [1, 2, 3], [1, 2, 3], 1, [], []),
    ("under-the-limit", [1, 2], [], 3, [], [1, 2]),
    ("single-checkpoint-keep-one", [7], [], 1, [], [7]),
    ("torn-best-does-not-count", [1, 2, 3, 4], [2], 1, [2], [4]),
    ("protected-beyond-limit", [1, 2, 3, 4, 5, 6], [], 1, [1, 3], [1, 3, 6]),
]


@pytest.mark.parametrize("existing, torn, keep_last, best, expected", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_prune_table(template, tmp_path, existing, torn, keep_last, best, expected):
    out = tmp_path / "out"
    build(template, out, existing, torn, stale=[9])
    removed = prune_checkpoints(out, keep_last, {out / f"checkpoint-{s}" for s in best})
    assert intact_steps(out) == expected
    assert not (out / "checkpoint-9.tmp").exists() and out / "checkpoint-9.tmp" in removed
    for step in torn:  # torn ones are left for a person to look at
        assert (out / f"checkpoint-{step}").is_dir()
    tally.add("prune: cases checked", 1)


def test_protect_given_relative_to_the_working_directory(template, tmp_path, monkeypatch):
    """The training loop passes str(output_dir / 'checkpoint-N'), relative when output_dir is."""
    build(template, tmp_path / "out", [1, 2, 3, 4])
    monkeypatch.chdir(tmp_path)
    prune_checkpoints(Path("out"), 1, {Path("out") / "checkpoint-2"})
    assert intact_steps(tmp_path / "out") == [2, 4]
    tally.add("prune: cases checked", 1)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_prune_properties(template, data):
    existing = sorted(data.draw(st.sets(st.integers(1, MAX_STEP), max_size=8), label="existing"))
    torn = sorted(data.draw(st.sets(st.sampled_from(existing), max_size=len(existing)) if existing else st.just(set()),
                            label="torn"))
    keep_last = data.draw(st.integers(1, 5), label="keep_last")
    best = data.draw(st.sets(st.integers(1, MAX_STEP), max_size=2), label="protected")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        build(template, out, existing, torn, stale=data.draw(st.sets(st.integers(1, MAX_STEP), max_size=2)))
        before = intact_steps(out)
        prune_checkpoints(out, keep_last, {out / f"checkpoint-{s}" for s in best})
        after = intact_steps(out)
        assert set(after) <= set(before)
        if before:
            assert after, "pruning left no intact checkpoint"
            assert before[-1] in after, "the newest intact checkpoint was pruned"
        assert set(before) & best <= set(after), "a protected (best) checkpoint was pruned"
        must_keep = (set(before) & best) | set(before[-1:])
        if len(before) <= keep_last:
            assert after == before
        else:
            assert len(after) == max(keep_last, len(must_keep))
        removed = set(before) - set(after)
        kept_unprotected = set(after) - must_keep
        assert all(r < k for r in removed for k in kept_unprotected), "pruned a newer checkpoint before an older one"
        assert not list(out.glob("*.tmp"))
        assert set(step_dirs(out)) >= set(torn)  # torn directories untouched
    tally.add("prune: property examples", 1)
