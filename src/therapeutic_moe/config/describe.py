"""Help listings, Markdown reference tables and commented example files, all from the dataclasses.

The field metadata is the single source of truth; ``generate_docs`` writes these texts
into ``docs/configuration.md`` and ``configs/examples/*.jsonc``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import textwrap
from typing import Any

from therapeutic_moe.config.safety_config import SafetyConfig
from therapeutic_moe.config.train_config import TrainConfig
from therapeutic_moe.config.validation import bounds_text, field_types, type_name
from therapeutic_moe.config.wandb_config import WandbConfig

CONFIG_CLASSES = (TrainConfig, WandbConfig, SafetyConfig)


def default_of(f: dataclasses.Field) -> Any:
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]


def wrap(text: str, width: int, indent: str) -> list[str]:
    """``textwrap.wrap`` that never splits a bound like ``< 1`` across lines."""
    glued = re.sub(r"([<>]=?) (?=\S)", "\\1\x00", text)
    return [line.replace("\x00", " ") for line in
            textwrap.wrap(glued, width, initial_indent=indent, subsequent_indent=indent)]


def constraint_text(f: dataclasses.Field) -> str:
    parts = []
    if f.metadata.get("choices"):
        parts.append("one of " + ", ".join(f.metadata["choices"]))
    if bounds_text(f.metadata):
        parts.append(bounds_text(f.metadata))
    return "; ".join(parts)


def sections(cls: type) -> list[tuple[str, list[dataclasses.Field]]]:
    """Fields grouped under the titles in ``cls.SECTIONS``, in declaration order."""
    groups: list[tuple[str, list[dataclasses.Field]]] = []
    for f in dataclasses.fields(cls):
        if f.name in cls.SECTIONS or not groups:
            groups.append((cls.SECTIONS.get(f.name, ""), []))
        groups[-1][1].append(f)
    return groups


def describe_fields(cls: type, width: int = 88) -> str:
    """A plain-text listing of every field: name, type, default, allowed values and help."""
    types = field_types(cls)
    lines = [f"{cls.FILE_NAME} ({cls.__name__}): {cls.__doc__.strip()}"]
    for title, fields in sections(cls):
        lines += ["", title] if title else [""]
        for f in fields:
            head = f"  {f.name}: {type_name(types[f.name])} = {json.dumps(default_of(f))}"
            lines.append(head if len(head) <= width else head[: width - 3] + "...")
            text = f.metadata["help"]
            if constraint_text(f):
                text += f" [{constraint_text(f)}]"
            lines += wrap(text, width, "      ")
    return "\n".join(lines)


def describe_all() -> str:
    return "\n\n".join(describe_fields(cls) for cls in CONFIG_CLASSES)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_reference() -> str:
    """One Markdown table per section of every config file."""
    out = []
    for cls in CONFIG_CLASSES:
        types = field_types(cls)
        out += [f"### `{cls.FILE_NAME}`", "", cls.__doc__.strip(), ""]
        for title, fields in sections(cls):
            if title:
                out += [f"#### {title}", ""]
            out += ["| Key | Type | Default | Description |", "|---|---|---|---|"]
            for f in fields:
                desc = f.metadata["help"] + (f" Allowed: {constraint_text(f)}." if constraint_text(f) else "")
                out.append(f"| `{f.name}` | {_cell(type_name(types[f.name]))} | "
                           f"`{_cell(json.dumps(default_of(f), ensure_ascii=False))}` | {_cell(desc)} |")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def jsonc_example(cls: type, width: int = 92) -> str:
    """A commented example file holding every key at its default, each explained above it."""
    types = field_types(cls)
    lines = [
        f"// Example {cls.FILE_NAME}: every key at its default value, explained above it.",
        "// Copy it (with or without these comments) to the name above and keep only what you change:",
        "// keys you leave out keep their defaults. Full reference: docs/configuration.md",
        "{",
    ]
    entries = dataclasses.fields(cls)
    for index, f in enumerate(entries):
        title = cls.SECTIONS.get(f.name)
        if title:
            lines += ([""] if index else []) + [f"  // ==== {title}"]
        text = f"{f.metadata['help']} Type: {type_name(types[f.name])}."
        if constraint_text(f):
            text += f" Allowed: {constraint_text(f)}."
        lines += wrap(text, width, "  // ")
        value = json.dumps(default_of(f), ensure_ascii=False)
        comma = "," if index < len(entries) - 1 else ""
        lines.append(f"  {json.dumps(f.name)}: {value}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"
