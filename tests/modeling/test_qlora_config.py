"""QLoRA (load_in_4bit) on a CPU machine: the config carries it to model loading, which refuses
with one clear message before reading any weights; the 4-bit settings are the QLoRA recipe.
The GPU run itself is checked on a CUDA machine (docs/configuration.md)."""

from __future__ import annotations

import pytest

from conftest import tiny_cfg
from runtime_helpers import write_dataset, write_tiny_base
from therapeutic_moe.config.train_config import TrainConfig
from therapeutic_moe.errors import ConfigError
from therapeutic_moe.modeling import base_model


def test_load_in_4bit_is_a_config_key_and_refuses_fsdp():
    assert TrainConfig(load_in_4bit=True).load_in_4bit is True
    assert TrainConfig().load_in_4bit is False
    with pytest.raises(ConfigError, match="load_in_4bit: cannot be combined with distributed_strategy fsdp"):
        TrainConfig(load_in_4bit=True, distributed_strategy="fsdp")


def test_build_model_on_cpu_refuses_4bit_before_loading(tmp_path, monkeypatch):
    from therapeutic_moe.modeling import build_model

    base_dir = write_tiny_base(tmp_path / "base")
    loaded = []
    monkeypatch.setattr("transformers.AutoModelForCausalLM.from_pretrained", lambda *a, **k: loaded.append(a))
    with pytest.raises(ConfigError, match="needs a CUDA GPU.*on cpu; set load_in_4bit false"):
        build_model(tiny_cfg(base_model=str(base_dir), load_in_4bit=True), device="cpu")
    assert not loaded, "no weights may be read before the refusal"


def test_cli_train_with_4bit_on_cpu_is_exit_2(tmp_path, capsys):
    from therapeutic_moe.cli import main

    base = write_tiny_base(tmp_path / "base")
    data = write_dataset(tmp_path / "data.json")
    code = main(["train", "--base_model", str(base), "--dataset", str(data), "--output_dir", str(tmp_path / "out"),
                 "--load_in_4bit", "true", "--max_steps", "1", "--report_to", "none"])
    err = capsys.readouterr().err
    assert code == 2 and "load_in_4bit" in err and "CUDA" in err and "Traceback" not in err


def test_missing_bitsandbytes_on_a_gpu_names_the_install(monkeypatch):
    monkeypatch.setattr(base_model.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="pip install bitsandbytes"):
        base_model.check_4bit_possible("cuda:0")


def test_quantization_settings_follow_the_qlora_recipe():
    import torch

    kwargs = base_model.quantization_kwargs("cuda:1")
    q = kwargs["quantization_config"]
    assert q.load_in_4bit and q.bnb_4bit_quant_type == "nf4" and q.bnb_4bit_use_double_quant
    assert q.bnb_4bit_compute_dtype == torch.bfloat16 and kwargs["device_map"] == {"": 1}
