"""Read a YAML config file into the same top-level object a JSON config gives.

PyYAML (already required by transformers and huggingface_hub) parses it, with three
changes towards YAML 1.2 so values mean what a JSON user expects: ``3e-4`` is a number
(YAML 1.1 reads it as text), only ``true``/``false`` are booleans (not ``yes``/``no``/
``on``/``off``), and dates stay text. Duplicate keys are collected (PyYAML silently keeps
the last one), and every top-level key's line is kept so problems can point at it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from therapeutic_moe.errors import ConfigError

YAML_SUFFIXES = (".yaml", ".yml")
_BOOL = "tag:yaml.org,2002:bool"
_FLOAT = "tag:yaml.org,2002:float"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_EXPONENT_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
_BOOL_1_2 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


def is_yaml(path: Path) -> bool:
    return path.suffix.lower() in YAML_SUFFIXES


def _loader_class():
    import yaml

    class ConfigLoader(yaml.SafeLoader):
        """SafeLoader with YAML 1.2 booleans and exponent floats, no timestamps, duplicates kept."""

        duplicates: list[tuple[str, int]]  # (key, line of the repeat), at any depth, as JSON reports them

    resolvers = {}
    for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items():
        kept = [(tag, rx) for tag, rx in entries if tag not in (_BOOL, _TIMESTAMP)]
        if first in "tTfF":
            kept.insert(0, (_BOOL, _BOOL_1_2))
        resolvers[first] = kept
    ConfigLoader.yaml_implicit_resolvers = resolvers
    for first in "-+0123456789":
        ConfigLoader.add_implicit_resolver(_FLOAT, _EXPONENT_FLOAT, [first])

    def construct_mapping(loader, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in seen:
                loader.duplicates.append((str(key), key_node.start_mark.line + 1))
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep=True)

    ConfigLoader.add_constructor("tag:yaml.org,2002:map", construct_mapping)
    return ConfigLoader


def _syntax_error(label: str, exc: Exception) -> ConfigError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{label}: line {mark.line + 1}, column {mark.column + 1}" if mark else label
    problem = getattr(exc, "problem", None) or str(exc)
    hint = " (YAML forbids tabs for indentation; use spaces)" if "'\\t'" in problem else ""
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and start and mark and start.line != mark.line:  # e.g. an unclosed [ further up
        hint += f" ({context} opened at line {start.line + 1}, column {start.column + 1})"
    return ConfigError(f"{where}: invalid YAML: {problem}{hint}")


def load_yaml_object(path: Path, text: str, label: str) -> tuple[dict[str, Any], list[str], dict[str, int]]:
    """``(settings, duplicate keys, {key: line})`` of a YAML config; ``ConfigError`` on anything else."""
    import yaml

    loader = _loader_class()(text)
    loader.duplicates = []
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise _syntax_error(label, exc) from None
    except RecursionError:
        raise ConfigError(f"{label}: invalid YAML: nested too deeply; a config is a flat mapping of settings") from None
    finally:
        loader.dispose()
    if data is None:
        raise ConfigError(f"{label}: is empty; write {{}} to use all defaults")
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({type(data).__name__})"
        raise ConfigError(f"{label}: the top level must be a YAML mapping (key: value lines), not {kind}")
    lines = {}
    for key_node, _ in node.value:
        lines.setdefault(str(key_node.value), key_node.start_mark.line + 1)
    bad = [key for key in data if not isinstance(key, str)]
    if bad:
        raise ConfigError(f"{label}: line {lines.get(str(bad[0]), '?')}: key {bad[0]!r} is not a setting name; "
                          "write the name of a setting (see `therapeutic-moe train --help-config`)")
    duplicates = [f"{key} (line {line})" for key, line in loader.duplicates]
    return data, duplicates, lines
