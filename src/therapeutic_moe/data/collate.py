"""Turn lists of examples into tensors: packed rows (padding-free) or right-padded rows.

Both return ``sample_ids`` [B, T] (which sample of the batch each token belongs to, -1 on
padding) and ``sample_domains`` [S] (each sample's domain index, -1 when unlabelled), which
the MoE's supervised routing loss needs.
"""

from __future__ import annotations

from typing import Sequence

from therapeutic_moe.data.chat_render import IGNORE_INDEX
from therapeutic_moe.data.types import Example


def _round_up(n: int, multiple: int | None) -> int:
    return -(-n // multiple) * multiple if multiple else n


class PackedCollator:
    """Concatenate examples into rows of ≤ ``max_tokens``, with position_ids restarting per sample.

    No attention_mask is returned on purpose: transformers then derives a block-diagonal
    causal mask from position_ids (sdpa, eager, flash), so samples never see each other.
    Each sample's first label is -100, so no target is predicted across a sample boundary.
    Examples are placed first-fit in the given order (use ``plan_packed_batches`` to group).

    Call the model with ``use_cache=False``: when forward creates a KV cache (the default,
    even in train mode) transformers 5 skips the packed-sequence detection and every
    sample attends to the ones before it in the row.
    """

    def __init__(self, max_tokens: int, pad_token_id: int = 0, pad_to_multiple_of: int | None = None):
        self.max_tokens = max_tokens
        self.pad_token_id = pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, examples: Sequence[Example]) -> dict:
        import torch

        rows: list[list[int]] = []
        used: list[int] = []
        for s, ex in enumerate(examples):
            if len(ex) > self.max_tokens:
                raise ValueError(f"example {ex.conv_id}#{ex.window} has {len(ex)} tokens > max_tokens={self.max_tokens}")
            row = next((r for r, n in enumerate(used) if n + len(ex) <= self.max_tokens), None)
            if row is None:
                rows.append([])
                used.append(0)
                row = len(rows) - 1
            rows[row].append(s)
            used[row] += len(ex)
        width = _round_up(max(used, default=0), self.pad_to_multiple_of)
        shape = (len(rows), width)
        input_ids = torch.full(shape, self.pad_token_id, dtype=torch.long)
        labels = torch.full(shape, IGNORE_INDEX, dtype=torch.long)
        position_ids = torch.zeros(shape, dtype=torch.long)
        sample_ids = torch.full(shape, -1, dtype=torch.long)
        for r, members in enumerate(rows):
            pos = 0
            for s in members:
                ex = examples[s]
                n = len(ex)
                input_ids[r, pos:pos + n] = torch.tensor(ex.input_ids)
                labels[r, pos:pos + n] = torch.tensor(ex.labels)
                labels[r, pos] = IGNORE_INDEX
                position_ids[r, pos:pos + n] = torch.arange(n)
                sample_ids[r, pos:pos + n] = s
                pos += n
            # Padding restarts at position 0 as a block of its own, so it never joins a sample.
            position_ids[r, pos:] = torch.arange(width - pos)
        return {
            "input_ids": input_ids,
            "labels": labels,
            "position_ids": position_ids,
            "sample_ids": sample_ids,
            "sample_domains": torch.tensor([ex.domain for ex in examples], dtype=torch.long),
        }


class PaddedCollator:
    """One example per row, right-padded to the longest, with an attention_mask."""

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None):
        self.pad_token_id = pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, examples: Sequence[Example]) -> dict:
        import torch

        width = _round_up(max((len(ex) for ex in examples), default=0), self.pad_to_multiple_of)
        shape = (len(examples), width)
        input_ids = torch.full(shape, self.pad_token_id, dtype=torch.long)
        labels = torch.full(shape, IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros(shape, dtype=torch.long)
        sample_ids = torch.full(shape, -1, dtype=torch.long)
        for s, ex in enumerate(examples):
            n = len(ex)
            input_ids[s, :n] = torch.tensor(ex.input_ids)
            labels[s, :n] = torch.tensor(ex.labels)
            attention_mask[s, :n] = 1
            sample_ids[s, :n] = s
        return {
            "input_ids": input_ids,
            "labels": labels,
            "attention_mask": attention_mask,
            "sample_ids": sample_ids,
            "sample_domains": torch.tensor([ex.domain for ex in examples], dtype=torch.long),
        }
