"""Load conversations from JSON, JSONL, Hugging Face datasets or a directory of them, refusing bad input clearly.

Accepted records (in a JSON file under "conversations", as a top-level list, one per JSONL
line, or one per row of a Hugging Face dataset / Parquet / Arrow file):
``{"text": "Therapist: ...\\nClient: ...", "domain"?, "topic"?, "id"?}``, the OpenAI chat form
``{"messages": [{"role": "system|user|assistant", "content": "..."}]}``, ShareGPT
``{"conversations": [{"from": "human|gpt", "value": "..."}]}`` and Alpaca
``{"instruction", "input"?, "output"}`` (see ``format_chat``; ``format_hf`` reads datasets).
Every refusal is one ``DataError`` naming the file and line/column or record index.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from therapeutic_moe.data.format_chat import alpaca_turns, chat_turns, record_system
from therapeutic_moe.data.format_hf import (
    HF_FILE_SUFFIXES,
    file_records,
    hub_records,
    is_saved_dataset,
    looks_like_hub_id,
    saved_dataset_records,
)
from therapeutic_moe.data.transcript import Speakers, parse_transcript
from therapeutic_moe.data.types import Conversation
from therapeutic_moe.errors import DataError

DATA_SUFFIXES = (".json", ".jsonl", *HF_FILE_SUFFIXES)
_JSONL_SUFFIXES = (".jsonl", ".ndjson")
_SHAPE_HINT = ('expected {"conversations": [{"text": "Therapist: ...\\nClient: ..."}, ...]} or one record per '
               'JSONL line: {"text": ...}, {"messages": [{"role", "content"}, ...]}, ShareGPT {"conversations": '
               '[{"from", "value"}, ...]} or Alpaca {"instruction", "input", "output"}')
# The keys that say which format a record is in; a record has exactly one of them.
_FORMAT_KEYS = ("text", "messages", "conversations", "instruction")


def data_files(path: str | Path) -> list[Path]:
    """The sources a dataset path stands for: a file, a saved Hugging Face dataset directory, the
    *.json/*.jsonl/*.parquet/*.arrow files in a directory, or a hub id (``owner/name``) that is not a path."""
    path = Path(path)
    if not path.exists():
        if looks_like_hub_id(path.as_posix()):
            return [path]  # read through `datasets.load_dataset`, which says why when it cannot
        raise DataError(f"{path}: no such file or directory. Fix: check the path (the 'dataset' / "
                        f"'validation_dataset' setting or the PATH argument)")
    if path.is_file() or is_saved_dataset(path):
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in DATA_SUFFIXES)
    if not files:
        raise DataError(f"{path}: directory has no *.json, *.jsonl, *.parquet or *.arrow files and is not a saved "
                        f"Hugging Face dataset. Fix: put the dataset files there or point at the file itself")
    return files


def load_conversations(path: str | Path, speakers: Speakers | None = None) -> list[Conversation]:
    """All conversations under ``path`` in file order, validated and parsed into turns."""
    speakers = speakers or Speakers()
    conversations: list[Conversation] = []
    for source in data_files(path):
        for where, record in _source_records(source):
            conversations.append(_to_conversation(record, where, speakers))
    return conversations


def _source_records(source: Path) -> Iterator[tuple[str, Any]]:
    if not source.exists():
        yield from hub_records(source.as_posix())
    elif source.is_dir():
        yield from saved_dataset_records(source)
    elif source.suffix.lower() in HF_FILE_SUFFIXES:
        yield from file_records(source)
    else:
        yield from _records(source)


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
    if isinstance(document, dict) and _is_single_record(document):
        records = [document]
    elif isinstance(document, dict) and "conversations" in document:
        records = document["conversations"]
        if not isinstance(records, list):
            raise DataError(f"{path}: 'conversations' must be a list, got {type(records).__name__}. Fix: {_SHAPE_HINT}")
    elif isinstance(document, list):
        records = document
    else:
        keys = f" (its keys: {sorted(document)[:8]})" if isinstance(document, dict) else ""
        raise DataError(f"{path}: missing the 'conversations' list{keys}. Fix: {_SHAPE_HINT}")
    if not records:
        raise DataError(f"{path}: 'conversations' is empty. Fix: add at least one conversation or remove the file")
    for index, record in enumerate(records):
        yield f"{path}[{index}]", record


def _is_single_record(document: dict) -> bool:
    """A JSON file holding one record: chat, transcript, Alpaca, or one ShareGPT conversation
    (whose 'conversations' list holds turns, not the records of the seed format)."""
    if any(key in document for key in _FORMAT_KEYS if key != "conversations"):
        return True
    turns = document.get("conversations")
    return isinstance(turns, list) and bool(turns) and all(isinstance(t, dict) and "from" in t for t in turns)


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
    system, turns = _record_turns(record, where, speakers)
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


def _record_turns(record: dict, where: str, speakers: Speakers):
    """``(system, turns)`` of a record in whichever format its keys name."""
    # A null column (a dataset row whose schema has the column, a JSON null) counts as absent.
    present = [key for key in _FORMAT_KEYS if record.get(key) is not None]
    if "output" in record and "instruction" not in present:
        present.append("instruction")  # Alpaca without its instruction: alpaca_turns names what is missing
    if len(present) > 1:
        raise DataError(f"{where}: has both '{present[0]}' and '{present[1]}'; keep one of them (one format per "
                        f"record)")
    if not present:
        raise DataError(f"{where}: missing 'text', 'messages', 'conversations' or 'instruction' (its keys: "
                        f"{sorted(map(str, record))[:8]}). Fix: {_SHAPE_HINT}")
    key = present[0]
    if key == "text":
        return None, _transcript_turns(record["text"], where, speakers)
    if key == "instruction":
        return alpaca_turns(record, where)
    system, turns = chat_turns(record[key], where, key)
    return record_system(record, where, system), turns


def _transcript_turns(text: Any, where: str, speakers: Speakers):
    if not isinstance(text, str):
        raise DataError(f"{where}: field 'text' must be a string, got {type(text).__name__}. "
                        f"Fix: write the transcript as one string with 'Therapist: ' / 'Client: ' lines")
    if not text.strip():
        raise DataError(f"{where}: empty conversation ('text' is empty). Fix: remove the record or fill it")
    return parse_transcript(text, speakers, where)
