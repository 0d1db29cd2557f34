"""Deterministic micro-batch plans and their collation into tensors.

The order of examples is a pure function of (seed, epoch). That is what makes resume
exact: a checkpoint stores only (epoch, next micro-batch index) and the plan is rebuilt.

A plan is a list of micro-batches; a micro-batch is a list of rows; a row is a list of
example indices. Padding: one example per row. Packing: examples packed first-fit into rows
of ``max_seq_length`` tokens, with position ids restarting per example so that attention
never crosses examples (transformers builds the block-diagonal mask from the position ids).
"""

from __future__ import annotations

import random

import torch

Plan = list[list[list[int]]]


def plan_epoch(lengths: list[int], *, seed: int, epoch: int, batch_size: int, max_seq_length: int,
               packing: bool, shuffle: bool = True) -> Plan:
    order = list(range(len(lengths)))
    if shuffle:
        random.Random(seed * 100_003 + epoch).shuffle(order)
    if not packing:
        rows = [[i] for i in order]
    else:
        rows, room = [], []
        for idx in order:
            n = lengths[idx]
            for r, free in enumerate(room):  # first fit: deterministic and dense
                if n <= free:
                    rows[r].append(idx)
                    room[r] -= n
                    break
            else:
                rows.append([idx])
                room.append(max_seq_length - n)
    return [rows[i:i + batch_size] for i in range(0, len(rows), batch_size)]


def collate(rows: list[list], *, pad_token_id: int, packing: bool) -> dict[str, torch.Tensor]:
    """rows: lists of examples (objects with input_ids, labels, domain). Right-padded.

    Returns input_ids, labels, position_ids (packing) or attention_mask (padding),
    sample_ids [B, T] (-1 = padding) and sample_domains [S] (-1 = unlabelled).
    """
    width = max(sum(len(ex.input_ids) for ex in row) for row in rows)
    B = len(rows)
    input_ids = torch.full((B, width), pad_token_id, dtype=torch.long)
    labels = torch.full((B, width), -100, dtype=torch.long)
    sample_ids = torch.full((B, width), -1, dtype=torch.long)
    position_ids = torch.zeros((B, width), dtype=torch.long)
    domains = []
    for b, row in enumerate(rows):
        pos = 0
        for ex in row:
            n = len(ex.input_ids)
            input_ids[b, pos:pos + n] = torch.as_tensor(ex.input_ids)
            lab = torch.as_tensor(ex.labels)
            lab[0] = -100  # a sample's first token is never a target of the previous sample
            labels[b, pos:pos + n] = lab
            position_ids[b, pos:pos + n] = torch.arange(n)
            sample_ids[b, pos:pos + n] = len(domains)
            domains.append(ex.domain if ex.domain is not None else -1)
            pos += n
        # padding continues as its own run of positions, i.e. its own "sequence"
        position_ids[b, pos:] = torch.arange(width - pos)
    batch = {"input_ids": input_ids, "labels": labels, "sample_ids": sample_ids,
             "sample_domains": torch.tensor(domains, dtype=torch.long)}
    if packing:
        batch["position_ids"] = position_ids
    else:
        batch["attention_mask"] = (sample_ids >= 0).long()
    return batch


def packing_efficiency(lengths: list[int], plan: Plan, max_seq_length: int) -> float:
    """Real tokens / token slots when every row is padded to ``max_seq_length``."""
    rows = sum(len(mb) for mb in plan)
    used = sum(lengths[i] for mb in plan for row in mb for i in row)
    return used / max(1, rows * max_seq_length)
