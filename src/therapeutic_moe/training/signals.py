"""SIGTERM/SIGINT: finish the current optimizer step, save, then exit non-zero."""

from __future__ import annotations

import signal
import sys


class GracefulStop:
    """Installs handlers that only set a flag; the training loop checks it between steps.

    A second Ctrl-C (SIGINT) while a stop is pending aborts at once, for the impatient.
    """

    def __init__(self):
        self.signal_name: str | None = None
        self._previous = {}

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def _handler(self, signum, frame):
        name = signal.Signals(signum).name
        if self.signal_name == "SIGINT" and name == "SIGINT":
            raise KeyboardInterrupt
        self.signal_name = name
        print(f"\n{name} received: finishing the current step, then saving a checkpoint…",
              file=sys.stderr, flush=True)

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread (e.g. a notebook worker): no handlers
                pass
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False
