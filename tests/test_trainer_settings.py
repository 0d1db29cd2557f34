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
