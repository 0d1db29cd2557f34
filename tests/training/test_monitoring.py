"""Metrics loggers: wandb offline runs read back from disk, TensorBoard events, the null logger
(MLflow: test_monitoring_mlflow.py)."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from therapeutic_moe.errors import ConfigError
from therapeutic_moe.training import monitoring
from therapeutic_moe.training.monitoring import (
    STEP_KEY,
    NullLogger,
    TensorBoardLogger,
    WandbLogger,
    clean_metrics,
    make_logger,
)


@pytest.fixture(autouse=True)
def offline_wandb(tmp_path, monkeypatch):
    """Keep wandb off the network and out of the home directory."""
    home = tmp_path / "wandb_home"
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(home))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("WANDB_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("WANDB_ARTIFACT_DIR", str(home / "artifacts"))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # unroutable if anything tried


def wandb_cfg(**overrides):
    base = dict(project="test-project", entity=None, name="unit", mode="offline", tags=["unit"],
                log_samples=False, dir=None)
    base.update(overrides)
    return SimpleNamespace(**base)


def read_wandb_records(run_dir: Path, timeout_s: float = 15.0) -> list:
    """The records of a finished offline run, waiting for wandb-core to flush them.

    ``run.finish()`` can return a moment before the wandb-core process has written the
    file, so poll until its final ``exit`` record is there.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        records = _decode_wandb_file(run_dir)
        if any(r.WhichOneof("record_type") == "exit" for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.1)


def _decode_wandb_file(run_dir: Path) -> list:
    """Decode an offline run's ``.wandb`` file (a LevelDB-style log of protobuf records)."""
    from wandb.proto import wandb_internal_pb2 as pb

    (path,) = run_dir.glob("run-*.wandb")
    raw = path.read_bytes()
    if len(raw) < 7:
        return []
    ident, magic, _version = struct.unpack("<4sHB", raw[:7])
    assert ident == b":W&B" and magic == 0xBEE1
    block, header = 32768, 7
    records, pos, pending = [], 7, b""
    while pos + header <= len(raw):
        left_in_block = block - pos % block
        if left_in_block < header:  # block trailer padding
            pos += left_in_block
            continue
        _crc, length, kind = struct.unpack("<IHB", raw[pos:pos + header])
        if kind == 0 and length == 0:
            break
        data = raw[pos + header:pos + header + length]
        pos += header + length
        pending = data if kind in (1, 2) else pending + data
        if kind in (1, 4):  # full or last chunk completes a record
            record = pb.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def history_rows(records) -> list[dict]:
    rows = []
    for record in records:
        if record.WhichOneof("record_type") == "history":
            rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                         for item in record.history.item})
    return rows


def summary_values(records) -> dict:
    values = {}
    for record in records:
        if record.WhichOneof("record_type") == "summary":
            for item in record.summary.update:
                values[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return values


def test_clean_metrics_converts_tensors_numpy_and_skips_none():
    out = clean_metrics({"a": torch.tensor(1.5), "b": np.float32(2.0), "c": 3, "d": None,
                         "e": True, "f": np.array(4.0), "g": torch.tensor([5.0])})
    assert out == {"a": 1.5, "b": 2.0, "c": 3.0, "e": 1.0, "f": 4.0, "g": 5.0}
    assert all(type(v) is float for v in out.values())


@pytest.mark.parametrize("bad", ["1.0", torch.ones(2), [1.0], {"x": 1}])
def test_clean_metrics_rejects_non_scalars_naming_the_key(bad):
    with pytest.raises(TypeError, match="train/loss"):
        clean_metrics({"train/loss": bad})


@pytest.mark.parametrize("report_to", ["wandbb", "ml-flow", "all"])
def test_unknown_report_to_is_a_config_error(tmp_path, report_to):
    with pytest.raises(ConfigError, match="report_to"):
        make_logger(report_to, wandb_cfg(), tmp_path, {}, None)


def test_unknown_wandb_mode_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="wandb mode"):
        make_logger("wandb", wandb_cfg(mode="sometimes"), tmp_path, {}, None)


@pytest.mark.parametrize("report_to,cfg", [("none", wandb_cfg()), ("wandb", wandb_cfg(mode="disabled")),
                                           ("NONE", None)])
def test_null_logger_for_none_and_disabled(tmp_path, report_to, cfg):
    logger = make_logger(report_to, cfg, tmp_path, {}, None)
    assert isinstance(logger, NullLogger)
    assert logger.run_id is None and logger.run_dir is None
    assert list(tmp_path.iterdir()) == []


def test_null_logger_accepts_everything(tmp_path):
    logger = NullLogger()
    logger.log({"train/loss": torch.tensor(1.0), "x": None}, step=1)
    logger.log_image("plot", tmp_path / "missing.png", step=1)
    logger.log_summary({"best": 1.0, "name": "x"})
    logger.log_samples([{"prompt": "p", "response": "r"}])
    logger.finish()
    logger.finish(exit_code=1)
    with NullLogger() as inner:
        inner.log({}, step=0)
    # Nothing recorded anywhere: no run, no files.
    assert logger.run_id is None and logger.run_dir is None
    assert list(tmp_path.iterdir()) == []


def test_missing_wandb_package_gives_null_logger_and_one_warning(tmp_path, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "wandb" or name.startswith("wandb."):
            raise ImportError("No module named 'wandb'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    logger = make_logger("wandb", wandb_cfg(), tmp_path, {}, None)
    assert isinstance(logger, NullLogger)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "wandb" in err[0] and err[0].startswith("warning:")


def test_missing_tensorboard_package_gives_null_logger(tmp_path, monkeypatch, capsys):
    def no_tensorboard(*args, **kwargs):
        raise ImportError("TensorBoard logging requires TensorBoard")

    monkeypatch.setattr(monitoring, "TensorBoardLogger", no_tensorboard)
    assert isinstance(make_logger("tensorboard", None, tmp_path, {}, None), NullLogger)
    assert "tensorboard" in capsys.readouterr().err


def test_wandb_offline_run_writes_metrics_summary_and_config(tmp_path):
    logger = make_logger("wandb", wandb_cfg(), tmp_path, {"learning_rate": 3e-4, "num_experts": 4}, None)
    assert isinstance(logger, WandbLogger)
    assert logger.run_id and logger.run_dir.is_dir()
    assert logger.run_dir.name.startswith("offline-run-") and logger.run_dir.name.endswith(logger.run_id)
    assert tmp_path in logger.run_dir.parents  # dir None -> the given run directory
    logger.log({"train/loss": torch.tensor(1.25), "train/learning_rate": np.float64(3e-4),
                "val/loss": None}, step=10)
    logger.log({"train/loss": 0.75}, step=20)
    logger.log_summary({"best_val_loss": 0.7, "stopped_because": "time budget"})
    logger.log_samples([{"prompt": "secret text", "response": "should never be stored"}])
    logger.finish()
    logger.finish()  # second call is harmless

    records = read_wandb_records(logger.run_dir)
    rows = history_rows(records)
    assert [(r["train/loss"], r[STEP_KEY]) for r in rows if "train/loss" in r] == [(1.25, 10), (0.75, 20)]
    assert rows[0]["train/learning_rate"] == pytest.approx(3e-4)
    assert not any("val/loss" in r for r in rows)
    summary = summary_values(records)
    assert summary["best_val_loss"] == 0.7 and summary["stopped_because"] == "time budget"
    (run_record,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    config = {item.key: json.loads(item.value_json) for item in run_record.config.update}
    assert config["learning_rate"] == 3e-4 and config["num_experts"] == 4
    assert run_record.project == "test-project" and list(run_record.tags) == ["unit"]
    raw = next(logger.run_dir.glob("run-*.wandb")).read_bytes()
    assert b"secret text" not in raw and b"should never be stored" not in raw
    assert not (logger.run_dir / "files" / "output.log").exists()  # console capture off


def test_wandb_log_samples_only_when_enabled(tmp_path):
    logger = make_logger("wandb", wandb_cfg(log_samples=True), tmp_path, {}, None)
    logger.log_samples([{"prompt": "hello there", "response": "a reply"}], step=5)
    logger.finish()
    read_wandb_records(logger.run_dir)  # wait for the run to be written out
    table_files = list((logger.run_dir / "files").rglob("*.table.json"))
    assert table_files, "samples table not written"
    table = json.loads(table_files[0].read_text())
    assert table["columns"] == ["prompt", "response"] and table["data"] == [["hello there", "a reply"]]


def test_wandb_resume_with_saved_id_reuses_it(tmp_path):
    first = make_logger("wandb", wandb_cfg(), tmp_path, {}, None)
    first.log({"train/loss": 2.0}, step=100)
    run_id = first.run_id
    first.finish(exit_code=1)

    second = make_logger("wandb", wandb_cfg(), tmp_path, {}, resume_run_id=run_id)
    assert second.run_id == run_id
    second.log({"train/loss": 1.0}, step=90)  # behind the last logged step: still kept
    second.finish()
    # offline, each piece gets its own folder (wandb adds "-1" when both start in one second);
    # `wandb sync` appends the pieces to the one run id
    assert run_id in second.run_dir.name and second.run_dir != first.run_dir
    losses = [r["train/loss"] for r in history_rows(read_wandb_records(second.run_dir)) if "train/loss" in r]
    assert losses == [1.0]


def test_wandb_dir_from_config_and_image(tmp_path):
    png = tmp_path / "heat.png"
    from therapeutic_moe.training.plots import plot_expert_usage_heatmap

    plot_expert_usage_heatmap(np.full((2, 4), 0.25), ["a", "b", "c", "d"], png)
    logger = make_logger("wandb", wandb_cfg(dir=str(tmp_path / "elsewhere")), tmp_path / "out", {}, None)
    assert (tmp_path / "elsewhere") in logger.run_dir.parents
    logger.log_image("moe/usage_heatmap", png, step=3)
    logger.finish()
    read_wandb_records(logger.run_dir)
    assert list((logger.run_dir / "files" / "media" / "images").rglob("*.png"))


def test_online_failure_falls_back_to_offline(tmp_path, monkeypatch, capsys):
    real_init = WandbLogger.__init__
    modes = []

    def flaky_init(self, cfg, run_dir, run_config=None, resume_run_id=None, mode=None):
        modes.append(mode)
        if mode == "online":
            raise RuntimeError("api key not configured (no-tty)")
        real_init(self, cfg, run_dir, run_config, resume_run_id, mode=mode)

    monkeypatch.setattr(WandbLogger, "__init__", flaky_init)
    logger = make_logger("wandb", wandb_cfg(mode="online"), tmp_path, {}, None)
    logger.finish()
    assert modes == ["online", "offline"]
    assert isinstance(logger, WandbLogger) and logger.mode == "offline"
    assert "recording offline instead" in capsys.readouterr().err


def test_wandb_config_as_dict(tmp_path):
    logger = make_logger("wandb", {"project": "p", "mode": "offline"}, tmp_path, {}, None)
    assert isinstance(logger, WandbLogger)
    logger.finish()


def test_tensorboard_writes_event_file_with_scalar(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = make_logger("tensorboard", wandb_cfg(), tmp_path, {}, None)
    assert isinstance(logger, TensorBoardLogger)
    assert logger.run_dir == tmp_path / "tensorboard" / logger.run_id
    logger.log({"train/loss": torch.tensor(1.5), "skip": None}, step=1)
    logger.log({"train/loss": 1.0}, step=2)
    logger.log_summary({"best_val_loss": 0.9, "note": "done"})
    logger.log_samples([{"prompt": "private words"}])
    logger.finish()
    assert list(logger.run_dir.glob("events.out.tfevents.*"))

    events = EventAccumulator(str(logger.run_dir))
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert "train/loss" in scalars and "skip" not in scalars
    assert [(e.step, e.value) for e in events.Scalars("train/loss")] == [(1, 1.5), (2, 1.0)]
    assert events.Scalars("summary/best_val_loss")[0].value == pytest.approx(0.9)
    raw = b"".join(p.read_bytes() for p in logger.run_dir.glob("events.out.tfevents.*"))
    assert b"private words" not in raw


def test_tensorboard_resume_appends_to_same_folder(tmp_path):
    pytest.importorskip("tensorboard")
    first = make_logger("tensorboard", None, tmp_path, {}, None)
    first.log({"a": 1}, step=1)
    first.finish()
    second = make_logger("tensorboard", None, tmp_path, {}, resume_run_id=first.run_id)
    assert second.run_dir == first.run_dir
    second.finish()


def test_tensorboard_image(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from therapeutic_moe.training.plots import plot_ppl_by_length

    png = plot_ppl_by_length([10, 20, 30], [5.0, 4.0, 3.0], tmp_path / "ppl.png")
    logger = make_logger("tensorboard", None, tmp_path, {}, None)
    logger.log_image("eval/ppl_by_length", png, step=7)
    logger.finish()
    events = EventAccumulator(str(logger.run_dir), size_guidance={"images": 0})
    events.Reload()
    (image,) = events.Images("eval/ppl_by_length")
    assert image.step == 7 and image.width > 100 and image.height > 100


def test_accepts_the_project_wandb_config(tmp_path):
    config_module = pytest.importorskip("therapeutic_moe.config.wandb_config")
    cfg = config_module.WandbConfig(project="from-config", tags=["a", "b"])
    logger = make_logger("wandb", cfg, tmp_path, {"x": 1}, None)
    logger.finish()
    (run_record,) = [r.run for r in read_wandb_records(logger.run_dir) if r.WhichOneof("record_type") == "run"]
    assert run_record.project == "from-config" and list(run_record.tags) == ["a", "b"]
