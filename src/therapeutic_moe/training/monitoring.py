"""Metrics loggers: Weights & Biases, MLflow, TensorBoard, or nothing, behind one small interface.

The trainer talks only to :class:`MetricsLogger`; ``make_logger`` picks the backend from
``report_to``. A backend whose package is missing, or that is switched off, becomes a
:class:`NullLogger` that accepts every call and does nothing, so the training loop never
needs ``if wandb:`` checks (the same idea as nanochat's ``DummyWandb``).

Privacy: nothing leaves the machine unless the wandb mode is ``online``; raw conversation
text is logged only through :meth:`MetricsLogger.log_samples`, and only when
``log_samples`` is true in the wandb config. Console capture is off for the same reason:
printed output may contain conversation text.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from therapeutic_moe.errors import ConfigError
from therapeutic_moe.training.logger_base import (  # noqa: F401 (re-exported)
    MetricsLogger,
    NullLogger,
    _cfg_get,
    _sample_table,
    _warn,
    clean_metrics,
    scalar_or_none,
)

REPORT_TO_CHOICES = ("wandb", "mlflow", "tensorboard", "none")
WANDB_MODES = ("offline", "online", "disabled")
# wandb's own step must grow monotonically, but a resumed run restarts from the last
# checkpoint, which can be behind the last logged step; like the HF WandbCallback we plot
# against our own step key so such rows are never dropped.
STEP_KEY = "train/global_step"


class WandbLogger(MetricsLogger):
    """Logs to Weights & Biases through the ``wandb`` package (offline by default)."""

    def __init__(
        self,
        wandb_cfg: Any,
        run_dir: Path,
        run_config: Mapping[str, Any] | None = None,
        resume_run_id: str | None = None,
        mode: str | None = None,
    ):
        import wandb

        self._wandb = wandb
        self.mode = mode or _cfg_get(wandb_cfg, "mode", "offline")
        self.samples_enabled = bool(_cfg_get(wandb_cfg, "log_samples", False))
        directory = Path(_cfg_get(wandb_cfg, "dir", None) or run_dir)
        directory.mkdir(parents=True, exist_ok=True)
        self._run = wandb.init(
            project=_cfg_get(wandb_cfg, "project", "therapeutic-moe"),
            entity=_cfg_get(wandb_cfg, "entity", None),
            name=_cfg_get(wandb_cfg, "name", None),
            tags=list(_cfg_get(wandb_cfg, "tags", []) or []) or None,
            dir=str(directory),
            mode=self.mode,
            config=dict(run_config or {}),
            id=resume_run_id,
            resume="allow" if resume_run_id else None,
            # silent: one line of our own replaces wandb's banner; console off: printed
            # output can hold conversation text, which must not be captured and uploaded.
            settings=wandb.Settings(silent=True, console="off"),
            reinit="create_new",  # leave any run the caller has open alone
        )
        self._run.define_metric(STEP_KEY)
        self._run.define_metric("*", step_metric=STEP_KEY, step_sync=True)
        self.run_id = self._run.id
        self.run_dir = Path(self._run.settings.sync_dir)
        self._finished = False
        where = f"online run {self._run.url}" if self.mode == "online" else f"offline run in {self.run_dir}"
        resumed = f" (continuing run id {resume_run_id})" if resume_run_id else ""
        print(f"wandb: {where}{resumed}", file=sys.stderr, flush=True)

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        row = clean_metrics(metrics)
        if row:
            self._run.log({**row, STEP_KEY: int(step)})

    def log_image(self, key: str, png_path: str | Path, step: int) -> None:
        self._run.log({key: self._wandb.Image(str(png_path)), STEP_KEY: int(step)})

    def log_summary(self, summary: Mapping[str, Any]) -> None:
        values: dict[str, Any] = {}
        for key, value in summary.items():
            try:
                number = scalar_or_none(value, key)
            except TypeError:
                number = None
                values[key] = value if isinstance(value, (str, list, dict)) else str(value)
            if number is not None:
                values[key] = number
        self._run.summary.update(values)

    def log_samples(self, rows: Sequence[Mapping[str, Any]], step: int | None = None) -> None:
        if not self.samples_enabled or not rows:
            return
        columns, data = _sample_table(rows)
        payload: dict[str, Any] = {"samples": self._wandb.Table(columns=columns, data=data)}
        if step is not None:
            payload[STEP_KEY] = int(step)
        self._run.log(payload)

    def finish(self, exit_code: int = 0) -> None:
        if self._finished:
            return
        self._finished = True
        self._run.finish(exit_code=exit_code)
        if self.mode == "offline":
            print(f"wandb: upload later with: wandb sync {self.run_dir}", file=sys.stderr, flush=True)


class TensorBoardLogger(MetricsLogger):
    """Writes TensorBoard event files into ``<run_dir>/tensorboard/<run id>/``.

    The run id is the sub-folder name; resuming with it appends to the same folder, so
    TensorBoard shows one continuous run.
    """

    def __init__(self, run_dir: Path, resume_run_id: str | None = None, log_samples: bool = False):
        from torch.utils.tensorboard import SummaryWriter

        self.run_id = resume_run_id or time.strftime("run-%Y%m%d-%H%M%S")
        self.run_dir = Path(run_dir) / "tensorboard" / self.run_id
        self.samples_enabled = bool(log_samples)
        self._writer = SummaryWriter(log_dir=str(self.run_dir))
        self._last_step = 0
        self._finished = False
        print(f"tensorboard: logging to {self.run_dir}", file=sys.stderr, flush=True)

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        self._last_step = int(step)
        for key, value in clean_metrics(metrics).items():
            self._writer.add_scalar(key, value, global_step=int(step))

    def log_image(self, key: str, png_path: str | Path, step: int) -> None:
        import numpy as np
        from PIL import Image

        with Image.open(png_path) as image:
            pixels = np.asarray(image.convert("RGB"))
        self._writer.add_image(key, pixels, global_step=int(step), dataformats="HWC")

    def log_summary(self, summary: Mapping[str, Any]) -> None:
        lines = ["| key | value |", "|---|---|"]
        for key, value in summary.items():
            try:
                number = scalar_or_none(value, key)
            except TypeError:
                number = None
            if number is not None and math.isfinite(number):
                self._writer.add_scalar(f"summary/{key}", number, global_step=self._last_step)
            shown = number if number is not None else json.dumps(value, default=str)
            lines.append(f"| {key} | {shown} |")
        self._writer.add_text("summary", "\n".join(lines), global_step=self._last_step)

    def log_samples(self, rows: Sequence[Mapping[str, Any]], step: int | None = None) -> None:
        if not self.samples_enabled or not rows:
            return
        columns, data = _sample_table(rows)
        table = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        table += ["| " + " | ".join(c.replace("|", "\\|").replace("\n", "<br>") for c in r) + " |" for r in data]
        self._writer.add_text("samples", "\n".join(table), global_step=self._last_step if step is None else int(step))

    def finish(self, exit_code: int = 0) -> None:
        if self._finished:
            return
        self._finished = True
        self._writer.flush()
        self._writer.close()


def _first_line(exc: Exception) -> str:
    """``Type: first line of the message``, for a one-line warning."""
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def make_logger(
    report_to: str,
    wandb_cfg: Any,
    run_dir: Path,
    run_config: Mapping[str, Any] | None = None,
    resume_run_id: str | None = None,
) -> MetricsLogger:
    """Pick the metrics backend.

    ``report_to`` is ``wandb``, ``mlflow``, ``tensorboard`` or ``none``. ``wandb_cfg`` is a
    WandbConfig (or a dict with the same keys, or None for defaults); its ``log_samples`` also
    governs MLflow and TensorBoard, and MLflow takes its experiment name from ``project``. A missing package or a failed start prints one warning line and never
    stops training: online wandb falls back to offline, anything else to a NullLogger.
    """
    choice = (report_to or "none").strip().lower()
    if choice not in REPORT_TO_CHOICES:
        raise ConfigError(
            f"report_to: unknown value {report_to!r}; use one of {', '.join(REPORT_TO_CHOICES)}"
        )
    run_dir = Path(run_dir)
    if choice == "none":
        return NullLogger()
    if choice == "tensorboard":
        try:
            return TensorBoardLogger(run_dir, resume_run_id, bool(_cfg_get(wandb_cfg, "log_samples", False)))
        except ImportError:
            _warn("report_to=tensorboard but the tensorboard package is not installed "
                  "(pip install tensorboard); metrics will not be recorded")
            return NullLogger()

    if choice == "mlflow":
        return _make_mlflow_logger(wandb_cfg, run_dir, run_config, resume_run_id)

    mode = str(_cfg_get(wandb_cfg, "mode", "offline")).lower()
    if mode not in WANDB_MODES:
        raise ConfigError(f"wandb mode: unknown value {mode!r}; use one of {', '.join(WANDB_MODES)}")
    if mode == "disabled":
        return NullLogger()
    try:
        import wandb  # noqa: F401
    except ImportError:
        _warn("report_to=wandb but the wandb package is not installed (pip install wandb); "
              "metrics will not be recorded")
        return NullLogger()
    try:
        return WandbLogger(wandb_cfg, run_dir, run_config, resume_run_id, mode=mode)
    except Exception as exc:  # wandb raises many types (auth, network, timeouts)
        reason = _first_line(exc)
        if mode == "online":
            _warn(f"wandb online start failed ({reason}); recording offline instead - "
                  "check `wandb login` and the network, then `wandb sync` the offline run")
            try:
                return WandbLogger(wandb_cfg, run_dir, run_config, resume_run_id, mode="offline")
            except Exception as exc2:
                reason = f"{type(exc2).__name__}: {exc2}"
        _warn(f"wandb could not start ({reason}); metrics will not be recorded")
        return NullLogger()


def _make_mlflow_logger(wandb_cfg: Any, run_dir: Path, run_config: Mapping[str, Any] | None,
                        resume_run_id: str | None) -> MetricsLogger:
    try:
        import mlflow  # noqa: F401
    except ImportError:
        _warn("report_to=mlflow but the mlflow package is not installed (pip install mlflow-skinny); "
              "metrics will not be recorded")
        return NullLogger()
    from therapeutic_moe.training.mlflow_logger import MlflowLogger

    try:
        return MlflowLogger(wandb_cfg, run_dir, run_config, resume_run_id)
    except Exception as exc:  # a store that cannot be opened must not stop training
        _warn(f"mlflow could not start ({_first_line(exc)}); "
              "metrics will not be recorded")
        return NullLogger()
