"""Crash-safe checkpoint directories.

A checkpoint is written into ``checkpoint-N.tmp/``, every file fsynced, then a ``COMPLETE``
manifest with each file's size and SHA-256 is written and the directory renamed to
``checkpoint-N``. A directory without a verifying manifest is torn: resume skips it with a
warning and uses the newest one that verifies (the HF Trainer would happily load a torn one).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import warnings
from pathlib import Path
from typing import Callable

from therapeutic_moe.errors import UserError

MANIFEST = "COMPLETE"
CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_checkpoint(output_dir: Path, step: int, write_files: Callable[[Path], None]) -> Path:
    """Run ``write_files(tmp_dir)``, then seal and publish the directory atomically."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    final = output_dir / f"checkpoint-{step}"
    tmp = output_dir / f"checkpoint-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    write_files(tmp)
    files = {}
    for path in sorted(p for p in tmp.rglob("*") if p.is_file()):
        _fsync(path)
        files[str(path.relative_to(tmp))] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    manifest = tmp / MANIFEST
    manifest.write_text(json.dumps({"step": step, "written_at": time.time(), "files": files}, indent=1))
    _fsync(manifest)
    _fsync(tmp)
    if final.exists():  # same step saved again (e.g. a stop right after a periodic save)
        old = output_dir / f"checkpoint-{step}.old"
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(final)
    _fsync(output_dir)
    return final


def _manifest_problem(document) -> str | None:
    """Why ``document`` is not {"files": {name: {"bytes": int, "sha256": str}}}, else None."""
    if not isinstance(document, dict):
        return f"expected a JSON object, got {type(document).__name__}"
    files = document.get("files")
    if not isinstance(files, dict):
        return f"'files' must be an object, got {type(files).__name__}"
    for name, meta in files.items():
        # Only names inside the checkpoint: a manifest must not make resume hash files elsewhere.
        parts = Path(name).parts
        if not name or Path(name).is_absolute() or ".." in parts:
            return f"file name {name!r} is not inside the checkpoint"
        if not isinstance(meta, dict):
            return f"entry for {name!r} must be an object, got {type(meta).__name__}"
        size, digest = meta.get("bytes"), meta.get("sha256")
        if not isinstance(size, int) or isinstance(size, bool) or not isinstance(digest, str):
            return f"entry for {name!r} needs an integer 'bytes' and a string 'sha256'"
    return None


def verify_checkpoint(path: Path, deep: bool = True) -> str | None:
    """None when the checkpoint is complete and intact, else the reason it is not."""
    path = Path(path)
    manifest = path / MANIFEST
    if not manifest.is_file():
        return "no COMPLETE manifest (save was interrupted)"
    try:
        document = json.loads(manifest.read_text())
    except (ValueError, OSError, RecursionError) as exc:
        return f"unreadable manifest: {exc}"
    # A manifest can parse yet have another shape (a torn or hand-edited file); that is a
    # torn checkpoint too, never a traceback during resume.
    problem = _manifest_problem(document)
    if problem is not None:
        return f"malformed manifest: {problem}"
    for name, meta in document["files"].items():
        f = path / name
        try:
            if not f.is_file():
                return f"{name} is missing"
            if f.stat().st_size != meta["bytes"]:
                return f"{name} has {f.stat().st_size} bytes, manifest says {meta['bytes']}"
            if deep and _sha256(f) != meta["sha256"]:
                return f"{name} does not match its SHA-256"
        except (OSError, ValueError) as exc:  # unreadable, name too long, NUL in the name
            return f"{name!r} cannot be checked: {exc}"
    return None


def list_checkpoints(output_dir: Path) -> list[tuple[int, Path]]:
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in output_dir.iterdir() if p.is_dir() and (m := CHECKPOINT_RE.match(p.name))]
    return sorted(found)


def find_latest_valid(output_dir: Path) -> Path | None:
    """Newest checkpoint whose manifest verifies; torn ones are skipped with a warning."""
    for step, path in reversed(list_checkpoints(output_dir)):
        reason = verify_checkpoint(path)
        if reason is None:
            return path
        warnings.warn(f"skipping torn checkpoint {path}: {reason}", stacklevel=2)
    return None


def resolve_resume(value: str | None, output_dir: Path) -> Path | None:
    """``latest`` → newest valid checkpoint in output_dir (None if there is none yet);
    a path → that checkpoint, refused if its manifest does not verify."""
    if not value:
        return None
    if value == "latest":
        return find_latest_valid(output_dir)
    path = Path(value)
    if not path.is_dir():
        raise UserError(f"--resume_from_checkpoint {value}: no such directory")
    reason = verify_checkpoint(path)
    if reason is not None:
        latest = find_latest_valid(path.parent)
        hint = f"; the newest intact one is {latest}" if latest else ""
        raise UserError(f"--resume_from_checkpoint {value}: refusing a damaged checkpoint ({reason}){hint}")
    return path


def prune_checkpoints(output_dir: Path, keep_last: int, protect: set[Path] = frozenset()) -> list[Path]:
    """Delete the oldest complete checkpoints beyond ``keep_last``, never a protected one
    (the best, the newest) and never leaving zero intact checkpoints. Stale ``.tmp``
    directories of interrupted saves are removed too."""
    output_dir = Path(output_dir)
    removed = []
    for stale in output_dir.glob("checkpoint-*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
        removed.append(stale)
    if keep_last <= 0:
        return removed
    valid = [p for _, p in list_checkpoints(output_dir) if verify_checkpoint(p, deep=False) is None]
    protect = {Path(p).resolve() for p in protect}
    if valid:
        protect.add(valid[-1].resolve())
    excess = len(valid) - keep_last
    for path in valid:
        if excess <= 0:
            break
        if path.resolve() in protect:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
        excess -= 1
    return removed
