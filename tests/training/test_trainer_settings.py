"""The trainer applies its performance settings: each test fails if the setting is ignored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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


@pytest.mark.slow  # recompiles for each new batch width: ~45 s on 2 cores
def test_torch_compile_compiles_every_decoder_block_and_keeps_the_losses(tmp_path, monkeypatch):
    from therapeutic_moe.modeling import compile as model_compile

    monkeypatch.chdir(tmp_path)
    compiled_models = []
    real = model_compile.compile_decoder_blocks

    def aot_eager(model, **kwargs):  # dynamo + AOT autograd without C++ code generation: fast on CPU
        compiled_models.append(model)
        return real(model, backend="aot_eager")

    monkeypatch.setattr(model_compile, "compile_decoder_blocks", aot_eager)
    eager, compiled = tmp_path / "eager", tmp_path / "compiled"
    assert train(run_config(tmp_path, output_dir=str(eager), max_steps=3, eval_steps=100)) == 0
    assert not compiled_models
    assert train(run_config(tmp_path, output_dir=str(compiled), max_steps=3, eval_steps=100,
                            torch_compile=True)) == 0
    assert len(compiled_models) == 1
    blocks = model_compile.decoder_blocks(compiled_models[0])
    assert all(model_compile.is_compiled(b) for b in blocks)
    a, b = history_losses(eager), history_losses(compiled)
    assert a.keys() == b.keys() and all(abs(a[s] - b[s]) <= 1e-5 * abs(a[s]) for s in a)


def test_routing_statistics_only_on_logging_steps_and_no_domain_loss_at_weight_zero(tmp_path, monkeypatch):
    from therapeutic_moe.moe import stacked as moe_stacked
    from therapeutic_moe.moe.stats import RoutingStats

    monkeypatch.chdir(tmp_path)
    calls = {"stats": 0, "domain": 0}
    real_add, real_domain = RoutingStats.add, moe_stacked.domain_routing_loss

    def add(self, *args, **kwargs):
        calls["stats"] += 1
        return real_add(self, *args, **kwargs)

    def domain(*args, **kwargs):
        calls["domain"] += 1
        return real_domain(*args, **kwargs)

    monkeypatch.setattr(RoutingStats, "add", add)
    monkeypatch.setattr(moe_stacked, "domain_routing_loss", domain)
    # 6 steps x 2 micro-batches x 2 layers (the domain loss: once per micro-batch for all layers);
    # logging every 3rd step; no validation split.
    common = dict(max_steps=6, logging_steps=3, validation_split=0.0)
    assert train(run_config(tmp_path, output_dir=str(tmp_path / "w0"), domain_routing_weight=0.0, **common)) == 0
    assert calls == {"stats": 2 * 2 * 2, "domain": 0}
    report = json.loads((tmp_path / "w0" / "training_report.json").read_text())
    logged = [row for row in report["history"] if "moe/routing_entropy" in row]
    assert [row["step"] for row in logged] == [3, 6]
    calls.update(stats=0, domain=0)
    assert train(run_config(tmp_path, output_dir=str(tmp_path / "w1"), domain_routing_weight=0.1, **common)) == 0
    assert calls == {"stats": 2 * 2 * 2, "domain": 6 * 2}
