"""Score token sequences: summed cross-entropy on trained (therapist) tokens, per sequence.

Sequences are anything with ``input_ids`` and ``labels`` lists (labels -100 where no loss is
taken) and optionally ``domain`` (expert index, -1 unlabelled), like the data pipeline's
``Example``. Batches are right-padded, sorted by length and capped by a token budget so a
few long sessions never share a batch with many short ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

IGNORE = -100


@dataclass
class SequenceScore:
    """Loss of one sequence on its trained tokens."""

    index: int = field(metadata={"help": "Position of the sequence in the input list."})
    length: int = field(metadata={"help": "Tokens in the sequence (context included)."})
    loss_sum: float = field(metadata={"help": "Summed cross-entropy (nats) over trained tokens."})
    n_tokens: int = field(metadata={"help": "Trained tokens scored."})


def batches_by_tokens(lengths: Sequence[int], max_batch_tokens: int, max_batch_size: int = 64) -> list[list[int]]:
    """Indices grouped so that (longest in batch x batch size) stays within the budget."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    out: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = lengths[current[0]] if current else lengths[i]
        if current and (longest * (len(current) + 1) > max_batch_tokens or len(current) >= max_batch_size):
            out.append(current)
            current = []
        current.append(i)
    if current:
        out.append(current)
    return out


def collate(seqs: Sequence, pad_id: int, device) -> dict[str, torch.Tensor]:
    """Right-padded batch with the sample layout the routing statistics need."""
    width = max(len(s.input_ids) for s in seqs)
    n = len(seqs)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    labels = torch.full((n, width), IGNORE, dtype=torch.long)
    attention = torch.zeros((n, width), dtype=torch.long)
    sample_ids = torch.full((n, width), -1, dtype=torch.long)
    for row, s in enumerate(seqs):
        t = len(s.input_ids)
        input_ids[row, :t] = torch.as_tensor(s.input_ids, dtype=torch.long)
        labels[row, :t] = torch.as_tensor(s.labels, dtype=torch.long)
        attention[row, :t] = 1
        sample_ids[row, :t] = row
    domains = torch.tensor([-1 if getattr(s, "domain", None) is None else int(s.domain) for s in seqs],
                           dtype=torch.long)
    batch = {"input_ids": input_ids, "labels": labels, "attention_mask": attention,
             "sample_ids": sample_ids, "sample_domains": domains}
    return {k: v.to(device) for k, v in batch.items()}


@torch.no_grad()
def score_batch(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row (loss_sum, n_tokens) on trained tokens. Routing statistics, when the model's
    context has a ``stats`` object, see exactly the real tokens of every row."""
    ctx = model.context
    if ctx is not None:
        ctx.begin(token_mask=batch["sample_ids"].reshape(-1) >= 0, sample_ids=batch["sample_ids"].reshape(-1),
                  sample_domains=batch["sample_domains"])
    try:
        hidden = model.base.get_decoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                          use_cache=False).last_hidden_state
    finally:
        if ctx is not None:
            ctx.end()
            ctx.clear()
    targets = batch["labels"][:, 1:]
    keep = targets != IGNORE
    rows = torch.arange(targets.shape[0], device=targets.device).unsqueeze(1).expand_as(targets)[keep]
    # Vocabulary logits only where a loss is taken: the full [B, T, V] tensor of a long
    # session would not fit in memory.
    logits = model.base.get_output_embeddings()(hidden[:, :-1][keep]).float()
    losses = F.cross_entropy(logits, targets[keep], reduction="none")
    n = targets.shape[0]
    loss_sum = torch.zeros(n, dtype=torch.float64, device=losses.device).index_add_(0, rows, losses.double())
    counts = keep.sum(dim=1)
    return loss_sum.cpu(), counts.cpu()


def score_sequences(model, seqs: Sequence, *, pad_id: int, max_batch_tokens: int = 16384,
                    progress: bool = False, desc: str = "scoring") -> Iterator[SequenceScore]:
    """Yield a score per sequence (in batch order, not input order)."""
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    lengths = [len(s.input_ids) for s in seqs]
    groups = batches_by_tokens(lengths, max_batch_tokens)
    bar = tqdm(groups, desc=desc, unit="batch", disable=not progress, leave=False)
    for group in bar:
        sums, counts = score_batch(model, collate([seqs[i] for i in group], pad_id, device))
        for row, i in enumerate(group):
            yield SequenceScore(i, lengths[i], float(sums[row]), int(counts[row]))
