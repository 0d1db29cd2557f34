"""Chat-shaped records: OpenAI/TRL ``messages``, ShareGPT ``conversations``, Alpaca instructions.

Each converter returns ``(system message or None, turns)`` and raises one ``DataError``
naming the record (and turn) and the fix.

- OpenAI / TRL: ``{"messages": [{"role": "system|user|assistant", "content": "..."}]}``
- ShareGPT (Axolotl, LLaMA-Factory, FastChat): ``{"conversations": [{"from": "human|gpt|system",
  "value": "..."}], "system"?: "..."}``. Either turn shape is accepted under either key.
- Alpaca: ``{"instruction": "...", "input"?: "...", "output": "...", "system"?: "...",
  "history"?: [["earlier instruction", "earlier reply"], ...]}``; the prompt is the
  instruction followed by the input after a blank line.
"""

from __future__ import annotations

from typing import Any

from therapeutic_moe.data.transcript import merge_turns
from therapeutic_moe.data.types import ROLES, Turn
from therapeutic_moe.errors import DataError

# ShareGPT speaker names -> chat roles (the names the common exporters and trainers write).
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "chatgpt": "assistant", "model": "assistant", "bot": "assistant", "system": "system"}


def chat_turns(items: Any, where: str, key: str) -> tuple[str | None, list[Turn]]:
    """Turns of a ``messages`` / ``conversations`` list; a system message may only come first."""
    if not isinstance(items, list):
        raise DataError(f"{where}: field '{key}' must be a list of {{'role', 'content'}} (or ShareGPT "
                        f"{{'from', 'value'}}) objects, got {type(items).__name__}")
    if not items:
        raise DataError(f"{where}: empty conversation ('{key}' is empty). Fix: remove the record or fill it")
    system: str | None = None
    turns: list[Turn] = []
    for i, item in enumerate(items):
        at = f"{where}.{key}[{i}]"
        role, content = _role_and_content(item, at)
        if role == "system":
            if system is not None:
                raise DataError(f"{at}: a second system message. Fix: keep one system message, first in the list")
            if turns:
                raise DataError(f"{at}: the system message must come first. Fix: move it to {key}[0]")
            system = content.strip() or None
        else:
            turns.append(Turn(role, content))
    return system, _checked(turns, where)


def _role_and_content(item: Any, at: str) -> tuple[str, str]:
    if not isinstance(item, dict):
        raise DataError(f"{at}: expected an object with 'role' and 'content' (or ShareGPT 'from' and 'value'), "
                        f"got {type(item).__name__}")
    if item.get("role") is None and "from" in item:  # ShareGPT turn
        speaker, content, text_key = item.get("from"), item.get("value"), "value"
        role = SHAREGPT_ROLES.get(speaker.strip().lower()) if isinstance(speaker, str) else None
        if role is None:
            raise DataError(f"{at}: 'from' {speaker!r} is not a ShareGPT speaker this trainer knows "
                            f"({', '.join(sorted(SHAREGPT_ROLES))}). Fix: use 'human' for the client, 'gpt' for "
                            f"the therapist (tool and function turns are not supported)")
    else:
        role, content, text_key = item.get("role"), item.get("content"), "content"
        if role not in ROLES:
            raise DataError(f"{at}: role {role!r} is not one of {list(ROLES)}. Fix: use those role names "
                            f"(or ShareGPT 'from': 'human' / 'gpt')")
    if not isinstance(content, str):
        raise DataError(f"{at}: '{text_key}' must be a string, got {type(content).__name__}")
    return role, content


def _checked(turns: list[Turn], where: str) -> list[Turn]:
    turns = merge_turns(turns)
    if not turns:
        raise DataError(f"{where}: empty conversation (no user or assistant message with text)")
    if not any(t.role == "assistant" for t in turns):
        raise DataError(f"{where}: no assistant message, so there is nothing to learn from it. "
                        f"Fix: add the therapist's replies as role 'assistant' (ShareGPT: 'from': 'gpt')")
    return turns


def _string_field(record: dict, key: str, where: str, required: bool) -> str:
    value = record.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        got = "missing" if value is None else f"a {type(value).__name__}"
        raise DataError(f"{where}: Alpaca field '{key}' must be a string, got {got}. Fix: write the "
                        f"{'prompt' if key != 'output' else 'reply'} as text")
    return value


def alpaca_turns(record: dict, where: str) -> tuple[str | None, list[Turn]]:
    """Turns of an Alpaca record: optional history pairs, then instruction (+ input) and output."""
    instruction = _string_field(record, "instruction", where, required=True)
    extra = _string_field(record, "input", where, required=False)
    output = _string_field(record, "output", where, required=True)
    if not output.strip():
        raise DataError(f"{where}: Alpaca 'output' is empty, so there is nothing to learn from it. "
                        f"Fix: fill in the reply or remove the record")
    turns: list[Turn] = []
    history = record.get("history") or []
    if not isinstance(history, list):
        raise DataError(f"{where}: Alpaca 'history' must be a list of [prompt, reply] pairs, got "
                        f"{type(history).__name__}")
    for i, pair in enumerate(history):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise DataError(f"{where}.history[{i}]: expected a [prompt, reply] pair of strings, got {pair!r:.60}")
        turns += [Turn("user", pair[0]), Turn("assistant", pair[1])]
    prompt = "\n\n".join(part for part in (instruction.strip(), extra.strip()) if part)
    if not prompt:
        raise DataError(f"{where}: Alpaca 'instruction' and 'input' are both empty. Fix: write the client's "
                        f"message in 'instruction'")
    turns += [Turn("user", prompt), Turn("assistant", output)]
    system = record.get("system")
    if system is not None and not isinstance(system, str):
        raise DataError(f"{where}: field 'system' must be a string, got {type(system).__name__}")
    return (system or "").strip() or None, _checked(turns, where)


def record_system(record: dict, where: str, system: str | None) -> str | None:
    """A ShareGPT record's top-level ``system`` field (LLaMA-Factory), unless a turn already gave one."""
    value = record.get("system")
    if value is None:
        return system
    if not isinstance(value, str):
        raise DataError(f"{where}: field 'system' must be a string, got {type(value).__name__}")
    if system is not None and value.strip():
        raise DataError(f"{where}: a 'system' field and a system turn. Fix: keep one of them")
    return system or value.strip() or None
