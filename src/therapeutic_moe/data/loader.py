"""A ``torch.utils.data.DataLoader`` over the one batch path: the planner's micro-batches, collated
by worker processes, optionally into pinned memory, prefetched ahead of the step.

Each item of the loader is one whole micro-batch (``plan[i]`` collated by ``data.collate``): the
plan decides which examples share a row, so the loader must not batch again (``batch_size=None``),
and its sampler is the plan's order from a start index, which keeps resume exact: a checkpoint
stores (epoch, next micro-batch) and the loader restarts there, whatever ``num_workers`` is
(the DataLoader returns items in sampler order even with several workers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import torch
from torch.utils.data import DataLoader, Dataset

from therapeutic_moe.data.collate import collate


class PlannedBatches(Dataset):
    """Micro-batch ``i`` of a plan, collated: item ``i`` is ``collate_fn(rows of examples)``."""

    def __init__(self, examples: Sequence, plan: Sequence, collate_fn: Callable):
        self.examples, self.plan, self.collate_fn = examples, plan, collate_fn

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, index: int) -> dict:
        return self.collate_fn([[self.examples[i] for i in row] for row in self.plan[index]])


@dataclass(frozen=True)
class LoaderSettings:
    """How micro-batches are produced (from ``dataloader_num_workers`` / ``dataloader_pin_memory``)."""

    num_workers: int = 0  # 0 = collate in the training process
    pin_memory: bool = False  # page-locked host tensors: asynchronous copies to the GPU
    prefetch_factor: int = 2  # micro-batches each worker prepares ahead (workers only)


def micro_batch_loader(examples: Sequence, plan: Sequence, *, start: int, pad_token_id: int, packing: bool,
                       settings: LoaderSettings, collate_fn: Callable | None = None) -> DataLoader:
    """The plan's micro-batches ``start, start + 1, …`` in order, collated as ``settings`` say."""
    collate_fn = collate_fn or partial(collate, pad_token_id=pad_token_id, packing=packing)
    workers = settings.num_workers
    # Its own generator: a DataLoader draws a base seed for its workers each time an iterator
    # starts, and drawing it from the global generator would shift the dropout stream of a
    # resumed run (its iterator starts at another step than the straight run's).
    return DataLoader(PlannedBatches(examples, plan, collate_fn), batch_size=None,
                      sampler=range(start, len(plan)), num_workers=workers,
                      pin_memory=settings.pin_memory and torch.cuda.is_available(),
                      prefetch_factor=settings.prefetch_factor if workers else None,
                      persistent_workers=False, generator=torch.Generator().manual_seed(0))


class EpochBatches:
    """The trainer's view: ``take(epoch, start, count)`` gives micro-batches ``start … start+count-1``
    of ``plan_for(epoch)``, from one running loader while the requests follow each other, and from a
    fresh loader at ``start`` otherwise (a new epoch, a resume)."""

    def __init__(self, examples: Sequence, plan_for: Callable[[int], Sequence], *, pad_token_id: int,
                 packing: bool, settings: LoaderSettings, collate_fn: Callable | None = None):
        self.examples, self.plan_for, self.settings = examples, plan_for, settings
        self.kwargs = dict(pad_token_id=pad_token_id, packing=packing, collate_fn=collate_fn)
        self._iterator = None
        self._position: tuple[int, int] | None = None  # (epoch, next micro-batch) of the iterator

    def take(self, epoch: int, start: int, count: int) -> list[dict]:
        if self._position != (epoch, start):
            self.close()
            loader = micro_batch_loader(self.examples, self.plan_for(epoch), start=start, settings=self.settings,
                                        **self.kwargs)
            self._iterator = iter(loader)
        batches = []
        for _ in range(count):
            try:
                batches.append(next(self._iterator))
            except StopIteration:
                break
        self._position = (epoch, start + len(batches))
        return batches

    def close(self) -> None:
        """Stop the worker processes of the running loader (they would otherwise outlive the epoch)."""
        shutdown = getattr(self._iterator, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()
        self._iterator, self._position = None, None
