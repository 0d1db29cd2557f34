"""Cut conversations into training windows of at most ``max_seq_length`` tokens.

A window is a run of whole turns that ends on an assistant turn. Its newly trained turns
start right after the last assistant turn of the previous window; earlier turns that still
fit ride along as masked context. Nothing is truncated: an assistant turn that cannot fit
together with the turns since the previous reply (its prompt) is dropped and counted as
"turn_too_long", and a window without a single trained token is dropped as
"no_trained_tokens".
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


def plan_windows(roles: list[str], lengths: list[int], budget: int,
                 context_fraction: float = CONTEXT_FRACTION) -> tuple[list[Window], int]:
    """Windows over turns of the given token lengths, each ≤ ``budget``; also the count of turns too long."""
    prefix = [0, *accumulate(lengths)]
    assistants = [i for i, role in enumerate(roles) if role == "assistant"]
    windows: list[Window] = []
    too_long = 0
    nxt = 0  # first turn not yet covered by a trained window
    for first_a in assistants:
        if first_a < nxt:
            continue
        if prefix[first_a + 1] - prefix[nxt] > budget:
            too_long += 1
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
                          domain: int, stats: BuildStats,
                          context_fraction: float = CONTEXT_FRACTION) -> list[Example]:
    """All training windows of one conversation (possibly none, with drops counted in ``stats``)."""
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
    stats.drops["turn_too_long"] += too_long
    examples: list[Example] = []
    for window in windows:
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
            continue
        if all(label == IGNORE_INDEX for label in labels):
            stats.drops["no_trained_tokens"] += 1
            continue
        # The first token is never a target: in a packed row it would be predicted from another sample.
        labels[0] = IGNORE_INDEX
        examples.append(Example(ids, labels, domain=domain, conv_id=conv.id, window=len(examples)))
        stats.trained_tokens += sum(1 for label in labels if label != IGNORE_INDEX)
    stats.windows += len(examples)
    stats.multi_window_conversations += len(examples) > 1
    return examples
