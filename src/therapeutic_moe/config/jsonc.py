"""Read a JSON config file that may hold ``//`` comments, with errors that give line and column.

Comments are blanked out in place (same length, newlines kept) so the positions in
``json``'s own error messages still point at the user's text. A dedicated JSON5/JSONC
package would also accept trailing commas and unquoted keys, which we do not want: the
shipped files must stay plain JSON that any tool can read once the comments are gone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from therapeutic_moe.errors import ConfigError


def strip_comments(text: str) -> str:
    """``text`` with every ``//`` comment outside a string replaced by spaces."""
    out = []
    in_string = escaped = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            out.append(ch)
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = len(text) if end == -1 else end
            out.append(" " * (end - i))
            i = end
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _collect_duplicates(duplicates: list[str]):
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                duplicates.append(key)
            result[key] = value
        return result

    return hook


def read_config_text(path: Path, label: str) -> str:
    """The text of a config file; ``ConfigError`` naming ``label`` when it cannot be read as UTF-8."""
    if path.is_dir():
        raise ConfigError(f"{label}: is a directory; give the path of a JSON or YAML config file")
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{label}: file not found; check the path") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{label}: is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot be read ({exc.strerror})") from None


def load_jsonc_object(path: Path, label: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """The top-level object of a JSON(C) file, plus the keys that appear more than once.

    Raises ``ConfigError`` naming the file (and line/column for syntax errors).
    """
    label = label or str(path)
    text = strip_comments(read_config_text(path, label))
    if not text.strip():
        raise ConfigError(f"{label}: is empty; write {{}} to use all defaults")
    duplicates: list[str] = []
    try:
        data = json.loads(text, object_pairs_hook=_collect_duplicates(duplicates))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{label}: line {exc.lineno}, column {exc.colno}: {exc.msg}{_hint(text, exc.pos)}") from None
    except RecursionError:  # json recurses per nesting level; thousands of [ exhaust the stack
        raise ConfigError(f"{label}: invalid JSON: nested too deeply (thousands of [ or {{); "
                          f"a config is a flat object of settings") from None
    if not isinstance(data, dict):
        kind = {list: "a list", str: "a string", bool: "a bool", int: "a number", float: "a number"}.get(type(data), "null")
        raise ConfigError(f'{label}: the top level must be a JSON object {{"key": value, ...}}, not {kind}')
    return data, duplicates


def _hint(text: str, pos: int) -> str:
    before = text[:pos].rstrip()
    if before.endswith(",") and text[pos:pos + 1] in ("}", "]"):
        return " (JSON allows no comma before a closing } or ]; remove it)"
    if pos < len(text) and text[pos] == "'":
        return " (JSON strings and keys need double quotes)"
    return ""
