"""Timing, memory and batch-size search for one built setup.

Device work is asynchronous: steps are timed with CUDA events (a host clock after a sync on
CPU), warm-up steps (Triton compilation, cuBLAS workspaces, optimizer state) are excluded,
and the reported step time is the median of the timed steps.
"""

from __future__ import annotations

import gc
import statistics
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext

import torch

from therapeutic_moe.bench.variants import BenchModel


def autocast_for(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


class Trainer:
    """One optimizer step per call: forward (autocast on CUDA), backward, clip, fused AdamW."""

    def __init__(self, bench_model: BenchModel, device: torch.device, lr: float = 1e-4):
        self.bm, self.device = bench_model, device
        fused = device.type == "cuda"
        self.optimizer = torch.optim.AdamW(bench_model.params, lr=lr, fused=fused)

    def step(self, batch: dict) -> torch.Tensor:
        with autocast_for(self.device):
            loss = self.bm.loss(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.bm.params, 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.detach()


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def peak_memory_of(run: Callable[[], object], device: torch.device, after_oom: Callable[[], None]) -> int | None:
    """Peak allocated bytes while ``run()`` runs, or None when it runs out of memory (then
    ``after_oom()`` drops what the failed attempt left, e.g. half-accumulated gradients).
    The memory probe of the bench and of the trainer's ``auto_find_batch_size``; 0 off CUDA."""
    if device.type != "cuda":
        run()
        return 0
    try:
        _sync(device)
        torch.cuda.reset_peak_memory_stats()
        run()
        _sync(device)
        return torch.cuda.max_memory_allocated()
    except Exception as exc:
        if not is_oom(exc):
            raise
    # Outside the except block: the traceback no longer pins the step's tensors.
    after_oom()
    free_memory()
    return None


def peak_of_step(trainer: Trainer, batch: dict) -> int | None:
    """Peak allocated bytes during one optimizer step, or None when it runs out of memory."""
    return peak_memory_of(lambda: trainer.step(batch), trainer.device,
                          lambda: trainer.optimizer.zero_grad(set_to_none=True))


def choose_batch(peak_1: int, peak_2: int | None, budget: int, max_batch: int) -> int:
    """Largest batch whose predicted peak fits ``budget``: memory grows linearly in the batch
    (activations), on top of a fixed part (weights, optimizer state, workspaces)."""
    if peak_2 is None:
        return 1
    per_sample = max(peak_2 - peak_1, 1)
    fixed = peak_1 - per_sample
    return int(max(1, min(max_batch, (budget - fixed) // per_sample)))


def time_steps(trainer: Trainer, batches: list[dict], warmup: int, steps: int) -> dict:
    """Median step time over ``steps`` timed steps (after ``warmup``), peak memory, last loss."""
    device = trainer.device
    loss = None
    for i in range(warmup):
        loss = trainer.step(batches[i % len(batches)])
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(steps):
        batch = batches[i % len(batches)]
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            loss = trainer.step(batch)
            end.record()
            times.append((start, end))
        else:
            t0 = time.perf_counter()
            loss = trainer.step(batch)
            times.append(time.perf_counter() - t0)
    _sync(device)
    seconds = [s.elapsed_time(e) / 1000.0 for s, e in times] if device.type == "cuda" else times
    out = {
        "step_s": statistics.median(seconds),
        "step_s_min": min(seconds),
        "step_s_max": max(seconds),
        "loss": float(loss) if loss is not None else None,
    }
    if device.type == "cuda":
        out["peak_bytes"] = torch.cuda.max_memory_allocated()
        out["reserved_bytes"] = torch.cuda.max_memory_reserved()
    return out


def count_host_syncs(trainer: Trainer, batch: dict) -> int | None:
    """Host-device synchronisations in one training step (CUDA only), via PyTorch's sync
    debug mode: each sync raises a warning, which is counted."""
    if trainer.device.type != "cuda":
        return None
    _sync(trainer.device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            trainer.step(batch)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum(1 for w in caught if "synchroniz" in str(w.message).lower())
