"""The data settings, their defaults, and reading them from a training config file.

``prepare_datasets`` reads these names as attributes of whatever config object it gets
(the trainer's config, or a ``SimpleNamespace`` in tests); a missing attribute takes the
default below. ``data check`` builds a ``DataSettings`` from a config file plus flags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from therapeutic_moe.data.pii import PII_KINDS
from therapeutic_moe.data.transcript import DEFAULT_ASSISTANT_SPEAKERS, DEFAULT_USER_SPEAKERS
from therapeutic_moe.errors import ConfigError

DEFAULT_SYSTEM_PROMPT = (
    "You are a warm, non-judgmental therapeutic conversation assistant. Listen carefully, reflect what the "
    "person feels, ask open questions, and encourage professional or emergency help when someone may be at risk."
)


def _seed_domains() -> list[str]:
    from therapeutic_moe.moe.config import SEED_DOMAINS  # imported late: the moe package loads torch

    return list(SEED_DOMAINS)


@dataclass
class DataSettings:
    """Everything the data pipeline reads from the training and safety configs."""

    dataset: str | None = field(default=None, metadata={
        "help": "Training data: a .json/.jsonl file or a directory of them. None: ./training_dataset.json if "
                "present, else the bundled sample."})
    validation_dataset: str | None = field(default=None, metadata={
        "help": "Separate validation data; when set, validation_split is not used."})
    validation_split: float = field(default=0.1, metadata={
        "help": "Share of conversations held out for validation (by seeded hash of the conversation id)."})
    max_seq_length: int = field(default=2048, metadata={"help": "Most tokens in one training window."})
    system_prompt: str | None = field(default=DEFAULT_SYSTEM_PROMPT, metadata={
        "help": "System message put before every conversation (a record's own system message wins)."})
    assistant_speakers: list[str] = field(default_factory=lambda: list(DEFAULT_ASSISTANT_SPEAKERS), metadata={
        "help": "Transcript labels of the side the model learns to speak."})
    user_speakers: list[str] = field(default_factory=lambda: list(DEFAULT_USER_SPEAKERS), metadata={
        "help": "Transcript labels of the other side."})
    dedupe: bool = field(default=True, metadata={"help": "Drop exact duplicate conversations (normalised text)."})
    max_drop_fraction: float = field(default=0.1, metadata={
        "help": "Stop with an error when a larger share of samples would be dropped."})
    expert_domains: list[str] = field(default_factory=_seed_domains, metadata={
        "help": "Expert names; a record's domain must be one of them."})
    topic_to_domain: dict[str, str] | str | None = field(default=None, metadata={
        "help": "Topic → domain map: a dict, a bundled map name ('counselchat'), or a JSON file path."})
    seed: int = field(default=42, metadata={"help": "Seed of the split and of the packing order."})
    pii_scrubbing: bool = field(default=True, metadata={"help": "Replace identifiers with [EMAIL], [NAME], ..."})
    pii_kinds: list[str] = field(default_factory=lambda: list(PII_KINDS), metadata={
        "help": f"Which identifier kinds to scrub, from {list(PII_KINDS)}."})

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.max_seq_length, int) or self.max_seq_length < 16:
            problems.append(f"max_seq_length must be an integer ≥ 16, got {self.max_seq_length!r}")
        if not isinstance(self.validation_split, (int, float)) or not 0 <= self.validation_split < 1:
            problems.append(f"validation_split must be in [0, 1), got {self.validation_split!r}")
        if not isinstance(self.max_drop_fraction, (int, float)) or not 0 <= self.max_drop_fraction <= 1:
            problems.append(f"max_drop_fraction must be in [0, 1], got {self.max_drop_fraction!r}")
        for name in ("assistant_speakers", "user_speakers", "expert_domains", "pii_kinds"):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                problems.append(f"{name} must be a list of non-empty strings, got {value!r}")
        if not self.assistant_speakers or not self.user_speakers:
            problems.append("assistant_speakers and user_speakers must each name at least one label")
        if problems:
            raise ConfigError("; ".join(problems))


def settings_from_config_file(path: str | Path | None, **overrides: Any) -> DataSettings:
    """Data settings from a training config JSON (other keys ignored) plus non-None overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found. Fix: check the --config path")
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text. Fix: re-save it as UTF-8") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: must hold a JSON object of settings")
        names = {f.name for f in fields(DataSettings)}
        values = {k: v for k, v in loaded.items() if k in names}
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return DataSettings(**values)
    except ConfigError as exc:
        raise ConfigError(f"{path or 'settings'}: {exc}") from None
