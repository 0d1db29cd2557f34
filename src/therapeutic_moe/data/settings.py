"""The data settings, their defaults, and reading them from a training config file.

``prepare_datasets`` reads these names as attributes of whatever config object it gets
(the trainer's config, or a ``SimpleNamespace`` in tests); a missing attribute takes the
default below. ``data check`` builds a ``DataSettings`` from a config file plus flags.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from therapeutic_moe.errors import ConfigError


def _default(name: str, help: str, owner: str = "train"):
    """A field defaulting to the same-named field of TrainConfig / SafetyConfig, so `data check`
    and training agree; the config package is imported on first use, not for --help."""

    def factory():
        from dataclasses import MISSING

        from therapeutic_moe.config.safety_config import SafetyConfig
        from therapeutic_moe.config.train_config import TrainConfig

        source = {f.name: f for f in fields(TrainConfig if owner == "train" else SafetyConfig)}[name]
        return source.default_factory() if source.default is MISSING else source.default

    return field(default_factory=factory, metadata={"help": help})


@dataclass
class DataSettings:
    """Everything the data pipeline reads from the training and safety configs (same names and defaults)."""

    dataset: str | None = field(default=None, metadata={
        "help": "Training data: a .json/.jsonl/.parquet/.arrow file, a directory of them, a saved Hugging Face "
                "dataset or a hub id. None: ./training_dataset.json if present, else the bundled sample."})
    validation_dataset: str | None = field(default=None, metadata={
        "help": "Separate validation data; when set, validation_split is not used."})
    validation_split: float = _default(
        "validation_split", "Share of conversations held out for validation (seeded hash of the conversation id).")
    max_seq_length: int = _default("max_seq_length", "Most tokens in one training window.")
    system_prompt: str | None = _default(
        "system_prompt", "System message put before every conversation (a record's own system message wins).")
    assistant_speakers: list[str] = _default("assistant_speakers", "Transcript labels of the side the model learns "
                                                                    "to speak.")
    user_speakers: list[str] = _default("user_speakers", "Transcript labels of the other side.")
    dedupe: bool = _default("dedupe", "Drop exact duplicate conversations (normalised text).")
    max_drop_fraction: float = _default("max_drop_fraction", "Stop with an error when a larger share of samples "
                                                              "would be dropped.")
    expert_domains: list[str] = _default("expert_domains", "Expert names; a record's domain must be one of them.")
    topic_to_domain: dict[str, str] | str | None = field(default=None, metadata={
        "help": "Topic → domain map: a dict, a bundled map name ('counselchat'), or a JSON file path."})
    seed: int = _default("seed", "Seed of the split and of the packing order.")
    per_device_train_batch_size: int = _default("per_device_train_batch_size", "Rows per micro-batch (packing "
                                                                                "estimate).")
    pii_scrubbing: bool = _default("pii_scrubbing", "Replace identifiers with [EMAIL], [NAME], ...", "safety")
    pii_kinds: list[str] = _default("pii_kinds", "Which identifier kinds to scrub.", "safety")

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
    """Data settings from a training config file, JSON or YAML (other keys ignored), plus non-None overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        from therapeutic_moe.config.files import load_config_object

        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found. Fix: check the --config path")
        loaded, _ = load_config_object(path)  # JSON or YAML, syntax errors with line and column
        names = {f.name for f in fields(DataSettings)}
        values = {k: v for k, v in loaded.items() if k in names}
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return DataSettings(**values)
    except ConfigError as exc:
        raise ConfigError(f"{path or 'settings'}: {exc}") from None
