"""Exact-duplicate removal and a deterministic train/validation split by conversation."""

from __future__ import annotations

import hashlib

from therapeutic_moe.data.types import Conversation


def dedupe(conversations: list[Conversation], seen: set[str] | None = None) -> tuple[list[Conversation], int]:
    """Keep the first of each normalised text (and none already in ``seen``); return kept and removed count."""
    seen = set() if seen is None else set(seen)
    kept = []
    for conv in conversations:
        key = conv.normalized_text()
        if key not in seen:
            seen.add(key)
            kept.append(conv)
    return kept, len(conversations) - len(kept)


def split_score(conv_id: str, seed: int) -> float:
    """A uniform number in [0, 1) fixed by the conversation id and seed, stable across runs and machines."""
    digest = hashlib.sha256(f"{seed}:{conv_id}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_conversations(conversations: list[Conversation], fraction: float,
                        seed: int) -> tuple[list[Conversation], list[Conversation]]:
    """Conversations whose score falls below ``fraction`` go to validation (windows never straddle)."""
    if fraction <= 0 or len(conversations) < 2:
        return list(conversations), []
    scores = [split_score(c.id, seed) for c in conversations]
    val_idx = {i for i, s in enumerate(scores) if s < fraction}
    # Tiny datasets can hash to an empty side; move the nearest conversation across.
    if not val_idx:
        val_idx = {min(range(len(scores)), key=scores.__getitem__)}
    elif len(val_idx) == len(conversations):
        val_idx.discard(max(range(len(scores)), key=scores.__getitem__))
    train = [c for i, c in enumerate(conversations) if i not in val_idx]
    val = [c for i, c in enumerate(conversations) if i in val_idx]
    return train, val
