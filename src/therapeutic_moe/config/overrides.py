"""Command-line overrides: ``--key value`` pairs, parsed by the type of the field they set.

Keys are unique across the three config files, so ``--learning_rate 1e-4`` and
``--mode online`` need no prefix; ``--wandb.mode``/``--safety.…``/``--train.…`` also work,
and dashes may stand for underscores (``--learning-rate``).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Literal, get_args, get_origin

from therapeutic_moe.config.safety_config import SafetyConfig
from therapeutic_moe.config.train_config import TrainConfig
from therapeutic_moe.config.validation import (
    _UNIONS,
    ConfigProblems,
    Problem,
    did_you_mean,
    field_types,
    show,
    type_name,
)
from therapeutic_moe.config.wandb_config import WandbConfig

SECTIONS: dict[str, type] = {"train": TrainConfig, "wandb": WandbConfig, "safety": SafetyConfig}

TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off"}
NULL_WORDS = {"null", "none"}


def all_keys() -> list[str]:
    return [f.name for cls in SECTIONS.values() for f in dataclasses.fields(cls)]


def resolve_key(key: str) -> tuple[str, str] | None:
    """``(section, field)`` for an override key, or ``None`` if no config has that field."""
    key = key.replace("-", "_")
    section, dot, name = key.partition(".")
    if dot:
        cls = SECTIONS.get(section)
        if cls and name in field_types(cls):
            return section, name
        return None
    for section, cls in SECTIONS.items():
        if key in field_types(cls):
            return section, key
    return None


def unknown_key_message(key: str) -> str:
    bare = key.replace("-", "_").rpartition(".")[2]
    return f"unknown option{did_you_mean(bare, all_keys())}; see `therapeutic-moe train --help-config`"


def field_type(key: str) -> Any:
    section, name = resolve_key(key)  # type: ignore[misc]
    return field_types(SECTIONS[section])[name]


def _arms(tp: Any) -> tuple[Any, ...]:
    return get_args(tp) if get_origin(tp) in _UNIONS else (tp,)


def is_flag(key: str) -> bool:
    """True for fields that may be given as a bare ``--key`` (meaning true)."""
    return resolve_key(key) is not None and bool in _arms(field_type(key))


def parse_value(text: str, tp: Any) -> Any:
    """The value of ``text`` for a field of type ``tp``; ``ValueError`` with a user message if it does not fit."""
    word = text.strip().lower()
    arms = _arms(tp)
    if type(None) in arms and word in NULL_WORDS:
        return None
    for arm in arms:
        if get_origin(arm) is Literal and text in get_args(arm):
            return text
    for arm in arms:
        if arm is bool:
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
        elif arm is int:
            try:
                return int(text)
            except ValueError:
                pass
        elif arm is float:
            try:
                return float(text)
            except ValueError:
                pass
        elif get_origin(arm) is list:
            if text.lstrip().startswith("["):
                try:
                    value = json.loads(text)
                except ValueError as exc:
                    raise ValueError(f"{show(text)} is not a valid JSON list ({exc.msg})") from None
                return value
            return [] if not text.strip() else [part.strip() for part in text.split(",")]
        elif get_origin(arm) is dict:
            try:
                return json.loads(text)
            except ValueError as exc:
                raise ValueError(f"{show(text)} is not a valid JSON object ({exc.msg})") from None
        elif arm is str:
            return text
    extra = " (true/false/yes/no/1/0)" if bool in arms else ""
    raise ValueError(f"{show(text)} is not a valid {type_name(tp)}{extra}")


def parse_cli_overrides(argv: list[str]) -> dict[str, str]:
    """``{key: text}`` from ``--key value`` and ``--key=value`` pairs; every problem reported at once.

    A bare ``--key`` is allowed only for bool fields and means true. Values stay strings;
    ``load_run_config`` parses them by the field's type.
    """
    result: dict[str, str] = {}
    problems: list[Problem] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if not token.startswith("--") or token == "--":
            problems.append(Problem(f"command line {token!r}", "unexpected argument; options look like --key value"))
            continue
        key, eq, value = token[2:].partition("=")
        key = key.replace("-", "_")
        if resolve_key(key) is None:
            problems.append(Problem(f"command line --{key}", unknown_key_message(key)))
            if not eq and i < len(argv) and not argv[i].startswith("--"):
                i += 1  # skip its value so it is not reported as a stray argument too
            continue
        if not eq:
            if i < len(argv) and not argv[i].startswith("--"):
                value = argv[i]
                i += 1
            elif is_flag(key):
                value = "true"
            else:
                problems.append(Problem(f"command line --{key}", "needs a value: --key value or --key=value "
                                        "(use the = form for values that start with --)"))
                continue
        result[key] = value
    if problems:
        raise ConfigProblems(problems)
    return result
