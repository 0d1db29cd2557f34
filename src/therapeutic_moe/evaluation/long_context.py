"""Perplexity by context length on long sessions.

For each length L the conversations of at least L tokens are cut into non-overlapping windows
of exactly L tokens (a session of 2.5 L tokens gives 2 windows), sampled in turns across the
longest sessions, and every therapist token in a window is scored with the window as its only
context. Longer windows give the model more history per
token, so a model that uses long context well shows falling perplexity as L grows; the
number of windows per length is reported because few windows make a noisy number.

Those windows come from different sessions at different lengths (only the longest sessions
reach 8,192), so the rows also differ in text. ``same_tokens=True`` removes that: only the
sessions that reach the longest length are used, each cut to its first ``max(lengths)``
tokens, and every length scores exactly the same tokens (the window starts of the shortest
length, which have no context at that length, are left out at every length). Then a row
differs from another only in how much history each token sees.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from therapeutic_moe.data.chat_render import IGNORE_INDEX as IGNORE
from therapeutic_moe.evaluation.scoring import BatchLayout, score_examples


@dataclass
class Window:
    """A slice of one tokenized conversation."""

    input_ids: list[int] = field(metadata={"help": "Token ids of the slice."})
    labels: list[int] = field(metadata={"help": "Labels of the slice (-100 where no loss is taken)."})
    conv_id: str = field(default="", metadata={"help": "Conversation the slice was cut from."})
    domain: int = field(default=-1, metadata={"help": "Expert index of the conversation's domain, -1 if none."})


def context_windows(sequences: Sequence, length: int, max_windows: int) -> list[Window]:
    """Up to ``max_windows`` windows of ``length`` tokens from the sequences at least that long.

    Taken in turns (the first window of every session, longest session first, then the
    second ones, ...), so a small window budget samples several sessions instead of the
    opening of one.
    """
    per_sequence: list[list[Window]] = []
    for seq in sorted(sequences, key=lambda s: -len(s.input_ids)):
        ids, labels = list(seq.input_ids), list(seq.labels)
        if len(ids) < length:
            break  # sorted: every later sequence is shorter
        domain = getattr(seq, "domain", -1)
        own = []
        for start in range(0, len(ids) - length + 1, length):
            piece = labels[start:start + length]
            # labels[0] of a window is never a target (nothing precedes it), so it needs one more.
            if any(x != IGNORE for x in piece[1:]):
                own.append(Window(ids[start:start + length], piece, str(getattr(seq, "conv_id", "")),
                                  -1 if domain is None else int(domain)))
        if own:
            per_sequence.append(own)
    out: list[Window] = []
    for turn in range(max((len(w) for w in per_sequence), default=0)):
        for own in per_sequence:
            if turn < len(own):
                out.append(own[turn])
                if len(out) >= max_windows:
                    return out
    return out


def same_token_spans(sequences: Sequence, lengths: Sequence[int], max_sessions: int) -> list[Window]:
    """The first ``max(lengths)`` tokens of up to ``max_sessions`` sessions that long (longest
    first), with every position that starts a window of ``min(lengths)`` unscored."""
    longest, shortest = max(lengths), min(lengths)
    spans = []
    for seq in sorted(sequences, key=lambda s: -len(s.input_ids))[:max_sessions]:
        if len(seq.input_ids) < longest:
            break
        labels = [IGNORE if i % shortest == 0 else x for i, x in enumerate(seq.labels[:longest])]
        domain = getattr(seq, "domain", -1)
        spans.append(Window(list(seq.input_ids[:longest]), labels, str(getattr(seq, "conv_id", "")),
                            -1 if domain is None else int(domain)))
    return spans


def perplexity_by_length(model, sequences: Sequence, lengths: Sequence[int], *, pad_id: int,
                         max_windows: int = 16, max_batch_tokens: int = 16384, progress: bool = False,
                         label: str = "", same_tokens: bool = False) -> list[dict]:
    """One row per length: windows, conversations, scored tokens, loss and perplexity (None if no window).

    ``same_tokens``: score the same tokens at every length (see the module docstring);
    ``max_windows`` then limits the number of sessions.
    """
    rows = []
    spans = same_token_spans(sequences, lengths, max_windows) if same_tokens and lengths else None
    for length in lengths:
        if spans is not None:
            windows = context_windows(spans, length, max_windows=len(spans) * (max(lengths) // length))
        else:
            windows = context_windows(sequences, length, max_windows)
        row = {"length": int(length), "windows": len(windows), "conversations": len({w.conv_id for w in windows}),
               "tokens": 0, "loss": None, "perplexity": None}
        if windows:
            layout = BatchLayout(batch_size=max(1, max_batch_tokens // length), max_seq_length=length)
            scores = score_examples(model, windows, layout, pad_id=pad_id, progress=progress,
                                    desc=f"{label}ctx {length}")
            tokens = int(scores.n_tokens)
            row["tokens"] = tokens
            if tokens:
                row["loss"] = float(scores.loss_sum) / tokens
                row["perplexity"] = math.exp(row["loss"])
        else:
            row["note"] = f"no conversation is {max(lengths) if spans is not None else length} tokens long"
        rows.append(row)
    return rows
