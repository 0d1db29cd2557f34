"""report_to: mlflow through the real mlflow package: a local SQLite store under the output
directory, read back with MlflowClient (metrics by step, routing image, summary, params,
samples only when enabled, resume into the same run)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from therapeutic_moe.training.monitoring import NullLogger, make_logger

pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    # One store for the module: creating a SQLite store runs MLflow's migrations (seconds).
    return tmp_path_factory.mktemp("mlflow_out")


@pytest.fixture(autouse=True)
def local_only(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def cfg(**overrides):
    base = dict(project="test-project", name="unit", tags=["unit"], log_samples=False)
    return SimpleNamespace(**{**base, **overrides})


def client_for(run_dir: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{run_dir.resolve() / 'mlflow' / 'mlflow.db'}")


def png(path: Path) -> Path:
    from PIL import Image

    Image.fromarray(np.full((6, 8, 3), 200, dtype=np.uint8)).save(path)
    return path


def artifact_names(client, run_id: str, path: str | None = None) -> list[str]:
    names = []
    for entry in client.list_artifacts(run_id, path):
        names += artifact_names(client, run_id, entry.path) if entry.is_dir else [entry.path]
    return names


def test_metrics_image_summary_and_params_land_in_the_local_store(run_dir, tmp_path, capsys):
    import torch

    logger = make_logger("mlflow", cfg(), run_dir, {"learning_rate": 2e-4, "moe": {"top_k": 2}}, None)
    assert logger.run_id and "sqlite:///" in capsys.readouterr().err
    logger.log({"train/loss": torch.tensor(2.5), "moe/usage/psychology": 0.25, "skipped": None}, step=1)
    logger.log({"train/loss": 2.0}, step=2)
    logger.log_image("moe/expert_usage", png(tmp_path / "usage.png"), step=2)
    logger.log_summary({"best_val_loss": 1.9, "stop_reason": "max_steps"})
    logger.log_samples([{"prompt": "private text", "reply": "x"}], step=2)  # off: must not be written
    logger.finish()
    client = client_for(run_dir)
    run = client.get_run(logger.run_id)
    assert run.info.status == "FINISHED" and run.data.params["learning_rate"] == "0.0002"
    assert run.data.params["moe/top_k"] == "2" and run.data.tags.get("tag.unit") == "true"
    history = [(m.step, m.value) for m in client.get_metric_history(logger.run_id, "train/loss")]
    assert history == [(1, 2.5), (2, 2.0)]
    assert run.data.metrics["summary/best_val_loss"] == 1.9
    names = artifact_names(client, logger.run_id)
    assert any(n.startswith("images/moe~expert_usage+step+2") and n.endswith(".png") for n in names), names
    assert "summary.json" in names and not any(n.startswith("samples/") for n in names)


def test_resume_continues_the_same_run_and_samples_only_when_enabled(run_dir):
    first = make_logger("mlflow", cfg(log_samples=True), run_dir, {"seed": 1}, None)
    first.log({"train/loss": 3.0}, step=5)
    first.finish(exit_code=143)
    client = client_for(run_dir)
    assert client.get_run(first.run_id).info.status == "FAILED"
    again = make_logger("mlflow", cfg(log_samples=True), run_dir, {"seed": 1}, first.run_id)
    assert again.run_id == first.run_id
    again.log({"train/loss": 2.0}, step=6)
    again.log_samples([{"prompt": "p", "reply": "r"}], step=6)
    again.finish()
    steps = [m.step for m in client.get_metric_history(first.run_id, "train/loss")]
    assert steps == [5, 6] and client.get_run(first.run_id).info.status == "FINISHED"
    sample_files = [n for n in artifact_names(client, first.run_id) if n.startswith("samples/")]
    assert sample_files == ["samples/step_0000006.json"]
    local = Path(client.download_artifacts(first.run_id, sample_files[0], str(run_dir / "dl")))
    assert json.loads(local.read_text()) == {"columns": ["prompt", "reply"], "data": [["p", "r"]]}


def test_missing_mlflow_package_gives_null_logger_and_one_warning(tmp_path, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "mlflow" or name.startswith("mlflow."):
            raise ImportError("No module named 'mlflow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    assert isinstance(make_logger("mlflow", cfg(), tmp_path, {}, None), NullLogger)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mlflow" in err[0] and err[0].startswith("warning:")


def test_a_tracking_server_uri_is_not_used(run_dir, monkeypatch, capsys):
    from therapeutic_moe.training.mlflow_logger import chosen_tracking_uri

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    uri, _ = chosen_tracking_uri(run_dir)
    assert uri.startswith("sqlite:///") and "not a local store" in capsys.readouterr().err
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    assert chosen_tracking_uri(run_dir)[0] == "sqlite:///elsewhere.db"
