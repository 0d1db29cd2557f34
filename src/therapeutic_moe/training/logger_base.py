"""The interface every metrics backend implements, and the helpers they share.

Kept apart from ``monitoring.py`` (which picks a backend) so that a backend in its own file,
such as ``mlflow_logger.py``, can build on it without importing the module that imports it.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def scalar_or_none(value: Any, key: str = "value") -> float | None:
    """Turn a number, bool, numpy scalar or one-element tensor into a float; None stays None.

    Raises TypeError naming ``key`` for anything else (a string, a multi-element tensor),
    because that is a programming error that would otherwise vanish from the charts.
    """
    if value is None:
        return None
    if isinstance(value, (bool, int, float)):
        return float(value)
    if hasattr(value, "item"):  # torch tensors, numpy scalars and 0-d arrays
        try:
            return float(value.item())
        except (ValueError, RuntimeError) as exc:
            raise TypeError(f"metric {key!r} must be a single number, got {value!r}") from exc
    raise TypeError(f"metric {key!r} must be a number, got {type(value).__name__}: {value!r}")


def clean_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Metrics as plain floats, with None values dropped."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        number = scalar_or_none(value, key)
        if number is not None:
            out[str(key)] = number
    return out


def _cfg_get(cfg: Any, name: str, default: Any = None) -> Any:
    """Read a field from a WandbConfig dataclass, a plain dict, or None (all defaults)."""
    if cfg is None:
        return default
    if isinstance(cfg, Mapping):
        value = cfg.get(name, default)
    else:
        value = getattr(cfg, name, default)
    return default if value is None else value


class MetricsLogger(ABC):
    """What the trainer may call on any backend.

    ``run_id`` is what the trainer saves in a checkpoint and passes back as
    ``resume_run_id`` so a resumed run continues the same record. ``run_dir`` is the local
    folder the backend writes into (for wandb, the offline-run folder to ``wandb sync``).
    """

    run_id: str | None = None
    run_dir: Path | None = None

    @abstractmethod
    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        """Record scalar metrics at an optimizer step; None values are skipped."""

    @abstractmethod
    def log_image(self, key: str, png_path: str | Path, step: int) -> None:
        """Record a PNG (for example an expert-usage heatmap) at a step."""

    @abstractmethod
    def log_summary(self, summary: Mapping[str, Any]) -> None:
        """Record end-of-run values (best validation loss, final perplexity, ...)."""

    @abstractmethod
    def log_samples(self, rows: Sequence[Mapping[str, Any]], step: int | None = None) -> None:
        """Record generated text samples; a no-op unless ``log_samples`` was enabled."""

    @abstractmethod
    def finish(self, exit_code: int = 0) -> None:
        """Flush and close; safe to call more than once."""

    def __enter__(self) -> MetricsLogger:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.finish(exit_code=0 if exc_type is None else 1)


class NullLogger(MetricsLogger):
    """Accepts every call and does nothing (report_to none, wandb disabled, package missing)."""

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        pass

    def log_image(self, key: str, png_path: str | Path, step: int) -> None:
        pass

    def log_summary(self, summary: Mapping[str, Any]) -> None:
        pass

    def log_samples(self, rows: Sequence[Mapping[str, Any]], step: int | None = None) -> None:
        pass

    def finish(self, exit_code: int = 0) -> None:
        pass


def _sample_table(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    columns: list[str] = []
    for row in rows:
        columns.extend(str(k) for k in row if str(k) not in columns)
    data = [["" if row.get(c) is None else str(row.get(c)) for c in columns] for row in rows]
    return columns, data
