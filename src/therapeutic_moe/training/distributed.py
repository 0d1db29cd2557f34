"""Multi-process training through torch.distributed (launched by torchrun or accelerate launch).

Data parallel (DDP): every rank holds the whole model; an optimizer step consumes
``gradient_accumulation_steps × world_size`` micro-batches of the one global plan, rank r
taking every world_size-th. Gradients are averaged by DDP; the losses are scaled so the
result equals a one-process run with the same global batch. Rank 0 alone logs, prints and
writes checkpoints; stop decisions (signal, time budget, NaN) are agreed with one all-reduce
per step so that no rank is left waiting for the others.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def all_reduce_(self, tensor: torch.Tensor, op=None) -> torch.Tensor:
        if self.enabled:
            dist.all_reduce(tensor, op=op or dist.ReduceOp.SUM)
        return tensor

    def gather_objects(self, obj) -> list:
        if not self.enabled:
            return [obj]
        out = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out


def init_distributed() -> Dist:
    """Join the process group when launched with WORLD_SIZE > 1; a no-op otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
    return Dist(rank=rank, world_size=world, local_rank=local)


def shutdown(d: Dist) -> None:
    if d.enabled and dist.is_initialized():
        dist.destroy_process_group()


class LossModule(nn.Module):
    """DDP wraps a module's forward; ours is the loss computation."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch, **kwargs):
        return self.model.forward_loss(batch, **kwargs)


def wrap_for_training(model: nn.Module, d: Dist, device: torch.device) -> nn.Module:
    module = LossModule(model)
    if not d.enabled:
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    # Every trainable parameter is used in every step (all experts take part in the stacked
    # GEMMs, unchosen ones with gate 0), so no unused-parameter search is needed.
    return DDP(module, device_ids=ids, find_unused_parameters=False)


def no_sync(wrapped: nn.Module, last_micro_batch: bool):
    """Skip the gradient all-reduce on all but the last micro-batch of an accumulation window."""
    if last_micro_batch or not hasattr(wrapped, "no_sync"):
        return nullcontext()
    return wrapped.no_sync()
