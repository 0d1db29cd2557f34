"""An independent reading of checkpoint directories, so the tests do not trust the code they test.

A checkpoint is intact when its COMPLETE manifest parses, lists exactly the files present
(besides itself) and every listed file has the recorded size and SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

STEP_DIR = re.compile(r"^checkpoint-(\d+)$")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def hash_tree(directory: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under ``directory``."""
    directory = Path(directory)
    return {str(p.relative_to(directory)): sha256(p) for p in sorted(directory.rglob("*")) if p.is_file()}


def intact(directory: Path) -> bool:
    directory = Path(directory)
    try:
        manifest = json.loads((directory / "COMPLETE").read_text())
        listed = manifest["files"]
        present = set(hash_tree(directory)) - {"COMPLETE"}
        if set(listed) != present:
            return False
        return all(sha256(directory / name) == meta["sha256"] for name, meta in listed.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def step_dirs(output_dir: Path) -> dict[int, Path]:
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return {}
    return {int(m.group(1)): p for p in output_dir.iterdir() if p.is_dir() and (m := STEP_DIR.match(p.name))}


def intact_steps(output_dir: Path) -> list[int]:
    return sorted(step for step, path in step_dirs(output_dir).items() if intact(path))


def newest_intact(output_dir: Path) -> int | None:
    steps = intact_steps(output_dir)
    return steps[-1] if steps else None


def snapshot(output_dir: Path) -> dict[str, dict[str, str]]:
    """{checkpoint name: hash_tree} of every intact checkpoint."""
    return {f"checkpoint-{s}": hash_tree(Path(output_dir) / f"checkpoint-{s}") for s in intact_steps(output_dir)}


def changed_since(before: dict[str, dict[str, str]], output_dir: Path) -> list[str]:
    """Names of checkpoints in ``before`` whose files are no longer byte-identical (or are gone)."""
    changed = []
    for name, files in before.items():
        path = Path(output_dir) / name
        if not path.is_dir() or hash_tree(path) != files:
            changed.append(name)
    return changed
