"""Weight soups of crisis heads: exactly the mean of the fits' merged weights, saved and loaded as one model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from therapeutic_moe.safety.semantic import LORA_SETTINGS, CrisisModel, fits_lora_settings
from therapeutic_moe.safety.soup import soup

MODULES = ("encoder.layer.0.attention.self.query", "encoder.layer.0.output.dense")
CLASSES = ("active_ideation", "ordinary", "venting")


def fake_model(seed: int, classes=CLASSES) -> CrisisModel:
    g = torch.Generator().manual_seed(seed)
    state = {}
    for m in MODULES:
        state[f"base_model.model.{m}.lora_A.weight"] = torch.randn(8, 384, generator=g)
        state[f"base_model.model.{m}.lora_B.weight"] = torch.randn(384, 8, generator=g)
    rng = np.random.default_rng(seed)
    return CrisisModel(classes, state, rng.normal(size=(len(classes), 384)), rng.normal(size=len(classes)), 0.65,
                       {"seed": seed})


def delta(model: CrisisModel, module: str) -> torch.Tensor:
    """What PEFT adds to the weight at merge: scale * B @ A."""
    scale = model.lora_settings["lora_alpha"] / model.lora_settings["r"]
    key = f"base_model.model.{module}.lora_"
    return scale * model.lora_state[key + "B.weight"] @ model.lora_state[key + "A.weight"]


def test_a_soup_adds_the_mean_of_the_fits_deltas_and_averages_the_heads():
    models = [fake_model(0), fake_model(1), fake_model(2)]
    mixed = soup(models, threshold=0.8)
    assert mixed.lora_settings["r"] == 24 and mixed.threshold == 0.8
    for module in MODULES:
        expected = sum(delta(m, module) for m in models) / 3
        assert torch.allclose(delta(mixed, module), expected, atol=1e-4)
    assert np.allclose(mixed.head_weight, sum(m.head_weight for m in models) / 3)
    assert mixed.report["soup_of"] == [{"seed": 0}, {"seed": 1}, {"seed": 2}]


def test_a_soup_survives_save_and_load(tmp_path):
    mixed = soup([fake_model(0), fake_model(1)])
    mixed.save(tmp_path / "soup.safetensors")
    loaded = CrisisModel.load(tmp_path / "soup.safetensors")
    assert loaded.lora_settings == mixed.lora_settings and loaded.threshold == 0.65
    for key, value in mixed.lora_state.items():
        assert torch.equal(loaded.lora_state[key], value)


def test_only_fits_of_one_recipe_mix():
    with pytest.raises(ValueError, match="two models"):
        soup([fake_model(0)])
    with pytest.raises(ValueError, match="differ"):
        soup([fake_model(0), fake_model(1, classes=("ordinary", "venting", "active_ideation"))])


def test_lora_settings_a_head_may_have():
    assert fits_lora_settings(LORA_SETTINGS)
    assert fits_lora_settings(dict(LORA_SETTINGS, r=16, lora_alpha=32))
    assert not fits_lora_settings(dict(LORA_SETTINGS, r=16, lora_alpha=16))  # another scale
    assert not fits_lora_settings(dict(LORA_SETTINGS, r=12, lora_alpha=24))  # no whole number of fits
    assert not fits_lora_settings(dict(LORA_SETTINGS, target_modules=["query"]))


def test_the_soup_script_writes_a_model(tmp_path):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("soup_script", Path(__file__).parents[2] / "scripts" / "soup_crisis_heads.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for seed in (0, 1):
        fake_model(seed).save(tmp_path / f"h{seed}.safetensors")
    out = tmp_path / "soup.safetensors"
    assert script.main([str(tmp_path / "h0.safetensors"), str(tmp_path / "h1.safetensors"), "--threshold", "0.7",
                        "--out", str(out)]) == 0
    assert CrisisModel.load(out).threshold == 0.7
    assert script.main([str(tmp_path / "h0.safetensors"), "--out", str(out)]) == 2  # one head: a clear error
