"""``report_to: mlflow``: the same metrics, routing plots, summary and samples as wandb,
through the real ``mlflow`` package (``mlflow-skinny`` suffices).

Local by default: a SQLite tracking store and an artifact folder under
``<output_dir>/mlflow/`` (MLflow's recommended local backend; its plain-file store is in
maintenance mode), or a local store named by ``MLFLOW_TRACKING_URI``. A tracking server URI
is not used (a warning says so): nothing leaves the machine. Browse with ``mlflow ui --backend-store-uri sqlite:///<output_dir>/mlflow/mlflow.db``
(the UI needs the full ``mlflow`` package).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from therapeutic_moe.training.logger_base import MetricsLogger, _cfg_get, _sample_table, clean_metrics, scalar_or_none

EXPERIMENT = "therapeutic-moe"
MAX_PARAM_CHARS = 6000  # MLflow's limit on a parameter value


def local_tracking_uri(run_dir: Path) -> tuple[str, Path]:
    folder = Path(run_dir).resolve() / "mlflow"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}", folder / "artifacts"


def chosen_tracking_uri(run_dir: Path) -> tuple[str, Path | None]:
    """$MLFLOW_TRACKING_URI when it is a local store (sqlite:, file: or a path), else the local
    store under run_dir: a tracking server would send metrics off the machine, which this
    project only does for wandb with allow_remote_logging."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if uri and (uri.startswith(("sqlite:", "file:")) or "://" not in uri):
        return uri, None
    if uri:
        print(f"warning: MLFLOW_TRACKING_URI={uri} is not a local store; logging to the local store in "
              f"{Path(run_dir) / 'mlflow'} instead (nothing leaves the machine)", file=sys.stderr, flush=True)
    return local_tracking_uri(run_dir)


def flat_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Run config as MLflow parameters: nested keys joined with '/', values as JSON text."""
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flat_params(value, f"{name}/"))
        else:
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            out[name] = text[:MAX_PARAM_CHARS]
    return out


class MlflowLogger(MetricsLogger):
    """Logs through ``mlflow.tracking.MlflowClient`` (no global active run is touched)."""

    def __init__(self, wandb_cfg: Any, run_dir: Path, run_config: Mapping[str, Any] | None = None,
                 resume_run_id: str | None = None):
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        uri, artifacts = chosen_tracking_uri(run_dir)
        self._client = client = MlflowClient(tracking_uri=uri)
        self.samples_enabled = bool(_cfg_get(wandb_cfg, "log_samples", False))
        name = _cfg_get(wandb_cfg, "project", EXPERIMENT)
        experiment = client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else client.create_experiment(
            name, artifact_location=artifacts.as_uri() if artifacts else None)
        run = self._resume(resume_run_id)
        if run is None:
            tags = {f"tag.{t}": "true" for t in (_cfg_get(wandb_cfg, "tags", []) or [])}
            run = client.create_run(experiment_id, run_name=_cfg_get(wandb_cfg, "name", None), tags=tags)
            params = [Param(k, v) for k, v in flat_params(run_config or {}).items()]
            for i in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
                client.log_batch(run.info.run_id, params=params[i:i + 100])
        self.run_id = run.info.run_id
        self.run_dir = Path(run_dir) / "mlflow"
        self._last_step = 0
        self._finished = False
        resumed = f" (continuing run {resume_run_id})" if run.info.run_id == resume_run_id else ""
        print(f"mlflow: run {self.run_id} in {uri}{resumed}", file=sys.stderr, flush=True)

    def _resume(self, run_id: str | None):
        if not run_id:
            return None
        try:
            run = self._client.get_run(run_id)
        except Exception:  # not in this store (another output_dir): start a new run
            return None
        self._client.update_run(run_id, status="RUNNING")
        return run

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        from mlflow.entities import Metric

        self._last_step = int(step)
        now = int(time.time() * 1000)
        rows = [Metric(k.replace("@", "_"), v, now, int(step)) for k, v in clean_metrics(metrics).items()]
        for i in range(0, len(rows), 1000):  # MLflow's per-batch limit
            self._client.log_batch(self.run_id, metrics=rows[i:i + 1000])

    def log_image(self, key: str, png_path: str | Path, step: int) -> None:
        from PIL import Image

        with Image.open(png_path) as image:
            self._client.log_image(self.run_id, image.convert("RGB"), key=key, step=int(step))

    def log_summary(self, summary: Mapping[str, Any]) -> None:
        numbers = {}
        for key, value in summary.items():
            try:
                number = scalar_or_none(value, key)
            except TypeError:
                number = None
            if number is not None:
                numbers[f"summary/{key}"] = number
        self.log(numbers, self._last_step)
        self._client.log_dict(self.run_id, json.loads(json.dumps(dict(summary), default=str)), "summary.json")

    def log_samples(self, rows: Sequence[Mapping[str, Any]], step: int | None = None) -> None:
        if not self.samples_enabled or not rows:
            return
        columns, data = _sample_table(rows)
        step = self._last_step if step is None else int(step)
        self._client.log_dict(self.run_id, {"columns": columns, "data": data}, f"samples/step_{step:07d}.json")

    def finish(self, exit_code: int = 0) -> None:
        if self._finished:
            return
        self._finished = True
        self._client.set_terminated(self.run_id, status="FINISHED" if exit_code == 0 else "FAILED")
