"""Chat messages: validation, prompt rendering, and trimming history to the context limit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from therapeutic_moe.errors import UserError

ROLES = ("system", "user", "assistant")


class InvalidMessages(UserError):
    """The messages list is malformed (the server answers 400/422 with this text)."""


class ContextTooLong(UserError):
    """Even the newest user message alone does not fit the context limit."""


def validate_messages(messages) -> list[dict]:
    """Plain ``[{"role", "content"}]`` dicts; raises InvalidMessages naming the bad index and field."""
    if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)) or not messages:
        raise InvalidMessages("messages must be a non-empty list of {\"role\": ..., \"content\": ...} objects")
    out = []
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else getattr(m, "role", None)
        content = m.get("content") if isinstance(m, dict) else getattr(m, "content", None)
        if role not in ROLES:
            raise InvalidMessages(f"messages[{i}].role is {role!r}; use one of {list(ROLES)}")
        if not isinstance(content, str):
            raise InvalidMessages(f"messages[{i}].content must be a string, got {type(content).__name__}")
        out.append({"role": role, "content": content})
    if not any(m["role"] == "user" for m in out):
        raise InvalidMessages("messages has no user message; add one with role \"user\"")
    if out[-1]["role"] != "user":
        raise InvalidMessages(f"the last message (messages[{len(out) - 1}]) must have role \"user\"; "
                              f"it has {out[-1]['role']!r}")
    return out


def render_prompt_ids(tokenizer, messages: list[dict]) -> list[int]:
    """Token ids of the chat template applied to ``messages``, ready for the assistant turn."""
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    # The template already wrote the special tokens; adding them again would double the BOS.
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


@dataclass
class FittedPrompt:
    """The prompt actually sent to the model after trimming."""

    input_ids: list[int] = field(metadata={"help": "Prompt token ids."})
    messages: list[dict] = field(metadata={"help": "The messages kept (system prompt first)."})
    dropped: int = field(default=0, metadata={"help": "How many of the oldest messages were left out."})


def fit_messages(tokenizer, messages: list[dict], budget: int) -> FittedPrompt:
    """Drop the oldest non-system messages until the prompt has at most ``budget`` tokens.

    System messages are always kept, and a trimmed history starts at a user message so the
    model never sees an orphaned assistant turn. Fewer messages never means more tokens, so
    the cut point is found by bisection: a few renderings even for very long histories.
    """
    system = [m for m in messages if m["role"] == "system"]
    rest = [m for m in messages if m["role"] != "system"]
    cuts = [0] + [i for i, m in enumerate(rest) if i > 0 and m["role"] == "user"]

    def render(cut: int) -> list[int]:
        return render_prompt_ids(tokenizer, system + rest[cut:])

    ids = render(0)
    if len(ids) <= budget:
        return FittedPrompt(ids, system + rest, 0)
    last = render(cuts[-1])
    if len(last) > budget:
        raise ContextTooLong(
            f"the last user message and system prompt need {len(last)} tokens, more than the {budget} tokens "
            "left in the context after reserving room for the reply; shorten the message or lower max_tokens")
    lo, hi, best = 1, len(cuts) - 1, last  # invariant: cuts[hi] fits and best == render(cuts[hi])
    while lo < hi:
        mid = (lo + hi) // 2
        candidate = render(cuts[mid])
        if len(candidate) <= budget:
            hi, best = mid, candidate
        else:
            lo = mid + 1
    return FittedPrompt(best, system + rest[cuts[hi]:], cuts[hi])
