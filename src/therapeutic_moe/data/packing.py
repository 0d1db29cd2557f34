"""Group examples into token-budget batches (first-fit decreasing) and measure padding waste."""

from __future__ import annotations

import random
from typing import Sequence


def plan_packed_batches(lengths: Sequence[int], max_tokens: int, seed: int = 0) -> list[list[int]]:
    """Indices grouped so each group's lengths sum to ≤ ``max_tokens``; same seed, same plan.

    First-fit decreasing (longest first, ties in seeded random order), then the groups are
    shuffled with the seed so batches do not arrive sorted by length. A segment tree over
    the bins' free space finds the first fitting bin in O(log n).
    """
    too_long = [i for i, n in enumerate(lengths) if n > max_tokens]
    if too_long:
        raise ValueError(f"{len(too_long)} example(s) are longer than max_tokens={max_tokens} "
                         f"(first: index {too_long[0]}, {lengths[too_long[0]]} tokens)")
    rng = random.Random(seed)
    tie = [rng.random() for _ in lengths]
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], tie[i]))
    size = 1
    while size < max(1, len(lengths)):
        size *= 2
    tree = [0] * size + [max_tokens] * size  # leaves: free space of bin j (unopened bins are empty)
    for node in range(size - 1, 0, -1):
        tree[node] = max(tree[2 * node], tree[2 * node + 1])
    bins: list[list[int]] = []
    for i in order:
        node = 1
        while node < size:  # leftmost bin with room
            node = 2 * node if tree[2 * node] >= lengths[i] else 2 * node + 1
        j = node - size
        if j == len(bins):
            bins.append([])
        bins[j].append(i)
        tree[node] -= lengths[i]
        node //= 2
        while node:
            tree[node] = max(tree[2 * node], tree[2 * node + 1])
            node //= 2
    rng.shuffle(bins)
    return bins


def packing_efficiency(lengths: Sequence[int], batches: list[list[int]], max_tokens: int) -> float:
    """Real tokens over slot tokens when every batch is one row of ``max_tokens``."""
    return sum(lengths) / (len(batches) * max_tokens) if batches else 0.0


def padding_efficiency(lengths: Sequence[int], batch_size: int, seed: int = 0) -> float:
    """Real tokens over slot tokens with dynamic padding (pad to the longest) in shuffled order."""
    order = list(range(len(lengths)))
    random.Random(seed).shuffle(order)
    slots = 0
    for k in range(0, len(order), batch_size):
        chunk = [lengths[i] for i in order[k:k + batch_size]]
        slots += len(chunk) * max(chunk)
    return sum(lengths) / slots if slots else 0.0
