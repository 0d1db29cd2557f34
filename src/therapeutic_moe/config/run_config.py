"""`RunConfig`: the three config files plus command-line overrides, loaded and checked together.

All problems from all three files, the overrides and the cross-file rules are collected
and raised as one ``ConfigError``, so a user fixes everything in one round.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from therapeutic_moe.config.files import read_config_file
from therapeutic_moe.config.overrides import (
    SECTIONS,
    field_types,
    parse_value,
    resolve_key,
    unknown_key_message,
)
from therapeutic_moe.config.safety_config import SafetyConfig
from therapeutic_moe.config.train_config import TrainConfig
from therapeutic_moe.config.validation import (
    ConfigProblems,
    ConfigWarning,
    Problem,
    build,
    did_you_mean,
)
from therapeutic_moe.config.wandb_config import WandbConfig
from therapeutic_moe.errors import ConfigError

VERSION_KEY = "_version"


@dataclass
class RunConfig:
    """Everything one run needs: training, W&B and safety settings, and where each came from."""

    train: TrainConfig = field(default_factory=TrainConfig)
    wandb: WandbConfig = field(default_factory=WandbConfig)
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    # {"train"|"wandb"|"safety": file path or None (defaults), "overrides": {key: text}}
    sources: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = cross_file_problems(self.train, self.wandb, self.safety)
        if problems:
            raise ConfigProblems(problems)


def cross_file_problems(train: TrainConfig | None, wandb: WandbConfig | None, safety: SafetyConfig | None,
                        labels: dict[str, str] | None = None) -> list[Problem]:
    """Rules that involve two files; a part that is ``None`` (it failed on its own) is skipped.

    ``labels`` maps section -> the file name to show.
    """
    labels = labels or {name: cls.FILE_NAME for name, cls in SECTIONS.items()}
    problems = []
    if wandb and safety and wandb.mode == "online" and not safety.allow_remote_logging:
        problems.append(Problem(
            "mode",
            f'is "online" but allow_remote_logging is false in {labels["safety"]}: metrics would leave this '
            f'machine without permission; set "allow_remote_logging": true in {labels["safety"]}, or use '
            f'"mode": "offline" in {labels["wandb"]}',
            labels["wandb"],
        ))
    if train and safety and safety.time_limit_margin_minutes >= train.max_hours * 60:
        problems.append(Problem(
            "time_limit_margin_minutes",
            f"{safety.time_limit_margin_minutes:g} minutes uses up the whole max_hours budget "
            f"({train.max_hours:g} h in {labels['train']}); lower the margin or raise max_hours",
            labels["safety"],
        ))
    return problems


def default_names(cls: type) -> list[str]:
    """The file names looked for in the current directory: the JSON name, then its YAML twins."""
    stem = Path(cls.FILE_NAME).stem
    return [cls.FILE_NAME, f"{stem}.yaml", f"{stem}.yml"]


def _default_path(cls: type) -> Path | None:
    """The one default-named file present, or None; two of them (JSON and YAML) is an error,
    since silently preferring one would train with settings the user did not look at."""
    present = [Path(name) for name in default_names(cls) if Path(name).is_file()]
    if len(present) > 1:
        raise ConfigError(f"both {' and '.join(map(str, present))} are in the current directory; keep one, "
                          "or name the one to use with its --config option")
    return present[0] if present else None


def _unknown_key_problem(key: str, cls: type) -> str:
    own = list(field_types(cls))
    hint = did_you_mean(key, own)
    if not hint:
        for other in SECTIONS.values():
            if other is not cls and key in field_types(other):
                return f"belongs in {other.FILE_NAME}, not in this file; move it there"
        hint = did_you_mean(key, [k for other in SECTIONS.values() for k in field_types(other)])
    return f"unknown key{hint}"


def load_run_config(
    config: str | Path | None = None,
    wandb_config: str | Path | None = None,
    safety_config: str | Path | None = None,
    overrides: dict[str, str] | None = None,
    strict: bool = True,
) -> RunConfig:
    """Load, merge and validate the three config files and the command-line overrides.

    A path of ``None`` means the file of the default name in the current directory if it
    exists (or its ``.yaml``/``.yml`` twin), else the defaults; an explicit path that does
    not exist is an error. Files are JSON with optional ``//`` comments, or YAML
    (``.yaml``/``.yml``) with the same keys. ``strict=False`` (for files this package saved
    itself) turns unknown keys into warnings. Raises one ``ConfigError`` listing every problem.
    """
    paths = {"train": config, "wandb": wandb_config, "safety": safety_config}
    problems: list[Problem] = []
    notes: list[Problem] = []
    raw: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    origins: dict[str, dict[str, str]] = {name: {} for name in SECTIONS}
    labels: dict[str, str] = {}
    sources: dict[str, Any] = {}

    for name, cls in SECTIONS.items():
        given = paths[name]
        try:
            path = Path(given) if given is not None else _default_path(cls)
        except ConfigError as exc:  # two default-named files: reported with the rest
            problems.append(Problem("", str(exc)))
            path = None
        labels[name] = str(path) if path is not None else f"{cls.FILE_NAME} (defaults)"
        sources[name] = str(path) if path is not None else None
        if path is None:
            continue
        if not path.exists():
            problems.append(Problem("", f"{path}: file not found; check the path, or leave the option out to use "
                                    f"./{cls.FILE_NAME} if present, else the defaults"))
            continue
        try:
            data, duplicates, lines = read_config_file(path)
        except ConfigError as exc:
            problems.append(Problem("", str(exc)))
            continue
        data.pop(VERSION_KEY, None)
        # YAML keeps each key's line: problems then read "file.yaml:12: key: ..."
        at = {key: f"{labels[name]}:{line}" for key, line in lines.items()}
        for key in duplicates:
            problems.append(Problem(key, "appears more than once; keep one", labels[name]))
        for key in list(data):
            if key not in field_types(cls):
                issue = Problem(key, _unknown_key_problem(key, cls), at.get(key, labels[name]))
                (problems if strict else notes).append(issue)
                del data[key]
        raw[name].update(data)
        origins[name].update({key: at.get(key, labels[name]) for key in data})

    for key, text in (overrides or {}).items():
        where = f"command line --{key}"
        target = resolve_key(key)
        if target is None:
            problems.append(Problem("", f"{where}: {unknown_key_message(key)}"))
            continue
        section, fname = target
        try:
            raw[section][fname] = parse_value(text, field_types(SECTIONS[section])[fname])
        except ValueError as exc:
            problems.append(Problem("", f"{where}: {exc}"))
            raw[section].pop(fname, None)  # don't also report the file's value for a key being replaced
            continue
        origins[section][fname] = where
    sources["overrides"] = dict(overrides or {})
    notes.extend(_let_override_win_expert_pair(raw["train"], origins["train"]))

    built: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        try:
            built[name], found = build(cls, raw[name], given=set(raw[name]))
        except ConfigProblems as exc:
            problems.extend(_label(p, origins[name], labels[name]) for p in exc.problems)
            continue
        notes.extend(_label(p, origins[name], labels[name]) for p in found)

    problems.extend(cross_file_problems(built.get("train"), built.get("wandb"), built.get("safety"), labels))
    if problems:
        raise ConfigProblems(problems)
    for note in notes:
        warnings.warn(str(note), ConfigWarning, stacklevel=2)
    return RunConfig(built["train"], built["wandb"], built["safety"], sources)


def _let_override_win_expert_pair(raw: dict[str, Any], origins: dict[str, str]) -> list[Problem]:
    """``--num_experts 8`` over a file listing 4 expert_domains means 8 experts, not a contradiction.

    When the command line sets one of num_experts / expert_domains and a file set the other
    with a different count, the file's value is dropped (and derived again) with a warning.
    """
    count, names = raw.get("num_experts"), raw.get("expert_domains")
    if type(count) is not int or not isinstance(names, list) or count == len(names):
        return []
    from_cli = {key for key in ("num_experts", "expert_domains") if origins.get(key, "").startswith("command line")}
    if len(from_cli) != 1:
        return []
    (winner,) = from_cli
    loser = "expert_domains" if winner == "num_experts" else "num_experts"
    note = Problem(loser, f"from this file is ignored: --{winner} on the command line sets a different number "
                   "of experts", origins[loser])
    del raw[loser]
    del origins[loser]
    return [note]


def _label(problem: Problem, origins: dict[str, str], file_label: str) -> Problem:
    """Name the file, or the command-line option, that set the problem's key."""
    origin = origins.get(problem.key, file_label)
    if origin.startswith("command line --"):
        problem.key = ""  # the option already names the key
    problem.where = origin
    return problem


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain JSON-ready dict of one config dataclass, or of a ``RunConfig`` (nested by section)."""
    if isinstance(cfg, RunConfig):
        return {
            "train": config_to_dict(cfg.train),
            "wandb": config_to_dict(cfg.wandb),
            "safety": config_to_dict(cfg.safety),
            "sources": copy.deepcopy(cfg.sources),
        }
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise TypeError(f"expected a config dataclass instance, got {type(cfg).__name__}")
    return {f.name: copy.deepcopy(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    # A crash mid-write must not leave a half file next to a checkpoint that looks complete.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_run_config(run_cfg: RunConfig, directory: str | Path) -> dict[str, Path]:
    """Write the three resolved config files into ``directory``, each stamped with ``_version``.

    Returns ``{"train"|"wandb"|"safety": path}``. Reload them with ``load_saved_run_config``.
    """
    from therapeutic_moe import __version__

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, cls in SECTIONS.items():
        path = directory / cls.FILE_NAME
        _write_json_atomic(path, {VERSION_KEY: __version__, **config_to_dict(getattr(run_cfg, name))})
        written[name] = path
    return written


def load_saved_run_config(directory: str | Path, overrides: dict[str, str] | None = None) -> RunConfig:
    """Reload the files ``save_run_config`` wrote; unknown keys (from other versions) only warn."""
    directory = Path(directory)
    missing = [cls.FILE_NAME for cls in SECTIONS.values() if not (directory / cls.FILE_NAME).is_file()]
    if missing:
        raise ConfigError(f"{directory}: saved config {', '.join(missing)} not found; is this a training output "
                          "directory or checkpoint?")
    return load_run_config(
        directory / TrainConfig.FILE_NAME,
        directory / WandbConfig.FILE_NAME,
        directory / SafetyConfig.FILE_NAME,
        overrides=overrides,
        strict=False,
    )
