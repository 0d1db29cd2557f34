"""Cut conversations into training windows of at most ``max_seq_length`` tokens.

A window is a run of whole turns that ends on an assistant turn. Its newly trained turns
start right after the last assistant turn of the previous window; earlier turns that still
fit ride along as masked context. Nothing is truncated: an assistant turn that cannot fit
together with the turns since the previous reply (its prompt) is dropped and counted as
"turn_too_long" (evaluation scores it in several windows instead: ``split_long_turns``), and
a window without a single trained token is dropped as "no_trained_tokens".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import accumulate
from typing import NamedTuple

from therapeutic_moe.data.chat_render import IGNORE_INDEX, encode_messages
from therapeutic_moe.data.types import Conversation, Example
from therapeutic_moe.errors import ConfigError

# Share of a later window kept free for context turns before its new turns (when the
# conversation has that much history). More context helps the first reply of the window;
# less packs more trained tokens per window.
CONTEXT_FRACTION = 0.25
# Share of a long-turn evaluation window that is context before the tokens it scores.
LONG_TURN_CONTEXT_FRACTION = 0.5


class Window(NamedTuple):
    start: int  # first turn in the window (context from here)
    first_new: int  # first turn whose assistant replies are trained
    end: int  # last turn, always an assistant turn


@dataclass
class BuildStats:
    """What happened while turning conversations into examples."""

    conversation_tokens: list[int] = field(default_factory=list, metadata={"help": "Tokens per full rendering."})
    windows: int = field(default=0, metadata={"help": "Examples made."})
    multi_window_conversations: int = field(default=0, metadata={"help": "Conversations cut into 2+ windows."})
    drops: Counter = field(default_factory=Counter, metadata={"help": "Dropped samples per reason."})
    trained_tokens: int = field(default=0, metadata={"help": "Tokens with a label (assistant + end-of-turn)."})
    special_text_removed: int = field(default=0, metadata={"help": "Special-token strings removed from turns."})
    long_turns_split: int = field(default=0, metadata={
        "help": "Assistant turns too long for one window, scored in several windows instead (evaluation)."})


def plan_windows(roles: list[str], lengths: list[int], budget: int,
                 context_fraction: float = CONTEXT_FRACTION) -> tuple[list[Window], list[int]]:
    """Windows over turns of the given token lengths, each ≤ ``budget``; also the assistant turns
    that do not fit together with their prompt."""
    prefix = [0, *accumulate(lengths)]
    assistants = [i for i, role in enumerate(roles) if role == "assistant"]
    windows: list[Window] = []
    too_long: list[int] = []
    nxt = 0  # first turn not yet covered by a trained window
    for first_a in assistants:
        if first_a < nxt:
            continue
        if prefix[first_a + 1] - prefix[nxt] > budget:
            too_long.append(first_a)
            nxt = first_a + 1
            continue
        reserve = min(prefix[nxt], int(budget * context_fraction))
        end = first_a
        for a in assistants:
            if a > end:
                if prefix[a + 1] - prefix[nxt] + reserve > budget:
                    break
                end = a
        start = nxt
        while start > 0 and prefix[end + 1] - prefix[start - 1] <= budget:
            start -= 1
        windows.append(Window(start, nxt, end))
        nxt = end + 1
    return windows, too_long


def _strip_special_text(text: str, specials: list[str], stats: BuildStats) -> str:
    # A literal "<|im_end|>" typed into a turn would tokenize as the real control token.
    for special in specials:
        if special in text:
            stats.special_text_removed += text.count(special)
            text = text.replace(special, "")
    return text


def conversation_examples(conv: Conversation, tokenizer, *, max_seq_length: int, system_prompt: str | None,
                          domain: int, stats: BuildStats, context_fraction: float = CONTEXT_FRACTION,
                          split_long_turns: bool = False) -> list[Example]:
    """All training windows of one conversation (possibly none, with drops counted in ``stats``).

    ``split_long_turns`` (evaluation): an assistant turn that does not fit with its prompt is
    not dropped but scored in pieces, each window ending in the turn and filled with the
    tokens before it (see ``long_turn_windows``); counted in ``stats.long_turns_split``.
    """
    specials = [s for s in getattr(tokenizer, "all_special_tokens", []) if len(s) > 2]
    system = conv.system or system_prompt
    head = [{"role": "system", "content": system}] if system else []
    turns = [{"role": t.role, "content": _strip_special_text(t.content, specials, stats)} for t in conv.turns]
    full = encode_messages(tokenizer, head + turns, conv.source)
    lengths = full.segment_lengths()
    stats.conversation_tokens.append(sum(lengths))
    system_tokens = lengths[0] if head else 0
    if system_tokens >= max_seq_length:
        raise ConfigError(f"the system prompt alone takes {system_tokens} tokens, max_seq_length is {max_seq_length}. "
                          f"Fix: shorten system_prompt or raise max_seq_length")
    windows, too_long = plan_windows([t["role"] for t in turns], lengths[len(head):],
                                     max_seq_length - system_tokens, context_fraction)
    if split_long_turns:
        stats.long_turns_split += len(too_long)
    else:
        stats.drops["turn_too_long"] += len(too_long)
    pieces: list[tuple[list[int], list[int]]] = []
    for window in windows:
        piece = _encode_window(conv, tokenizer, head, turns, full, window, max_seq_length, stats)
        if piece is not None:
            pieces.append(piece)
    for turn in too_long if split_long_turns else []:
        pieces += long_turn_windows(full, head + turns, len(head) + turn, max_seq_length)
    examples = [Example(ids, labels, domain=domain, conv_id=conv.id, window=k) for k, (ids, labels) in enumerate(pieces)]
    stats.trained_tokens += sum(ex.num_trained for ex in examples)
    stats.windows += len(examples)
    stats.multi_window_conversations += len(examples) > 1
    return examples


def _encode_window(conv: Conversation, tokenizer, head: list[dict], turns: list[dict], full, window: Window,
                   max_seq_length: int, stats: BuildStats) -> tuple[list[int], list[int]] | None:
    """Token ids and labels of one planned window, or None (counted as a drop) when unusable."""
    start = window.start
    while True:
        messages = head + turns[start:window.end + 1]
        # A window holding the whole conversation reuses its encoding (the common short case).
        encoded = full if len(messages) == len(head) + len(turns) else encode_messages(tokenizer, messages,
                                                                                       conv.source)
        ids, labels = encoded.ids, encoded.labels(messages, train_from=len(head) + window.first_new - start)
        # Plans use per-turn lengths; a template that is not additive can overshoot by a few tokens.
        if len(ids) <= max_seq_length or start >= window.first_new:
            break
        start += 1
    if len(ids) > max_seq_length:
        stats.drops["window_too_long"] += 1
        return None
    if all(label == IGNORE_INDEX for label in labels):
        stats.drops["no_trained_tokens"] += 1
        return None
    # The first token is never a target: in a packed row it would be predicted from another sample.
    labels[0] = IGNORE_INDEX
    return ids, labels


def long_turn_windows(full, messages: list[dict], segment: int, max_seq_length: int,
                      context_fraction: float = LONG_TURN_CONTEXT_FRACTION) -> list[tuple[list[int], list[int]]]:
    """Windows of the whole-conversation encoding ``full`` that together score message ``segment``
    (an assistant turn) once per token: each window ends inside the turn, scores the next chunk
    of it, and is filled up to ``max_seq_length`` with the tokens before that chunk, so every
    scored token sees at least ``context_fraction`` of a window of preceding context (or
    everything before it). Windows can start mid-turn, without the system prompt."""
    lengths = full.segment_lengths()
    seg_start = sum(lengths[:segment])
    seg_end = seg_start + lengths[segment]
    turn_labels = full.labels(messages, train_from=segment)
    chunk = max(1, max_seq_length - max(1, int(max_seq_length * context_fraction)))
    out = []
    first = next((p for p in range(seg_start, seg_end) if turn_labels[p] != IGNORE_INDEX), seg_end)
    for begin in range(first, seg_end, chunk):
        end = min(begin + chunk, seg_end)
        start = max(0, end - max_seq_length)
        labels = [turn_labels[p] if begin <= p < end and p > start else IGNORE_INDEX for p in range(start, end)]
        if any(label != IGNORE_INDEX for label in labels):
            out.append((full.ids[start:end], labels))
    return out
