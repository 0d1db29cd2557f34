"""`WandbConfig`: everything in ``wandb_config.json``. Offline by default: nothing leaves the machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from therapeutic_moe.config.validation import Problem, validate_in_post_init

WANDB_MODES = ["offline", "online", "disabled"]


@dataclass
class WandbConfig:
    """Weights & Biases run settings (used when report_to is "wandb")."""

    FILE_NAME: ClassVar[str] = "wandb_config.json"
    SECTIONS: ClassVar[dict[str, str]] = {"project": "Weights & Biases"}

    project: str = field(default="therapeutic-moe", metadata={"help": "W&B project name."})
    entity: str | None = field(
        default=None, metadata={"help": "W&B team or user name; null = your default entity."}
    )
    name: str | None = field(
        default=None, metadata={"help": "Run name; null = generated from the time and the model."}
    )
    mode: str = field(
        default="offline",
        metadata={"help": "offline = write the run to disk only (sync later with `wandb sync`); "
                  "online = send metrics to the W&B server (needs allow_remote_logging in "
                  "safety_config.json); disabled = no W&B at all.", "choices": WANDB_MODES},
    )
    tags: list[str] = field(
        default_factory=list, metadata={"help": "Tags attached to the run.", "allow_empty": True}
    )
    log_samples: bool = field(
        default=False,
        metadata={"help": "Log example generations (raw text) to W&B. Off by default: conversation "
                  "text is never logged unless this is true."},
    )
    dir: str | None = field(
        default=None, metadata={"help": "Directory for W&B files; null = inside output_dir."}
    )

    def __post_init__(self) -> None:
        validate_in_post_init(self)

    def _resolve(self, given: set[str]) -> None:
        pass

    def _check(self, bad: set[str]) -> list[Problem]:
        problems = []
        for name in ("entity", "name", "dir"):
            value = getattr(self, name)
            if name not in bad and value is not None and not value.strip():
                problems.append(Problem(name, "is empty; give a value or null"))
        return problems

    def _suspicious(self) -> list[Problem]:
        if self.log_samples:
            return [Problem("log_samples", "is true: generated conversation text will be written to the W&B run")]
        return []
