"""A pre-imported parent that forks one real training process per job.

Importing torch, transformers and peft costs several seconds; dozens of crash trials would
spend most of their time there. This script imports them once (with one OpenMP thread, so
no thread pool exists to be broken by ``fork``) and then, for each job read from stdin,
forks a child that runs the real command line (``therapeutic_moe.cli.main``, the same
function the ``therapeutic-moe`` script and ``train_moe_h100.py`` call), optionally with
fault injection (``child_hooks``). The child is an ordinary process: tests kill it with a
real SIGKILL and read its real exit status.

Protocol (JSON lines): job ``{"argv", "cwd", "log", "hooks"}`` → ``{"pid"}`` at fork, then
``{"pid", "code"}`` when the child ends (``code`` < 0: killed by that signal).
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import subprocess
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _child(job: dict) -> None:
    try:
        fd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.chdir(job["cwd"])
        os.environ.update(job.get("env") or {})
        import child_hooks

        child_hooks.install(job.get("hooks") or {})
        from therapeutic_moe.cli import main

        sys.argv = ["therapeutic-moe", *job["argv"]]
        code = main(job["argv"])
    except SystemExit as exc:  # argparse errors, as in a real process
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # what the interpreter would print for an uncaught exception
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(code or 0))


def _warm_plots(plots) -> None:
    # matplotlib's first figure compiles regexes and loads fonts (most of a tiny run's time);
    # doing it once here lets every forked child start warm. Pure Python: no threads.
    import tempfile

    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        history = [{"step": s, "train/loss": 1.0 / s, "val/loss": 1.0 / s} for s in range(1, 4)]
        plots.plot_training_curves(history, Path(tmp) / "curves.png")
        plots.plot_expert_usage_heatmap(np.full((2, 4), 0.25), ["a", "b", "c", "d"], Path(tmp) / "usage.png")


# Imported once in the parent so that every forked child starts warm.
WARM_IMPORTS = ["torch", "transformers", "peft", "safetensors.torch", "matplotlib.figure", "therapeutic_moe.cli",
                "therapeutic_moe.config", "therapeutic_moe.data", "therapeutic_moe.modeling", "therapeutic_moe.safety",
                "therapeutic_moe.training.cli", "therapeutic_moe.training.loop"]
# Areas still being built may be absent: their commands then fail in the child as they would anyway.
OPTIONAL_IMPORTS = ["therapeutic_moe.inference.assistant", "therapeutic_moe.evaluation.evaluate",
                    "therapeutic_moe.serving.app"]


def serve() -> None:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints (imports, warm-up) must not corrupt the protocol
    import matplotlib

    matplotlib.use("Agg")
    for name in WARM_IMPORTS:
        importlib.import_module(name)
    for name in OPTIONAL_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    _warm_plots(importlib.import_module("therapeutic_moe.training.plots"))
    proto.write(json.dumps({"ready": os.getpid()}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        proto.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            proto.close()
            _child(job)
        proto.write(json.dumps({"pid": pid}) + "\n")
        _, status = os.waitpid(pid, 0)
        proto.write(json.dumps({"pid": pid, "code": os.waitstatus_to_exitcode(status)}) + "\n")


class ForkServer:
    """Client side: start jobs one at a time, kill them, wait for their exit status."""

    def __init__(self, env: dict | None = None):
        env = dict(os.environ, **(env or {}))
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1",
                   WANDB_MODE="disabled", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        self.proc = subprocess.Popen([sys.executable, str(HERE / "forkserver.py")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env, cwd=HERE)
        ready = self._read()
        assert "ready" in ready, ready
        self.pid: int | None = None

    def _read(self, timeout: float = 120.0) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            if self.pid is not None:
                os.kill(self.pid, signal.SIGKILL)
            raise TimeoutError(f"fork server job {self.pid} gave no answer within {timeout:g} s")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"fork server exited ({self.proc.poll()})")
        return json.loads(line)

    def start(self, argv: list[str], cwd: Path, log: Path, hooks: dict | None = None,
              env: dict | None = None) -> int:
        assert self.pid is None, "one job at a time"
        job = {"argv": [str(a) for a in argv], "cwd": str(Path(cwd).resolve()), "log": str(Path(log).resolve()),
               "hooks": hooks or {},
               "env": env or {}}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        self.pid = self._read()["pid"]
        return self.pid

    def wait(self, timeout: float = 120.0) -> int:
        """Exit code of the running job (negative: the signal that killed it)."""
        result = self._read(timeout)
        assert result["pid"] == self.pid
        self.pid = None
        return result["code"]

    def run(self, argv, cwd, log, hooks=None, env=None, timeout: float = 120.0) -> int:
        self.start(argv, cwd, log, hooks, env)
        return self.wait(timeout)

    def close(self) -> None:
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    serve()
