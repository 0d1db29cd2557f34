"""Render chat messages with the tokenizer's chat template and mark which tokens are trained.

Labels come from character spans of the assistant turns in the rendered text, never from
comparing ids with the pad token: in SmolLM2 pad == eos == <|im_end|>, and the assistant's
<|im_end|> must be a target. A trained span runs from the first character of the assistant's
content to the end of its rendered segment (trailing whitespace dropped), so the
end-of-turn token is included and the role header is not.

Where each segment ends is learnt once per template from a small probe conversation and
checked against the real rendering; templates that render a turn differently depending on
its position fall back to rendering every prefix (exact, but quadratic in turns).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from therapeutic_moe.errors import DataError

IGNORE_INDEX = -100

# For tokenizers without a chat template: "<role>: text\n", and eos closes every assistant
# turn so the model learns to stop. Inference must render prompts with the same template.
FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] + ': ' + message['content'] + '\\n' }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}"
)


def chat_template_of(tokenizer) -> str:
    """The tokenizer's own chat template, else the plain fallback (which needs an eos token)."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):  # several named templates: the default one is what chat uses
        template = template.get("default")
    if template:
        return template
    if not getattr(tokenizer, "eos_token", None):
        raise DataError("the tokenizer has neither a chat template nor an eos token, so turns cannot be ended. "
                        "Fix: use a tokenizer with a chat template or set its eos_token")
    return FALLBACK_CHAT_TEMPLATE


def render(tokenizer, messages: Sequence[dict], add_generation_prompt: bool = False, where: str = "") -> str:
    try:
        return tokenizer.apply_chat_template(list(messages), chat_template=chat_template_of(tokenizer),
                                             tokenize=False, add_generation_prompt=add_generation_prompt)
    except DataError:
        raise
    except Exception as exc:  # jinja raises its own types; templates raise_exception() with any message
        raise DataError(f"{where or 'conversation'}: the tokenizer's chat template refused it: {exc}. Fix: adapt the "
                        f"data to what the template expects (e.g. roles alternating, system message allowed)") from None


@dataclass
class ChatLayout:
    """A rendered conversation and where each message's content starts and its segment ends."""

    text: str
    content_starts: list[int]
    segment_ends: list[int]


def chat_layout(tokenizer, messages: Sequence[dict], where: str = "") -> ChatLayout:
    full = render(tokenizer, messages, where=where)
    return _layout_from_probe(tokenizer, messages, full) or _layout_from_prefixes(tokenizer, messages, full, where)


def _layout_from_prefixes(tokenizer, messages: Sequence[dict], full: str, where: str) -> ChatLayout:
    starts, ends = [], []
    for k in range(1, len(messages) + 1):
        prefix = full if k == len(messages) else render(tokenizer, messages[:k], where=where)
        if not full.startswith(prefix):
            raise DataError(f"{where or 'conversation'}: the tokenizer's chat template renders earlier turns "
                            f"differently once later turns follow, so per-turn label masks cannot be computed. "
                            f"Fix: use a tokenizer whose template renders each turn independently (ChatML-like)")
        seg_start, seg_end = (ends[-1] if ends else 0), len(prefix)
        content = messages[k - 1]["content"]
        is_reply = messages[k - 1]["role"] == "assistant" and k > 1
        prompt = render(tokenizer, messages[:k - 1], add_generation_prompt=True, where=where) if is_reply else ""
        if is_reply and seg_start < len(prompt) <= seg_end and full.startswith(prompt) \
                and full.startswith(content, len(prompt)):
            start = len(prompt)  # the generation prompt is exactly the header before the content
        else:  # the content's last occurrence in its segment: the header comes before it
            found = full.rfind(content, seg_start, seg_end)
            start = found if found >= 0 else seg_start
        starts.append(start)
        ends.append(seg_end)
    return ChatLayout(full, starts, ends)


_PROBES: dict[tuple, dict | None] = {}


def _probe(tokenizer) -> dict | None:
    """Text before the first message, between two messages (and where the first one's segment
    ends in it) and after the last, per role, learnt from tiny conversations; None when the
    template does not render a turn the same way wherever it stands."""
    key = (chat_template_of(tokenizer), getattr(tokenizer, "bos_token", None), getattr(tokenizer, "eos_token", None))
    if key in _PROBES:
        return _PROBES[key]
    table: dict[tuple, tuple] = {}
    consistent = True
    for head in (["system"], []):
        for first, second in (("user", "assistant"), ("assistant", "user")):
            roles = head + [first, second, first, second]
            msgs = [{"role": r, "content": f"zqx{k}zqx"} for k, r in enumerate(roles)]
            try:
                layout = _layout_from_prefixes(tokenizer, msgs, render(tokenizer, msgs), "")
            except DataError:
                continue  # this shape is refused by the template; real data of that shape will say so
            text = layout.text
            spots = [text.find(m["content"]) for m in msgs]
            if any(text.count(m["content"]) != 1 for m in msgs):
                consistent = False
                break
            last_end = spots[-1] + len(msgs[-1]["content"])
            entries = {("pre", roles[0]): (text[:spots[0]], 0), ("post", roles[-1]): (text[last_end:], 0)}
            for i in range(len(msgs) - 1):
                end_i = spots[i] + len(msgs[i]["content"])
                entries[("gap", roles[i], roles[i + 1])] = (text[end_i:spots[i + 1]], layout.segment_ends[i] - end_i)
            for entry_key, value in entries.items():
                if table.setdefault(entry_key, value) != value:
                    consistent = False
    _PROBES[key] = table if consistent and table else None
    return _PROBES[key]


def _layout_from_probe(tokenizer, messages: Sequence[dict], full: str) -> ChatLayout | None:
    table = _probe(tokenizer)
    roles = [m["role"] for m in messages]
    if table is None or not messages or ("pre", roles[0]) not in table or ("post", roles[-1]) not in table:
        return None
    pieces = [table[("pre", roles[0])][0]]
    pos = len(pieces[0])
    starts, ends = [], []
    for i, message in enumerate(messages):
        starts.append(pos)
        pieces.append(message["content"])
        pos += len(message["content"])
        if i + 1 < len(messages):
            gap = table.get(("gap", roles[i], roles[i + 1]))
            if gap is None:
                return None
            ends.append(pos + gap[1])
        else:
            gap = table[("post", roles[i])]
            ends.append(pos + len(gap[0]))
        pieces.append(gap[0])
        pos += len(gap[0])
    # The probe is only trusted when it reproduces the template's own rendering exactly.
    return ChatLayout(full, starts, ends) if "".join(pieces) == full else None


def _token_spans(tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids of ``text`` and each token's character span."""
    if not getattr(tokenizer, "is_fast", False):
        raise DataError("the tokenizer is a slow (Python) tokenizer without character offsets; per-token label "
                        "masks need a fast tokenizer. Fix: load it with use_fast=True")
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]


@dataclass
class EncodedChat:
    """A rendered conversation with its token ids and each token's character span."""

    layout: ChatLayout
    ids: list[int]
    offsets: list[tuple[int, int]]

    def labels(self, messages: Sequence[dict], train_from: int = 0) -> list[int]:
        """Assistant messages at index >= ``train_from`` are targets (end-of-turn included), the rest -100."""
        layout = self.layout
        spans = [(layout.content_starts[i], len(layout.text[:layout.segment_ends[i]].rstrip()))
                 for i, m in enumerate(messages) if m["role"] == "assistant" and i >= train_from]
        labels = [IGNORE_INDEX] * len(self.ids)
        for k, (a, b) in enumerate(self.offsets):
            b = max(b, a + 1)
            if any(a < end and b > start for start, end in spans):
                labels[k] = self.ids[k]
        return labels

    def segment_lengths(self) -> list[int]:
        """Tokens per message segment (a template preamble counts to message 0)."""
        ends = self.layout.segment_ends
        lengths = [0] * len(ends)
        seg = 0
        for a, _ in self.offsets:
            while seg < len(ends) - 1 and a >= ends[seg]:
                seg += 1
            lengths[seg] += 1
        return lengths


def encode_messages(tokenizer, messages: Sequence[dict], where: str = "") -> EncodedChat:
    layout = chat_layout(tokenizer, messages, where)
    return EncodedChat(layout, *_token_spans(tokenizer, layout.text))


def encode_chat(tokenizer, messages: Sequence[dict], train_from: int = 0,
                where: str = "") -> tuple[list[int], list[int]]:
    """Token ids and labels: assistant messages at index >= ``train_from`` are targets, the rest -100."""
    encoded = encode_messages(tokenizer, messages, where)
    return encoded.ids, encoded.labels(messages, train_from)
