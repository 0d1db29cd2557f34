"""The trainer applies its performance settings: each test fails if the setting is ignored."""

from __future__ import annotations

import json
from pathlib import Path

from runtime_helpers import run_config
from therapeutic_moe.data import loader as loader_module
from therapeutic_moe.training.loop import train


def history_losses(out: Path) -> dict[int, float]:
    hist = json.loads((out / "training_report.json").read_text())["history"]
    return {row["step"]: row["train/loss"] for row in hist if "train/loss" in row}


def test_dataloader_workers_collate_the_training_batches_with_the_same_losses(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    built = []

    class SpyLoader(loader_module.DataLoader):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append((self.num_workers, self.prefetch_factor))

    monkeypatch.setattr(loader_module, "DataLoader", SpyLoader)
    inline, workers = tmp_path / "inline", tmp_path / "workers"
    assert train(run_config(tmp_path, output_dir=str(inline), dataloader_num_workers=0, eval_steps=100)) == 0
    assert built and {w for w, _ in built} == {0}
    built.clear()
    assert train(run_config(tmp_path, output_dir=str(workers), dataloader_num_workers=2, eval_steps=100)) == 0
    assert built and {w for w, _ in built} == {2}
    assert history_losses(inline) == history_losses(workers)
