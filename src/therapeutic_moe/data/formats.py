"""Load conversations from JSON, JSONL or a directory of them, refusing bad input clearly.

Accepted records (in a JSON file under "conversations", as a top-level list, or one per
JSONL line): ``{"text": "Therapist: ...\\nClient: ...", "domain"?, "topic"?, "id"?}`` or
the chat form ``{"messages": [{"role": "system|user|assistant", "content": "..."}]}``.
Every refusal is one ``DataError`` naming the file and line/column or record index.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from therapeutic_moe.data.transcript import Speakers, merge_turns, parse_transcript
from therapeutic_moe.data.types import ROLES, Conversation, Turn
from therapeutic_moe.errors import DataError

DATA_SUFFIXES = (".json", ".jsonl")
_JSONL_SUFFIXES = (".jsonl", ".ndjson")
_SHAPE_HINT = ('expected {"conversations": [{"text": "Therapist: ...\\nClient: ..."}, ...]} or one '
               '{"text": ...} / {"messages": [...]} object per JSONL line')


def data_files(path: str | Path) -> list[Path]:
    """The data files a dataset path stands for (a file, or the *.json/*.jsonl in a directory)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory. Fix: check the path (the 'dataset' / "
                        f"'validation_dataset' setting or the PATH argument)")
    if path.is_file():
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in DATA_SUFFIXES)
    if not files:
        raise DataError(f"{path}: directory has no *.json or *.jsonl files. Fix: put the dataset files there "
                        f"or point at the file itself")
    return files


def load_conversations(path: str | Path, speakers: Speakers | None = None) -> list[Conversation]:
    """All conversations under ``path`` in file order, validated and parsed into turns."""
    speakers = speakers or Speakers()
    conversations: list[Conversation] = []
    for file in data_files(path):
        for where, record in _records(file):
            conversations.append(_to_conversation(record, where, speakers))
    return conversations


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataError(f"{path}:{line}:{column}: not UTF-8 text (byte 0x{raw[exc.start]:02x}). Fix: re-save the "
                        f"file as UTF-8, e.g. `iconv -f latin1 -t utf-8 in.json > out.json`") from None
    if not text.strip():
        raise DataError(f"{path}: empty file. Fix: add conversations ({_SHAPE_HINT}) or remove the file")
    return text


def _json_error(path: Path, exc: json.JSONDecodeError, line: int | None = None) -> DataError:
    return DataError(f"{path}:{line or exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}. Fix: correct the "
                     f"syntax there (a JSON validator such as `python -m json.tool FILE` shows it)")


def _too_deep(path: Path, line: int | None = None) -> DataError:
    # json.loads recurses once per nesting level, so deeply nested input raises RecursionError
    # (not JSONDecodeError); no conversation is nested like that, so the file is damaged.
    where = f"{path}:{line}" if line else str(path)
    return DataError(f"{where}: invalid JSON: nested too deeply (thousands of [ or {{). Fix: check that this "
                     f"is the dataset file you meant; {_SHAPE_HINT}")


def _records(path: Path) -> Iterator[tuple[str, Any]]:
    text = _read_text(path)
    if path.suffix.lower() in _JSONL_SUFFIXES:
        yield from _jsonl_records(path, text)
        return
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        # A .json file that is really JSONL: the first line parses alone, then "Extra data".
        if exc.msg == "Extra data" and exc.lineno > 1:
            yield from _jsonl_records(path, text)
            return
        raise _json_error(path, exc) from None
    except RecursionError:
        raise _too_deep(path) from None
    if isinstance(document, dict) and "conversations" in document:
        records = document["conversations"]
        if not isinstance(records, list):
            raise DataError(f"{path}: 'conversations' must be a list, got {type(records).__name__}. Fix: {_SHAPE_HINT}")
    elif isinstance(document, dict) and ("messages" in document or "text" in document):
        records = [document]
    elif isinstance(document, list):
        records = document
    else:
        keys = f" (its keys: {sorted(document)[:8]})" if isinstance(document, dict) else ""
        raise DataError(f"{path}: missing the 'conversations' list{keys}. Fix: {_SHAPE_HINT}")
    if not records:
        raise DataError(f"{path}: 'conversations' is empty. Fix: add at least one conversation or remove the file")
    for index, record in enumerate(records):
        yield f"{path}[{index}]", record


def _jsonl_records(path: Path, text: str) -> Iterator[tuple[str, Any]]:
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _json_error(path, exc, line=lineno) from None
        except RecursionError:
            raise _too_deep(path, line=lineno) from None
        yield f"{path}:{lineno}", record


def _optional_str(record: dict, key: str, where: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    raise DataError(f"{where}: field '{key}' must be a string, got {type(value).__name__} ({value!r:.40}). "
                    f"Fix: write it as a string or remove it")


def _to_conversation(record: Any, where: str, speakers: Speakers) -> Conversation:
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a conversation object, got {type(record).__name__}. Fix: {_SHAPE_HINT}")
    if "text" in record and "messages" in record:
        raise DataError(f"{where}: has both 'text' and 'messages'; keep one of them")
    system = None
    if "text" in record:
        text = record["text"]
        if not isinstance(text, str):
            raise DataError(f"{where}: field 'text' must be a string, got {type(text).__name__}. "
                            f"Fix: write the transcript as one string with 'Therapist: ' / 'Client: ' lines")
        if not text.strip():
            raise DataError(f"{where}: empty conversation ('text' is empty). Fix: remove the record or fill it")
        turns = parse_transcript(text, speakers, where)
    elif "messages" in record:
        system, turns = _chat_turns(record["messages"], where)
    else:
        raise DataError(f"{where}: missing 'text' or 'messages' (its keys: {sorted(record)[:8]}). Fix: {_SHAPE_HINT}")
    record_id = record.get("id")
    if record_id is not None and not isinstance(record_id, (str, int)):
        raise DataError(f"{where}: field 'id' must be a string or integer, got {type(record_id).__name__}")
    return Conversation(
        id=str(record_id) if record_id is not None else where,
        turns=turns,
        domain=_optional_str(record, "domain", where),
        topic=_optional_str(record, "topic", where),
        source=where,
        system=system,
    )


def _chat_turns(messages: Any, where: str) -> tuple[str | None, list[Turn]]:
    if not isinstance(messages, list):
        raise DataError(f"{where}: field 'messages' must be a list of {{'role', 'content'}} objects, "
                        f"got {type(messages).__name__}")
    if not messages:
        raise DataError(f"{where}: empty conversation ('messages' is empty). Fix: remove the record or fill it")
    system: str | None = None
    turns: list[Turn] = []
    for i, message in enumerate(messages):
        at = f"{where}.messages[{i}]"
        if not isinstance(message, dict):
            raise DataError(f"{at}: expected an object with 'role' and 'content', got {type(message).__name__}")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise DataError(f"{at}: role {role!r} is not one of {list(ROLES)}. Fix: use those role names")
        if not isinstance(content, str):
            raise DataError(f"{at}: 'content' must be a string, got {type(content).__name__}")
        if role == "system":
            if system is not None:
                raise DataError(f"{at}: a second system message. Fix: keep one system message, first in the list")
            if turns:
                raise DataError(f"{at}: the system message must come first. Fix: move it to messages[0]")
            system = content.strip() or None
        else:
            turns.append(Turn(role, content))
    turns = merge_turns(turns)
    if not turns:
        raise DataError(f"{where}: empty conversation (no user or assistant message with text)")
    if not any(t.role == "assistant" for t in turns):
        raise DataError(f"{where}: no assistant message, so there is nothing to learn from it. "
                        f"Fix: add the therapist's replies as role 'assistant'")
    return system, turns
