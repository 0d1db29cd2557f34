"""Whole-config validation: every problem is collected, then reported in one ``ConfigError``.

Field rules live next to the field as dataclass metadata (``help``, ``ge``/``gt``/``le``/
``lt`` bounds, ``choices``, ``allow_empty``) so the help listing, the docs and the checks
cannot drift apart. Cross-field rules are plain code in each config's ``_check`` method.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import types
import typing
import warnings
from collections.abc import Iterable
from typing import Any, Literal, Union, get_args, get_origin

from therapeutic_moe.errors import ConfigError

_UNIONS = (Union, types.UnionType)


class ConfigWarning(UserWarning):
    """Something merely suspicious in a config: training still runs."""


@dataclasses.dataclass
class Problem:
    """One thing wrong with one key; ``where`` is filled in by whoever knows the file name."""

    key: str
    message: str
    where: str = ""

    def __str__(self) -> str:
        return ": ".join(part for part in (self.where, self.key, self.message) if part)


class ConfigProblems(ConfigError):
    """A ``ConfigError`` that keeps its problems, so loaders can merge several files' lists."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__(format_problems(self.problems))


def format_problems(problems: list[Problem]) -> str:
    count = len(problems)
    head = "1 problem in the configuration:" if count == 1 else f"{count} problems in the configuration:"
    return "\n".join([head] + [f"  - {p}" for p in problems])


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean "x"?)`` for the closest candidate, or an empty string."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def show(value: Any) -> str:
    """A value as the user wrote it in JSON, shortened for one-line messages."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------- types


def type_name(tp: Any) -> str:
    """Human type names used in messages and docs: ``int or null``, ``bool or "auto"``."""
    origin = get_origin(tp)
    if origin in _UNIONS:
        return " or ".join(type_name(arm) for arm in get_args(tp))
    if origin is Literal:
        return " or ".join(json.dumps(v) for v in get_args(tp))
    if origin is list:
        return f"list of {type_name(get_args(tp)[0])}"
    if origin is dict:
        key, val = get_args(tp)
        return f"object of {type_name(key)} -> {type_name(val)}"
    if tp is type(None):
        return "null"
    return {bool: "bool", int: "int", float: "float", str: "string"}.get(tp, getattr(tp, "__name__", str(tp)))


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


_NO = object()  # "does not fit this type"


def coerce(value: Any, tp: Any) -> Any:
    """``value`` converted to ``tp`` where JSON is loose (3 -> 3.0), or ``_NO`` if it does not fit."""
    origin = get_origin(tp)
    if origin in _UNIONS:
        for arm in get_args(tp):
            fitted = coerce(value, arm)
            if fitted is not _NO:
                return fitted
        return _NO
    if origin is Literal:
        return value if any(value == v and type(value) is type(v) for v in get_args(tp)) else _NO
    if origin is list:
        if not isinstance(value, (list, tuple)):
            return _NO
        items = [coerce(v, get_args(tp)[0]) for v in value]
        return _NO if any(v is _NO for v in items) else items
    if origin is dict:
        if not isinstance(value, dict):
            return _NO
        key_tp, val_tp = get_args(tp)
        out = {}
        for k, v in value.items():
            fk, fv = coerce(k, key_tp), coerce(v, val_tp)
            if fk is _NO or fv is _NO:
                return _NO
            out[fk] = fv
        return out
    if tp is type(None):
        return None if value is None else _NO
    if tp is bool:
        return value if isinstance(value, bool) else _NO
    if tp is int:
        if isinstance(value, bool):
            return _NO
        if isinstance(value, int):
            return value
        # 1e3 in JSON is a float; accept it where it is a whole number.
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        return _NO
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return _NO
        return float(value)
    if tp is str:
        return value if isinstance(value, str) else _NO
    return value if isinstance(value, tp) else _NO


def type_problem(value: Any, tp: Any) -> str:
    hint = ""
    if isinstance(value, str) and coerce(_parse_loose(value), tp) is not _NO:
        hint = "; write it without quotes"
    return f"expected {type_name(tp)}, got {_json_kind(value)} {show(value)}{hint}"


def _parse_loose(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _NO


# ---------------------------------------------------------------- per-field rules


def field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def bounds_text(meta: typing.Mapping[str, Any]) -> str:
    """``>= 0 and < 1`` style text from the metadata bounds (empty when unbounded)."""
    parts = [f"{op} {meta[key]:g}" for key, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")) if key in meta]
    return " and ".join(parts)


def check_field(name: str, value: Any, meta: typing.Mapping[str, Any]) -> list[str]:
    """Range, choice and emptiness rules for one already type-checked value."""
    found = []
    numbers = [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []
    for v in numbers:
        # Written as "not (v >= x)" so NaN fails every bound.
        out_of_range = (
            ("gt" in meta and not v > meta["gt"])
            or ("ge" in meta and not v >= meta["ge"])
            or ("lt" in meta and not v < meta["lt"])
            or ("le" in meta and not v <= meta["le"])
        )
        if out_of_range:
            found.append(f"{show(v)} is out of range; use a value {bounds_text(meta)}")
    choices = meta.get("choices")
    picked = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    for v in picked:
        if choices and v not in choices:
            found.append(f"{show(v)} is not one of {', '.join(json.dumps(c) for c in choices)}{did_you_mean(v, choices)}")
    allow_empty = meta.get("allow_empty", False)
    if isinstance(value, str) and not allow_empty and not value.strip():
        found.append("must not be empty")
    if isinstance(value, list):
        if not value and not allow_empty:
            found.append("must list at least one entry")
        if any(isinstance(v, str) and not v.strip() for v in value):
            found.append("entries must not be empty strings")
        seen = [v for i, v in enumerate(value) if v in value[:i]]
        if seen:
            found.append(f"lists {show(seen[0])} more than once; entries must be unique")
    return found


def check_fields(obj: Any) -> tuple[list[Problem], set[str]]:
    """Type, range and choice problems of every field; also returns the names that failed."""
    problems: list[Problem] = []
    bad: set[str] = set()
    types = field_types(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        fitted = coerce(value, types[f.name])
        if fitted is _NO:
            problems.append(Problem(f.name, type_problem(value, types[f.name])))
            bad.add(f.name)
            continue
        object.__setattr__(obj, f.name, fitted)
        messages = check_field(f.name, fitted, f.metadata)
        problems.extend(Problem(f.name, m) for m in messages)
        if messages:
            bad.add(f.name)
    return problems, bad


def validate(obj: Any) -> list[Problem]:
    """Field rules plus the object's own ``_check``; raises all problems together.

    Returns the merely suspicious findings (``_suspicious``) for the caller to warn about,
    unlabelled, so a loader can name the file each key came from.
    """
    problems, bad = check_fields(obj)
    problems.extend(obj._check(bad))
    if problems:
        raise ConfigProblems(problems)
    return obj._suspicious()


def validate_in_post_init(obj: Any) -> None:
    """Validation for configs built in Python: messages name the default file of the class."""
    label = getattr(type(obj), "FILE_NAME", type(obj).__name__)
    try:
        notes = validate(obj)
    except ConfigProblems as exc:
        for p in exc.problems:
            p.where = p.where or label
        raise ConfigProblems(exc.problems) from None
    for note in notes:
        note.where = note.where or label
        warnings.warn(str(note), ConfigWarning, stacklevel=4)


def build(cls: type, values: dict[str, Any], given: set[str]) -> Any:
    """An instance from already key-checked ``values``, resolved with the keys the user gave.

    Skips ``__post_init__`` because that can only guess which keys were given; returns the
    instance and its suspicious findings.
    """
    obj = object.__new__(cls)
    for f in dataclasses.fields(cls):
        if f.name in values:
            value = values[f.name]
        elif f.default is not dataclasses.MISSING:
            value = f.default
        else:
            value = f.default_factory()  # type: ignore[misc]
        object.__setattr__(obj, f.name, value)
    obj._resolve(given)
    return obj, validate(obj)


def fields_differing_from_default(obj: Any) -> set[str]:
    """Names whose value is not the default: the best guess of 'what the user set' in Python."""
    changed = set()
    for f in dataclasses.fields(obj):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        if getattr(obj, f.name) != default:
            changed.add(f.name)
    return changed
