"""One reader for config files: JSON (with ``//`` comments) or YAML, chosen by the file suffix.

Both give the same top-level object of settings, so keys, validation and messages are the
same whichever format a user writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from therapeutic_moe.config.jsonc import load_jsonc_object, read_config_text
from therapeutic_moe.config.yaml_file import is_yaml, load_yaml_object


def read_config_file(path: str | Path, label: str | None = None) -> tuple[dict[str, Any], list[str], dict[str, int]]:
    """``(settings, duplicate keys, {top-level key: line})`` of a config file.

    ``.yaml``/``.yml`` files are YAML, anything else JSON; the line map is empty for JSON
    (its parser keeps no key positions). Raises ``ConfigError`` naming ``label`` (default:
    the path), with line and column for syntax errors.
    """
    path = Path(path)
    label = label or str(path)
    if is_yaml(path):
        return load_yaml_object(path, read_config_text(path, label), label)
    data, duplicates = load_jsonc_object(path, label)
    return data, duplicates, {}


def load_config_object(path: str | Path, label: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """Like ``load_jsonc_object`` for JSON or YAML: ``(settings, duplicate keys)``."""
    data, duplicates, _ = read_config_file(path, label)
    return data, duplicates
