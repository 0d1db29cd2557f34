"""Checkpoints published from one background thread while training goes on.

The training thread takes a CPU snapshot at the save point (``training.snapshot``) and hands
``CheckpointWriter.submit`` a function that writes, hashes, fsyncs, renames and prunes exactly
as a synchronous save does (``checkpoint.save_training_checkpoint``). The crash-safety
argument is unchanged: a checkpoint exists only once its directory is renamed, and pruning
runs after that, in the same job. Resume only ever sees complete checkpoints.

An error in the writer is kept and raised on the training thread at the next save point or
at the end (``wait``), never lost. ``background=False`` writes on the calling thread.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

from therapeutic_moe.errors import TrainingHalted, UserError

THREAD_NAME = "checkpoint-writer"


class CheckpointWriteFailed(TrainingHalted):
    """The background write of a checkpoint failed; earlier checkpoints are intact."""


class CheckpointWriter:
    """At most one checkpoint write in flight; ``submit`` waits for the previous one."""

    def __init__(self, background: bool):
        # One worker thread: writes never overlap, so two saves cannot race on the same
        # directory or prune each other's checkpoints. Its thread is not a daemon: an ordinary
        # interpreter exit finishes the write in flight instead of tearing it.
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=THREAD_NAME) if background else None
        self._pending: Future | None = None
        self._what = ""
        self.write_seconds = 0.0  # the longest write so far, start to published and pruned

    @property
    def background(self) -> bool:
        return self._pool is not None

    def submit(self, write: Callable[[], object], what: str) -> None:
        """Run ``write`` (``what`` names it in an error), after the previous write is done.

        Waiting first keeps one snapshot in memory at a time (a second would double the host
        memory of a large model's optimizer state) and publishes checkpoints in step order, so
        the newest complete checkpoint is always the newest one saved."""
        self.wait()
        self._what = what
        if self._pool is None:
            self._timed(write)
        else:
            self._pending = self._pool.submit(self._timed, write)

    def _timed(self, write: Callable[[], object]) -> None:
        started = time.monotonic()
        write()
        self.write_seconds = max(self.write_seconds, time.monotonic() - started)

    def wait(self) -> None:
        """Block until the write in flight is published; raise its error here, once."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            pending.result()
        except UserError:  # already one clear line (a full disk names the file and the fix)
            raise
        except Exception as exc:
            raise CheckpointWriteFailed(
                f"writing {self._what} in the background failed ({type(exc).__name__}: {exc}); the checkpoints "
                "published before it are intact: resume with --resume_from_checkpoint latest") from exc

    def close(self) -> None:
        """Wait for the write in flight (raising its error), then stop the thread."""
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
