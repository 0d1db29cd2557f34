"""The data settings: the keys of ``TrainConfig`` and ``SafetyConfig`` the data pipeline reads.

One source of names: ``DataSettings`` is generated from those two configs' own field
definitions (type, default, help text, bounds), so training, `data check` and `evaluate` read
the same names with the same defaults and rules; nothing here mirrors them by hand. Only
``topic_to_domain`` is wider here (a bundled map name or a JSON path as well as a dict) and
``system_prompt`` may be None (no system message).

- ``DataSettings.from_configs(train_cfg, safety_cfg)``: from the trainer's configs (or any
  objects with those attributes; a missing one takes the default).
- ``settings_from_config_file(path, **overrides)``: from a training config file plus flags
  (`data check`, `evaluate`).
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

from therapeutic_moe.config.safety_config import SafetyConfig
from therapeutic_moe.config.train_config import TrainConfig
from therapeutic_moe.config.validation import Problem, check_fields
from therapeutic_moe.errors import ConfigError

TRAIN_KEYS = ("dataset", "validation_dataset", "validation_split", "max_seq_length", "system_prompt",
              "assistant_speakers", "user_speakers", "dedupe", "max_drop_fraction", "expert_domains",
              "topic_to_domain", "seed", "per_device_train_batch_size")
SAFETY_KEYS = ("pii_scrubbing", "pii_kinds")
MIN_SEQ_LENGTH = 16  # a window must hold a system prompt, a turn and its reply

# Where the data pipeline takes more than the trainer's config does.
_WIDER = {
    # Checked where it is resolved (data.domains.resolve_topic_map), with the file's own messages.
    "topic_to_domain": (object, None,
                        "Topic → domain map: a dict, a bundled map name ('counselchat'), or a JSON file path."),
    "system_prompt": (str | None, TrainConfig.__dataclass_fields__["system_prompt"].default,
                      "System message put before every conversation (a record's own system message wins); "
                      "None or empty = none."),
}


def _copied_field(config_cls: type, name: str) -> tuple[str, Any, dataclasses.Field]:
    """``name``'s type, default, help and bounds exactly as ``config_cls`` declares them."""
    if name in _WIDER:
        tp, default, help_text = _WIDER[name]
        return name, tp, dataclasses.field(default=default, metadata={"help": help_text, "allow_empty": True})
    source = config_cls.__dataclass_fields__[name]
    tp = typing.get_type_hints(config_cls)[name]
    if source.default_factory is not dataclasses.MISSING:
        return name, tp, dataclasses.field(default_factory=source.default_factory, metadata=dict(source.metadata))
    return name, tp, dataclasses.field(default=source.default, metadata=dict(source.metadata))


def _validate(self) -> None:
    problems, bad = check_fields(self)  # the configs' own type, range and emptiness rules
    if "max_seq_length" not in bad and self.max_seq_length < MIN_SEQ_LENGTH:
        problems.append(Problem("max_seq_length", f"{self.max_seq_length} is too short; use at least {MIN_SEQ_LENGTH}"))
    if problems:
        raise ConfigError("; ".join(str(p) for p in problems))


def _from_configs(cls, train_cfg: Any, safety_cfg: Any) -> "DataSettings":
    """From the trainer's configs; an attribute either lacks (or a None config) takes the default."""
    defaults = cls()
    values = {name: getattr(train_cfg, name, getattr(defaults, name)) for name in TRAIN_KEYS}
    values |= {name: getattr(safety_cfg, name, getattr(defaults, name)) for name in SAFETY_KEYS}
    return cls(**values)


DataSettings = dataclasses.make_dataclass(
    "DataSettings",
    [_copied_field(TrainConfig, name) for name in TRAIN_KEYS] + [_copied_field(SafetyConfig, name) for name in SAFETY_KEYS],
    namespace={"__post_init__": _validate, "from_configs": classmethod(_from_configs),
               "__doc__": "The training and safety config keys the data pipeline reads (same names, defaults "
                          "and rules; see the module docstring)."},
)
DataSettings.__module__ = __name__


def settings_from_config_file(path: str | Path | None, **overrides: Any) -> DataSettings:
    """Data settings from a training config file, JSON or YAML (other keys ignored), plus non-None overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        from therapeutic_moe.config.files import load_config_object

        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found. Fix: check the --config path")
        loaded, _ = load_config_object(path)  # JSON or YAML, syntax errors with line and column
        values = {k: v for k, v in loaded.items() if k in TRAIN_KEYS}
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return DataSettings(**values)
    except ConfigError as exc:
        raise ConfigError(f"{path or 'settings'}: {exc}") from None
