"""The one evaluation routine: summed cross-entropy on trained (therapist) tokens.

The trainer's validation and `therapeutic-moe evaluate` (held-out loss, the base-model
baseline, perplexity by context length) all call ``score_examples``. It batches with the
trainer's planner and collator (``data.packing.plan_epoch``, unshuffled, and
``data.collate.collate``) and scores through the training loss itself
(``TherapeuticMoEModel.forward_loss``, with its per-sample reduction when asked).

Examples are anything with ``input_ids`` and ``labels`` lists (``IGNORE_INDEX`` where no loss
is taken) and optionally ``domain`` (expert index, -1 or None unlabelled), like the data
pipeline's ``Example``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch

from therapeutic_moe.data.collate import collate
from therapeutic_moe.data.packing import plan_epoch


@dataclass
class SequenceScore:
    """Loss of one sequence on its trained tokens."""

    index: int = field(metadata={"help": "Position of the sequence in the input list."})
    length: int = field(metadata={"help": "Tokens in the sequence (context included)."})
    loss_sum: float = field(metadata={"help": "Summed cross-entropy (nats) over trained tokens."})
    n_tokens: int = field(metadata={"help": "Trained tokens scored."})


@dataclass
class BatchLayout:
    """How ``score_examples`` batches: the trainer's plan, unshuffled."""

    batch_size: int = field(metadata={"help": "Rows per forward pass."})
    max_seq_length: int = field(metadata={"help": "Tokens per packed row."})
    packing: bool = field(default=True, metadata={"help": "Pack rows (True) or one example per padded row."})

    @classmethod
    def for_token_budget(cls, lengths: Sequence[int], max_batch_tokens: int) -> "BatchLayout":
        """Packed rows as wide as the longest example, as many as fit in ``max_batch_tokens``."""
        width = max(lengths, default=1)
        return cls(batch_size=max(1, max_batch_tokens // width), max_seq_length=width, packing=True)


@dataclass
class Scores:
    """What ``score_examples`` measured; the sums stay on the device until someone reads them."""

    loss_sum: torch.Tensor = field(metadata={"help": "Summed cross-entropy over trained tokens (device scalar)."})
    n_tokens: torch.Tensor = field(metadata={"help": "Trained tokens scored (device scalar)."})
    per_sample: list[SequenceScore] | None = field(
        default=None, metadata={"help": "One score per example, in input order (when asked for)."})


@torch.no_grad()
def score_examples(model, examples: Sequence, layout: BatchLayout, *, pad_id: int, device=None,
                   autocast: Callable = nullcontext, forward: Callable | None = None, per_sample: bool = False,
                   stats=None, progress: bool = False, desc: str = "scoring") -> Scores:
    """Score ``examples`` in eval mode (restored afterwards) through ``forward`` (default
    ``model.forward_loss``; the wrapped model under FSDP, whose root gathers the shared weights).

    ``stats``: a ``RoutingStats`` that sees exactly the real tokens of every row (None: no
    routing statistics); the routing context's own ``stats`` is put back afterwards.
    """
    from tqdm.auto import tqdm

    device = device if device is not None else next(model.parameters()).device
    lengths = [len(e.input_ids) for e in examples]
    plan = plan_epoch(lengths, seed=0, epoch=0, batch_size=layout.batch_size, max_seq_length=layout.max_seq_length,
                      packing=layout.packing, shuffle=False)
    was_training = model.training
    ctx = model.context
    saved_stats = ctx.stats if ctx is not None else None
    if ctx is not None:
        ctx.stats = stats
    model.eval()
    loss_sum = torch.zeros((), device=device)
    n_tokens = torch.zeros((), device=device)
    samples: list[tuple[list[int], dict]] = []
    try:
        for micro_batch in tqdm(plan, desc=desc, unit="batch", disable=not progress, leave=False):
            members = [i for row in micro_batch for i in row]
            batch = collate([[examples[i] for i in row] for row in micro_batch], pad_token_id=pad_id,
                            packing=layout.packing)
            batch = {k: v.to(device) for k, v in batch.items()}
            with autocast():
                out = (forward or model.forward_loss)(batch, per_sample=per_sample)
            loss_sum += out["lm_loss_sum"]
            n_tokens += out["n_tokens"]
            if per_sample:
                samples.append((members, out))
    finally:
        if ctx is not None:
            ctx.stats = saved_stats
            ctx.clear()
        model.train(was_training)
    return Scores(loss_sum, n_tokens, _in_input_order(samples, lengths) if per_sample else None)


def _in_input_order(samples: list[tuple[list[int], dict]], lengths: list[int]) -> list[SequenceScore]:
    scores: list[SequenceScore | None] = [None] * len(lengths)
    for members, out in samples:
        sums, counts = out["sample_loss_sum"].cpu().tolist(), out["sample_tokens"].cpu().tolist()
        for s, i in enumerate(members):  # sample s of the batch is example i
            scores[i] = SequenceScore(i, lengths[i], float(sums[s]), int(counts[s]))
    return scores  # type: ignore[return-value]
