"""``auto_find_batch_size``: the largest micro-batch that fits, gradient accumulation keeping the
global batch.

On CUDA the trainer probes the real model with the bench's memory probe
(``bench.measure.peak_memory_of``): forward and backward of 1 and 2 full rows of
``max_seq_length`` trained tokens (the worst case the planner can produce), then the bench's
linear prediction (``choose_batch``: a fixed part plus a part per row) gives the largest micro-batch
under ``MEMORY_FRACTION`` of the device memory. The micro-batch is a divisor of the per-process
global batch (``per_device_train_batch_size × gradient_accumulation_steps``) so the global batch
stays exactly the same, and the chosen size is probed once more before it is used. No weight is
changed by a probe: gradients are dropped, the optimizer does not exist yet.

With ``gradient_checkpointing: auto`` the probe also decides checkpointing, by measurement
rather than the start-up estimate: it probes without checkpointing first and keeps it off when
at least ``MIN_TOKENS_WITHOUT_CHECKPOINTING`` tokens (or the whole global batch) fit in one
micro-batch, the bench's rule; only otherwise it switches checkpointing on and probes again.

Off CUDA there is no allocator to ask; the configured sizes are kept and the start-up line says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from therapeutic_moe.bench.options import MIN_TOKENS_WITHOUT_CHECKPOINTING
from therapeutic_moe.modeling.build import set_gradient_checkpointing

MEMORY_FRACTION = 0.9  # of the device's total memory; the rest absorbs fragmentation


@dataclass(frozen=True)
class BatchChoice:
    """The micro-batch and accumulation a run uses, and the line that says why."""

    micro_batch: int
    accumulation: int
    message: str
    checkpointing: bool | None = None  # decided by the probe (gradient_checkpointing auto); None = unchanged


def divisors_up_to(n: int, limit: int) -> list[int]:
    """Divisors of ``n`` not above ``limit``, largest first."""
    return [d for d in range(min(n, max(limit, 1)), 0, -1) if n % d == 0]


def choose_micro_batch(probe: Callable[[int], int | None], global_rows: int, budget: int) -> int | None:
    """Largest divisor of ``global_rows`` whose probed peak (``probe(rows)``: bytes, None = out of
    memory) fits ``budget``; None when even one row does not fit."""
    from therapeutic_moe.bench.measure import choose_batch

    peak_1 = probe(1)
    if peak_1 is None or peak_1 > budget:
        return None
    peak_2 = probe(2) if global_rows > 1 else None
    predicted = choose_batch(peak_1, peak_2, budget, global_rows) if global_rows > 1 else 1
    for rows in divisors_up_to(global_rows, predicted):
        if rows == 1:
            return 1
        peak = peak_2 if rows == 2 else probe(rows)
        if peak is not None and peak <= budget:
            return rows
    return 1


def choose_with_checkpointing(probe: Callable[[int], int | None], global_rows: int, seq: int, budget: int,
                              switch: Callable[[bool], None]) -> tuple[int | None, bool, str]:
    """(rows, checkpointing, why): probed without checkpointing first (``switch(False)``); on
    (``switch(True)``, probed again) only when fewer than the wanted tokens fit without it."""
    switch(False)
    rows = choose_micro_batch(probe, global_rows, budget)
    wanted = min(MIN_TOKENS_WITHOUT_CHECKPOINTING, global_rows * seq)
    fitting = 0 if rows is None else rows * seq
    checkpointing = fitting < wanted
    why = (f"; gradient checkpointing auto: {'on' if checkpointing else 'off'} ({fitting} tokens per "
           f"micro-batch fit without it, {wanted} wanted)")
    if checkpointing:
        switch(True)
        rows = choose_micro_batch(probe, global_rows, budget)
    return rows, checkpointing, why


def find_batch_size(cfg, model, device: torch.device, autocast, vocab_size: int, *,
                    auto_checkpointing: bool = False) -> BatchChoice:
    """The trainer's choice for ``auto_find_batch_size: true`` (``cfg`` is left unchanged);
    ``auto_checkpointing``: also decide gradient checkpointing (see the module's text)."""
    micro, accum = cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps
    global_rows, seq = micro * accum, cfg.max_seq_length
    if device.type != "cuda":
        return BatchChoice(micro, accum, "auto_find_batch_size: CUDA only (it asks the GPU allocator); on "
                                         f"{device.type} the configured micro-batch {micro} × {accum} "
                                         "accumulation steps is kept")
    budget = int(torch.cuda.mem_get_info(device)[1] * MEMORY_FRACTION)
    model.train()  # dropout masks count too
    probe = _model_probe(model, device, autocast, seq, vocab_size)
    if auto_checkpointing:
        rows, checkpointing, why = choose_with_checkpointing(probe, global_rows, seq, budget,
                                                             lambda on: set_gradient_checkpointing(model.base, on))
    else:
        rows, checkpointing, why = choose_micro_batch(probe, global_rows, budget), None, ""
    if rows is None:
        raise torch.OutOfMemoryError(f"auto_find_batch_size: one row of max_seq_length={seq} "
                                     "tokens does not fit in GPU memory; lower max_seq_length or turn on "
                                     "gradient_checkpointing")
    return BatchChoice(rows, global_rows // rows,
                       f"auto_find_batch_size: micro-batch {rows} × {global_rows // rows} accumulation steps "
                       f"(was {micro} × {accum}; global batch {global_rows} rows per process kept; "
                       f"budget {budget / 2**30:.1f} GiB){why}", checkpointing)


def _model_probe(model, device, autocast, seq: int, vocab_size: int) -> Callable[[int], int | None]:
    from therapeutic_moe.bench.measure import peak_memory_of

    def drop_grads() -> None:
        model.zero_grad(set_to_none=True)

    def probe(rows: int) -> int | None:
        gen = torch.Generator().manual_seed(rows)
        ids = torch.randint(0, vocab_size, (rows, seq), generator=gen)
        batch = {"input_ids": ids, "labels": ids.clone(), "sample_ids": torch.arange(rows).repeat_interleave(seq)
                 .view(rows, seq), "sample_domains": torch.full((rows,), -1),
                 "position_ids": torch.arange(seq).expand(rows, -1).contiguous()}
        batch = {k: v.to(device) for k, v in batch.items()}

        def step() -> None:
            with autocast():
                model.forward_loss(batch)["loss"].backward()
            drop_grads()

        return peak_memory_of(step, device, drop_grads)

    return probe
