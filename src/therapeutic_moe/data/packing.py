"""The one batch planner: which examples share a row, and which rows share a micro-batch.

Training, validation, `evaluate`, `data check` and `bench`'s real-data mode all plan here,
so the packing efficiency `data check` reports is the one training gets.

- ``first_fit``: examples placed, in a given order, into the leftmost row with room
  (a segment tree over the rows' free space finds it in O(log n)).
- ``plan_epoch``: the trainer's plan. The order is a pure function of (seed, epoch), which is
  what makes resume exact: a checkpoint stores only (epoch, next micro-batch) and the plan is
  rebuilt. Padding: one example per row; packing: first fit into rows of ``max_seq_length``
  tokens, in shuffled order.
- ``plan_packed_batches``: the same first fit, longest first (first-fit decreasing), rows
  then shuffled; the densest plan for a one-off pass.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

Rows = list[list[int]]


class Plan(list):
    """Micro-batches (lists of rows; a row is a list of example indices) plus the flat rows."""

    @property
    def rows(self) -> Rows:
        return [row for micro_batch in self for row in micro_batch]


class _FreeSpace:
    """Max segment tree over the free tokens of rows; rows not opened yet are empty."""

    def __init__(self, count: int, capacity: int):
        self.size = 1
        while self.size < max(1, count):
            self.size *= 2
        self.tree = [0] * self.size + [capacity] * self.size
        for node in range(self.size - 1, 0, -1):
            self.tree[node] = max(self.tree[2 * node], self.tree[2 * node + 1])

    def leftmost_fitting(self, need: int) -> int:
        node = 1
        while node < self.size:
            node = 2 * node if self.tree[2 * node] >= need else 2 * node + 1
        return node - self.size

    def take(self, row: int, tokens: int) -> None:
        node = row + self.size
        self.tree[node] -= tokens
        node //= 2
        while node:
            self.tree[node] = max(self.tree[2 * node], self.tree[2 * node + 1])
            node //= 2


def first_fit(order: Sequence[int], lengths: Sequence[int], capacity: int) -> Rows:
    """Rows of example indices, each index placed in the leftmost row with room for it.

    An example longer than ``capacity`` gets a row of its own that takes nothing else.
    """
    rows: Rows = []
    space = _FreeSpace(len(order), capacity)
    for idx in order:
        n = lengths[idx]
        # Rows not opened yet are empty, so a fitting example always finds a row: at worst the next one.
        row = space.leftmost_fitting(n) if n <= capacity else len(rows)
        if row == len(rows):
            rows.append([])
        rows[row].append(idx)
        space.take(row, min(n, capacity))
    return rows


def plan_epoch(lengths: Sequence[int], *, seed: int, epoch: int, batch_size: int, max_seq_length: int,
               packing: bool, shuffle: bool = True) -> Plan:
    """Micro-batches of ``batch_size`` rows for one epoch; same arguments, same plan."""
    order = list(range(len(lengths)))
    if shuffle:
        random.Random(seed * 100_003 + epoch).shuffle(order)
    rows = first_fit(order, lengths, max_seq_length) if packing else [[i] for i in order]
    return Plan(rows[i:i + batch_size] for i in range(0, len(rows), batch_size))


def plan_packed_batches(lengths: Sequence[int], max_tokens: int, seed: int = 0) -> Rows:
    """Indices grouped so each group's lengths sum to ≤ ``max_tokens``; same seed, same plan.

    First-fit decreasing (longest first, ties in seeded random order), then the groups are
    shuffled with the seed so batches do not arrive sorted by length.
    """
    too_long = [i for i, n in enumerate(lengths) if n > max_tokens]
    if too_long:
        raise ValueError(f"{len(too_long)} example(s) are longer than max_tokens={max_tokens} "
                         f"(first: index {too_long[0]}, {lengths[too_long[0]]} tokens)")
    rng = random.Random(seed)
    tie = [rng.random() for _ in lengths]
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], tie[i]))
    bins = first_fit(order, lengths, max_tokens)
    rng.shuffle(bins)
    return bins


def packing_efficiency(lengths: Sequence[int], plan: Rows | Plan, max_tokens: int) -> float:
    """Real tokens over token slots when every row (of a ``Plan`` or a list of rows) is ``max_tokens`` wide."""
    rows = plan.rows if isinstance(plan, Plan) else plan
    used = sum(lengths[i] for row in rows for i in row)
    return used / (len(rows) * max_tokens) if rows else 0.0


def padding_efficiency(lengths: Sequence[int], batch_size: int, seed: int = 0, epoch: int = 0) -> float:
    """Real tokens over token slots of the trainer's padded plan: one example per row, each
    micro-batch padded to its longest row (as the collator pads)."""
    plan = plan_epoch(lengths, seed=seed, epoch=epoch, batch_size=batch_size, max_seq_length=0, packing=False)
    slots = sum(len(mb) * max(lengths[row[0]] for row in mb) for mb in plan)
    return sum(lengths) / slots if slots else 0.0
