"""Tiny training runs for the reliability tests: config files, a pool of fork servers, log reading."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from .forkserver import ForkServer

# Small enough for a CPU step in tens of milliseconds; dropout on, so exact resume must
# restore the random generators too.
BASE_CONFIG = dict(
    max_steps=3, per_device_train_batch_size=2, per_device_eval_batch_size=4, gradient_accumulation_steps=2,
    learning_rate=1e-2, warmup_steps=1, logging_steps=1, max_seq_length=1024, lora_r=4, lora_alpha=8,
    lora_dropout=0.1, expert_r=4, expert_alpha=8, expert_dropout=0.1, report_to="none", checkpoint_minutes=60,
    save_steps=1, save_total_limit=100, eval_steps=100, validation_split=0.0, dataloader_num_workers=0,
    early_stopping_patience=0,
)
# The data pipeline's PII kind names still differ from the safety config's
# (therapeutic_moe.data.pii.PII_KINDS vs therapeutic_moe.config.safety_config.PII_KINDS).
SAFETY_CONFIG = {"pii_kinds": ["email", "phone", "url", "name"], "time_limit_margin_minutes": 0.0}

RESUMED_FROM = re.compile(r"Resumed from (\S+): step (\d+)")
FRESH_START = "No complete checkpoint in"


def write_config(workspace: Path, path: Path, output_dir: Path, **overrides) -> Path:
    """A training config JSON at ``path`` using the tiny base model and dataset of ``workspace``."""
    values = dict(BASE_CONFIG, base_model=str(workspace / "base"), dataset=str(workspace / "data.json"),
                  output_dir=str(output_dir)) | overrides
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(values, indent=1))
    return Path(path)


def train_argv(config: Path, workspace: Path, *extra: str) -> list[str]:
    return ["train", "--config", str(config), "--safety_config", str(workspace / "safety.json"), *extra]


def resumed_step(log_text: str) -> int | None:
    """The step a run resumed from (None: it started fresh)."""
    m = RESUMED_FROM.search(log_text)
    return int(m.group(2)) if m else None


def report(output_dir: Path) -> dict:
    return json.loads((Path(output_dir) / "training_report.json").read_text())


def losses(output_dir: Path) -> list[tuple[int, float]]:
    return [(row["step"], row["train/loss"]) for row in report(output_dir)["history"] if "train/loss" in row]


def trained_tensors(directory: Path) -> dict[str, torch.Tensor]:
    """Attention LoRA + routers + experts of an exported model or a checkpoint."""
    from safetensors.torch import load_file

    tensors = {f"adapter/{k}": v for k, v in load_file(str(Path(directory) / "adapter_model.safetensors")).items()}
    moe = torch.load(Path(directory) / "moe_layers.pt", weights_only=True)
    return tensors | {f"moe/{k}": v for k, v in moe.items()}


def assert_same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


def batch_steps(log_path: Path) -> list[list[str]]:
    """Micro-batch digests grouped by optimizer step (a trailing unfinished step is dropped)."""
    steps, current = [], []
    if not Path(log_path).exists():
        return steps
    for line in Path(log_path).read_text().splitlines():
        record = json.loads(line)
        if record["kind"] == "batch":
            current.append(record["digest"])
        else:
            steps.append(current)
            current = []
    return steps


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(path: Path, pid: int, log: Path, timeout: float = 120.0) -> None:
    """Until ``path`` exists; fails early (with the log) when process ``pid`` ended first."""
    deadline = time.monotonic() + timeout
    while not Path(path).exists():
        assert _alive(pid), f"the run ended before reaching the pause point:\n{Path(log).read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def run_until_killed(server, argv: list[str], cwd: Path, log: Path, pause_at_forward: int, **hooks) -> int:
    """Start a run, SIGKILL it when it reaches that training forward pass; its exit code."""
    marker = Path(cwd) / f"paused-at-{pause_at_forward}.json"
    marker.unlink(missing_ok=True)
    pid = server.start(argv, cwd, log, hooks={"pause_at_forward": pause_at_forward, "pause_marker": str(marker),
                                              **hooks})
    wait_for(marker, pid, log)
    os.kill(json.loads(marker.read_text().splitlines()[0])["pid"], signal.SIGKILL)
    return server.wait()


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    return dst


class ForkPool:
    """A few fork servers, for independent trials in parallel (one per CPU core)."""

    def __init__(self, size: int):
        self.size = size
        self._servers: list[ForkServer] = []
        self._free: list[ForkServer] = []
        self._lock = threading.Condition()

    def _get(self) -> ForkServer:
        with self._lock:
            while not self._free and len(self._servers) >= self.size:
                self._lock.wait()
            if self._free:
                return self._free.pop()
            server = ForkServer()
            self._servers.append(server)
            return server

    def _put(self, server: ForkServer) -> None:
        with self._lock:
            self._free.append(server)
            self._lock.notify()

    def __call__(self, fn):
        """Run ``fn(server)`` with a free server."""
        server = self._get()
        try:
            result = fn(server)
        except BaseException:
            # A failed job may have left its server in an unknown state: replace it.
            with self._lock:
                self._servers.remove(server)
                self._lock.notify()
            server.close()
            raise
        self._put(server)
        return result

    def map(self, fn, items) -> list:
        with ThreadPoolExecutor(self.size) as pool:
            return list(pool.map(lambda item: self(lambda server: fn(server, item)), items))

    def close(self) -> None:
        for server in self._servers:
            server.close()
