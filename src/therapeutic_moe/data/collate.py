"""The one collator: rows of examples -> tensors, packed (padding-free) or right-padded.

Every batch carries ``sample_ids`` [B, T] (which sample of the batch each token belongs to,
-1 on padding) and ``sample_domains`` [S] (each sample's domain index, -1 when unlabelled),
which the MoE's supervised routing loss and the per-sample loss need. Each sample's first
label is ``IGNORE_INDEX``: in a packed row it would be predicted from the previous sample
(in a padded row it is never a target anyway).

Packed rows get ``position_ids`` restarting per sample and no attention_mask: transformers
then derives a block-diagonal causal mask from the positions (sdpa, eager, flash), so samples
never see each other. Call the model with ``use_cache=False``: when forward creates a KV
cache (the default, even in train mode) transformers 5 skips the packed-sequence detection
and every sample attends to the ones before it in the row. Padded rows hold one example each
and get an ``attention_mask``.
"""

from __future__ import annotations

from collections.abc import Sequence

from therapeutic_moe.data.chat_render import IGNORE_INDEX
from therapeutic_moe.data.packing import first_fit


def _round_up(n: int, multiple: int | None) -> int:
    return -(-n // multiple) * multiple if multiple else n


def _domain(example) -> int:
    value = getattr(example, "domain", None)
    return -1 if value is None else int(value)


def collate(rows: Sequence[Sequence], *, pad_token_id: int, packing: bool,
            pad_to_multiple_of: int | None = None) -> dict:
    """Rows of examples (objects with input_ids, labels and optionally domain) as one batch.

    Samples are numbered in row order; the batch is as wide as its longest row (rounded up
    to ``pad_to_multiple_of``). Returns input_ids, labels, sample_ids, sample_domains, and
    position_ids (packing) or attention_mask (padding).
    """
    examples = [ex for row in rows for ex in row]
    numbered, start = [], 0
    for row in rows:
        numbered.append(range(start, start + len(row)))
        start += len(row)
    return collate_numbered(examples, [list(r) for r in numbered], pad_token_id=pad_token_id, packing=packing,
                            pad_to_multiple_of=pad_to_multiple_of)


def collate_numbered(examples: Sequence, rows: Sequence[Sequence[int]], *, pad_token_id: int, packing: bool,
                     pad_to_multiple_of: int | None = None) -> dict:
    """``rows`` of indices into ``examples``; a sample's id is its index in ``examples``."""
    import torch

    width = _round_up(max((sum(len(examples[s].input_ids) for s in row) for row in rows), default=0),
                      pad_to_multiple_of)
    shape = (len(rows), width)
    input_ids = torch.full(shape, pad_token_id, dtype=torch.long)
    labels = torch.full(shape, IGNORE_INDEX, dtype=torch.long)
    sample_ids = torch.full(shape, -1, dtype=torch.long)
    position_ids = torch.zeros(shape, dtype=torch.long)
    for r, members in enumerate(rows):
        pos = 0
        for s in members:
            ex = examples[s]
            n = len(ex.input_ids)
            input_ids[r, pos:pos + n] = torch.as_tensor(ex.input_ids, dtype=torch.long)
            labels[r, pos:pos + n] = torch.as_tensor(ex.labels, dtype=torch.long)
            labels[r, pos] = IGNORE_INDEX
            position_ids[r, pos:pos + n] = torch.arange(n)
            sample_ids[r, pos:pos + n] = s
            pos += n
        # Padding restarts at position 0 as a block of its own, so it never joins a sample.
        position_ids[r, pos:] = torch.arange(width - pos)
    batch = {"input_ids": input_ids, "labels": labels, "sample_ids": sample_ids,
             "sample_domains": torch.tensor([_domain(ex) for ex in examples], dtype=torch.long)}
    if packing:
        batch["position_ids"] = position_ids
    else:
        batch["attention_mask"] = (sample_ids >= 0).long()
    return batch


class PackedCollator:
    """Examples first-fit (in the given order) into rows of ≤ ``max_tokens``, then ``collate``d packed.

    Sample ids follow the order of the examples given; group them first with the planner
    (``therapeutic_moe.data.packing``) for dense rows.
    """

    def __init__(self, max_tokens: int, pad_token_id: int = 0, pad_to_multiple_of: int | None = None):
        self.max_tokens = max_tokens
        self.pad_token_id = pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, examples: Sequence) -> dict:
        for ex in examples:
            if len(ex.input_ids) > self.max_tokens:
                raise ValueError(f"example {ex.conv_id}#{ex.window} has {len(ex.input_ids)} tokens > "
                                 f"max_tokens={self.max_tokens}")
        rows = first_fit(range(len(examples)), [len(ex.input_ids) for ex in examples], self.max_tokens)
        return collate_numbered(examples, rows, pad_token_id=self.pad_token_id, packing=True,
                                pad_to_multiple_of=self.pad_to_multiple_of)


class PaddedCollator:
    """One example per row, right-padded to the longest, with an attention_mask (``collate`` padded)."""

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None):
        self.pad_token_id = pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, examples: Sequence) -> dict:
        return collate_numbered(examples, [[s] for s in range(len(examples))], pad_token_id=self.pad_token_id,
                                packing=False, pad_to_multiple_of=self.pad_to_multiple_of)
