"""Fault injection inside a forked training process (test harness only, never the package).

``install(spec)`` patches, in the child process only:
- every file write under ``spec["scope"]`` (``open`` for writing, ``torch.save``, safetensors
  ``save_file``, ``os.rename``/``os.replace``, ``shutil.rmtree``) into a numbered *event*; on event
  ``crash_at`` (or the first write to the path ``crash_on``) the process dies with
  ``os._exit(137)``, either before the write (``before``) or after writing half of it (``mid``),
  as an OOM kill would leave it; or the write fails with ENOSPC (``disk-full``). With
  ``pause_marker`` the process stops there instead (a marker line names the pid and the thread)
  for the test to SIGKILL while the other threads go on. Each event records its thread: the
  background checkpoint writer's or the training loop's;
- the background checkpoint writer: ``writer_crash_at_save`` = n dies (or pauses) on the writer
  thread after the n-th save's snapshot was handed over, before anything is written;
- ``write_checkpoint``: a snapshot of the intact checkpoints is written before each save, so a
  test can prove an interrupted save did not touch the earlier ones;
- the training forward pass and ``AdamW.step``: a log of micro-batch digests with step
  markers (batch order), a pause point to SIGKILL at (reached once no checkpoint write is in
  flight, so the newest complete checkpoint is known), a sleep (time passing for the budget),
  and NaN injection into loss or gradients.
"""

from __future__ import annotations

import builtins
import errno
import hashlib
import io
import json
import os
import shutil
import threading
import time
from pathlib import Path

import checkpoint_audit

CRASH_EXIT = 137
WRITERS: list = []  # the run's checkpoint writers, to wait for before a deliberate pause


def _die(pause_marker: str | None, where: str) -> None:
    """End here as a kill would (exit 137), or with a marker, stop for the test's SIGKILL."""
    if pause_marker is None:
        os._exit(CRASH_EXIT)
    _append(pause_marker, {"pid": os.getpid(), "thread": threading.current_thread().name, "where": where})
    while True:
        time.sleep(1)


def _append(path: str, record: dict) -> None:
    # One write() syscall per line: survives SIGKILL (nothing buffered in user space).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (json.dumps(record) + "\n").encode())
    finally:
        os.close(fd)


def _atomic_json(path: Path, data) -> None:
    tmp = path.with_suffix(".part")
    with _ORIGINAL["open"](tmp, "w") as f:
        json.dump(data, f)
    _ORIGINAL["replace"](tmp, path)


# Taken before any patching, so the harness itself never writes through a patched function.
_ORIGINAL: dict = dict(open=builtins.open, replace=os.replace, rename=os.rename, rmtree=shutil.rmtree)


class Events:
    def __init__(self, spec: dict):
        self.scope = os.path.realpath(spec["scope"]) if spec.get("scope") else None
        self.log = spec.get("event_log")
        self.crash_at = spec.get("crash_at")
        self.crash_on = spec.get("crash_on")  # or: the first write to this path (relative to scope)
        self.mode = spec.get("crash_mode", "before")
        self.pause_marker = spec.get("pause_marker")
        self.count = 0
        self._lock = threading.Lock()  # the writer thread and the loop may both write

    def covers(self, *paths) -> bool:
        if self.scope is None:
            return False
        for p in paths:
            try:
                real = os.path.realpath(os.fspath(p))
            except TypeError:
                continue
            if real == self.scope or real.startswith(self.scope + os.sep):
                return True
        return False

    def __call__(self, kind: str, path, do, half=None, dying=None):
        """Count one write event; die at the chosen one (``dying`` returns an object that dies on
        its first write, ``half`` writes half the file first); else perform it."""
        relative = os.path.relpath(os.fspath(path), self.scope)
        with self._lock:
            self.count += 1
            n = self.count
            if self.log:
                _append(self.log, {"n": n, "kind": kind, "path": relative, "thread": threading.current_thread().name})
            hit = n == self.crash_at or (self.crash_on is not None and relative == self.crash_on)
            if hit:
                self.crash_on = None
        if hit:
            if self.mode == "disk-full":  # the write fails the way a full disk makes it fail
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(path))
            if self.mode == "mid" and dying is not None:
                return dying()
            if self.mode == "mid" and half is not None:
                half()
            _die(self.pause_marker, f"{self.mode} {kind} {relative}")
        return do()


def _write_half(path, data: bytes) -> None:
    with _ORIGINAL["open"](path, "wb") as f:
        f.write(data[: max(1, len(data) // 2)])
        f.flush()
        os.fsync(f.fileno())


class _DyingFile:
    """A file object that writes half of its first chunk, then kills the process (or pauses)."""

    def __init__(self, handle, pause_marker: str | None):
        self._handle = handle
        self._pause_marker = pause_marker

    def write(self, data):
        self._handle.write(data[: max(1, len(data) // 2)])
        self._handle.flush()
        _die(self._pause_marker, "mid open")

    def close(self):  # closed without any write: the empty file is the torn state
        self._handle.close()
        _die(self._pause_marker, "mid open")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __getattr__(self, name):
        return getattr(self._handle, name)


def _install_write_events(events: Events) -> None:
    import peft.peft_model
    import safetensors.torch
    import torch

    _ORIGINAL.update(torch_save=torch.save, st_save=safetensors.torch.save_file)

    def patched_open(file, mode="r", *args, **kwargs):
        if isinstance(file, int) or not any(c in mode for c in "wax+") or not events.covers(file):
            return _ORIGINAL["open"](file, mode, *args, **kwargs)
        return events("open", file, lambda: _ORIGINAL["open"](file, mode, *args, **kwargs),
                      dying=lambda: _DyingFile(_ORIGINAL["open"](file, mode, *args, **kwargs), events.pause_marker))

    def patched_torch_save(obj, f, *args, **kwargs):
        if not isinstance(f, (str, os.PathLike)) or not events.covers(f):
            return _ORIGINAL["torch_save"](obj, f, *args, **kwargs)

        def half():
            buf = io.BytesIO()
            _ORIGINAL["torch_save"](obj, buf, *args, **kwargs)
            _write_half(f, buf.getvalue())

        return events("torch.save", f, lambda: _ORIGINAL["torch_save"](obj, f, *args, **kwargs), half)

    def patched_st_save(tensors, filename, metadata=None, *args, **kwargs):
        if not events.covers(filename):
            return _ORIGINAL["st_save"](tensors, filename, metadata, *args, **kwargs)

        def half():
            _write_half(filename, safetensors.torch.save(tensors, metadata=metadata))

        return events("safetensors", filename,
                      lambda: _ORIGINAL["st_save"](tensors, filename, metadata, *args, **kwargs), half)

    def patched_rename(src, dst, *args, **kwargs):
        if not events.covers(src, dst):
            return _ORIGINAL["rename"](src, dst, *args, **kwargs)
        return events("rename", src, lambda: _ORIGINAL["rename"](src, dst, *args, **kwargs))

    def patched_replace(src, dst, *args, **kwargs):
        if not events.covers(src, dst):
            return _ORIGINAL["replace"](src, dst, *args, **kwargs)
        return events("replace", src, lambda: _ORIGINAL["replace"](src, dst, *args, **kwargs))

    def patched_rmtree(path, *args, **kwargs):
        if not events.covers(path) or not os.path.isdir(path):
            return _ORIGINAL["rmtree"](path, *args, **kwargs)

        def half():
            files = sorted(p for p in Path(path).rglob("*") if p.is_file())
            for p in files[: max(1, len(files) // 2)]:
                p.unlink()

        return events("rmtree", path, lambda: _ORIGINAL["rmtree"](path, *args, **kwargs), half)

    builtins.open = io.open = patched_open
    torch.save = patched_torch_save
    safetensors.torch.save_file = peft.peft_model.safe_save_file = patched_st_save
    os.rename = patched_rename
    os.replace = patched_replace
    shutil.rmtree = patched_rmtree


def _install_writer_hooks(spec: dict) -> None:
    """Record every checkpoint writer; optionally end the n-th save on the writer thread right
    after it took over the snapshot, before its first write."""
    from therapeutic_moe.training.checkpoint_writer import CheckpointWriter

    original = CheckpointWriter.submit
    saves = {"n": 0}

    def submit(self, write, what):
        if self not in WRITERS:
            WRITERS.append(self)
        saves["n"] += 1
        if saves["n"] == spec.get("writer_crash_at_save"):
            inner = write

            def write():
                _die(spec.get("pause_marker"), "after snapshot")
                return inner()

        return original(self, write, what)

    CheckpointWriter.submit = submit


def _wait_for_writers() -> None:
    for writer in WRITERS:
        try:
            writer.wait()
        except Exception:  # noqa: BLE001 - the test kills this process next; the error does not matter
            pass


def _install_snapshots(snapshot_dir: str) -> None:
    import therapeutic_moe.training.checkpoint as checkpoint

    original = checkpoint.write_checkpoint
    counter = {"n": 0}

    def write_checkpoint(output_dir, step, write_files):
        counter["n"] += 1
        _atomic_json(Path(snapshot_dir) / f"before-save-{counter['n']:04d}.json",
                     {"step": step, "checkpoints": checkpoint_audit.snapshot(output_dir)})
        return original(output_dir, step, write_files)

    checkpoint.write_checkpoint = write_checkpoint


class _NanGrad:
    @staticmethod
    def make():
        import torch

        class NanGrad(torch.autograd.Function):
            """Identity forward (the loss stays finite), NaN gradients backward."""

            @staticmethod
            def forward(ctx, x):
                return x.view_as(x)

            @staticmethod
            def backward(ctx, grad):
                return grad * float("nan")

        return NanGrad


def _install_forward_hooks(spec: dict) -> None:
    import torch

    from therapeutic_moe.modeling.wrapper import TherapeuticMoEModel

    original = TherapeuticMoEModel.forward_loss
    calls = {"n": 0}
    batch_log = spec.get("batch_log")
    nan_grad = _NanGrad.make()

    def forward_loss(self, batch, **kwargs):
        if not self.training:  # evaluation passes are not training micro-batches
            return original(self, batch, **kwargs)
        calls["n"] += 1
        n = calls["n"]
        if batch_log:
            digest = hashlib.sha256(batch["input_ids"].cpu().numpy().tobytes()).hexdigest()[:16]
            _append(batch_log, {"kind": "batch", "digest": digest,
                                "samples": sorted(set(batch["sample_ids"].flatten().tolist()) - {-1})})
        nap = (spec.get("sleep_at_forward") or {}).get(str(n))
        if nap:  # wall time passes inside a step, as on a slow machine
            time.sleep(nap)
        if spec.get("pause_at_forward") == n:
            _wait_for_writers()  # the checkpoint before the pause is complete: the test knows the newest
            _append(spec["pause_marker"], {"paused_at_forward": n, "pid": os.getpid()})
            while True:  # the test kills us here with SIGKILL
                time.sleep(1)
        out = original(self, batch, **kwargs)
        if spec.get("nan_loss_at_forward") and n >= spec["nan_loss_at_forward"]:
            out["loss"] = out["loss"] * float("nan")
            out["lm_loss_sum"] = out["lm_loss_sum"] * float("nan")
        if spec.get("nan_grad_at_forward") and n >= spec["nan_grad_at_forward"]:
            out["loss"] = nan_grad.apply(out["loss"])
        return out

    TherapeuticMoEModel.forward_loss = forward_loss
    if batch_log:
        step = torch.optim.AdamW.step

        def logged_step(self, *args, **kwargs):
            _append(batch_log, {"kind": "step"})
            return step(self, *args, **kwargs)

        torch.optim.AdamW.step = logged_step


def install(spec: dict) -> None:
    _install_writer_hooks(spec)
    if spec.get("scope"):
        _install_write_events(Events(spec))
    if spec.get("snapshot_dir"):
        _install_snapshots(spec["snapshot_dir"])
    if any(spec.get(k) for k in ("batch_log", "pause_at_forward", "sleep_at_forward", "nan_loss_at_forward",
                                 "nan_grad_at_forward")):
        _install_forward_hooks(spec)
