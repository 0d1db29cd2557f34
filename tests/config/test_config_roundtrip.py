"""Saving, reloading, dict conversion, derived expert names and the help listing."""

from __future__ import annotations

import dataclasses
import json
import warnings

import pytest

import therapeutic_moe
from therapeutic_moe.config import (
    ConfigWarning,
    RunConfig,
    SafetyConfig,
    TrainConfig,
    WandbConfig,
    config_to_dict,
    describe_fields,
    load_run_config,
    load_saved_run_config,
    save_run_config,
)
from therapeutic_moe.config.jsonc import strip_comments
from therapeutic_moe.errors import ConfigError


@pytest.fixture(autouse=True)
def no_default_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_save_and_reload_is_identical(tmp_path):
    run = load_run_config(overrides={"expert_domains": "a,b,c", "top_k": "1", "tags": "x,y", "seed": "7"})
    written = save_run_config(run, tmp_path / "out" / "nested")
    assert sorted(p.name for p in written.values()) == ["moe_training_config.json", "safety_config.json",
                                                        "wandb_config.json"]
    assert sorted(p.name for p in (tmp_path / "out" / "nested").iterdir()) == sorted(p.name for p in written.values())
    for path in written.values():
        assert json.loads(path.read_text())["_version"] == therapeutic_moe.__version__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = load_saved_run_config(tmp_path / "out" / "nested")
    assert (again.train, again.wandb, again.safety) == (run.train, run.wandb, run.safety)
    # A saved file is also a valid user file (strict mode): _version is always ignored.
    assert load_run_config(written["train"]).train == run.train


def test_saved_file_with_unknown_keys_warns_only_when_not_strict(tmp_path):
    save_run_config(RunConfig(), tmp_path)
    path = tmp_path / "moe_training_config.json"
    data = json.loads(path.read_text())
    data["_version"] = "99.0"
    data["future_option"] = 1
    path.write_text(json.dumps(data))
    with pytest.warns(ConfigWarning, match="future_option: unknown key"):
        run = load_saved_run_config(tmp_path)
    assert run.train == TrainConfig()
    with pytest.raises(ConfigError, match="future_option"):
        load_run_config(path)


def test_load_saved_needs_all_three_files(tmp_path):
    with pytest.raises(ConfigError, match="moe_training_config.json, wandb_config.json, safety_config.json not found"):
        load_saved_run_config(tmp_path)


def test_config_to_dict_is_json_ready_and_a_copy():
    run = RunConfig()
    as_dict = config_to_dict(run)
    assert set(as_dict) == {"train", "wandb", "safety", "sources"}
    json.dumps(as_dict)
    train = config_to_dict(run.train)
    assert set(train) == {f.name for f in dataclasses.fields(TrainConfig)}
    train["expert_domains"].append("x")
    assert run.train.expert_domains == TrainConfig().expert_domains
    assert TrainConfig(**config_to_dict(TrainConfig(lora_r=4))).lora_r == 4
    with pytest.raises(TypeError):
        config_to_dict(TrainConfig)


@pytest.mark.parametrize("data, num_experts, domains", [
    ({}, 4, ["psychology", "mental_health", "bias_detection", "general_therapeutic"]),
    ({"expert_domains": ["a", "b"]}, 2, ["a", "b"]),
    ({"num_experts": 3}, 3, ["expert_0", "expert_1", "expert_2"]),
    ({"num_experts": 2, "expert_domains": ["a", "b"]}, 2, ["a", "b"]),
    ({"num_experts": 4}, 4, ["psychology", "mental_health", "bias_detection", "general_therapeutic"]),
    ({"expert_domains": ["solo"]}, 1, ["solo"]),  # top_k left out follows down to 1
])
def test_num_experts_and_domains_are_resolved(tmp_path, data, num_experts, domains):
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        train = load_run_config(path).train
        direct = TrainConfig(**data)
    assert (train.num_experts, train.expert_domains) == (num_experts, domains)
    assert (direct.num_experts, direct.expert_domains) == (num_experts, domains)
    assert train.expert_index == {d: i for i, d in enumerate(domains)}
    assert train.top_k == min(2, num_experts) == direct.top_k


def test_explicit_top_k_is_never_lowered():
    with pytest.raises(ConfigError, match="top_k: 2 is larger than num_experts"):
        load_run_config(overrides={"expert_domains": "solo", "top_k": "2"})


def test_run_config_checks_across_files():
    with pytest.raises(ConfigError, match="allow_remote_logging"):
        RunConfig(wandb=WandbConfig(mode="online"))
    assert RunConfig(wandb=WandbConfig(mode="online"), safety=SafetyConfig(allow_remote_logging=True))


def test_jsonc_comments_are_stripped_outside_strings_only(tmp_path):
    text = '{\n  // full line\n  "system_prompt": "see http://example.org // not a comment", // trailing\n  "lora_r": 8\n}'
    assert len(strip_comments(text)) == len(text)
    path = tmp_path / "t.jsonc"
    path.write_text(text)
    train = load_run_config(path).train
    assert train.system_prompt == "see http://example.org // not a comment" and train.lora_r == 8


def test_escaped_quote_inside_string(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('{"system_prompt": "say \\"hi\\" // still text"}')
    assert load_run_config(path).train.system_prompt == 'say "hi" // still text'


@pytest.mark.parametrize("cls", [TrainConfig, WandbConfig, SafetyConfig])
def test_describe_fields_lists_every_field_with_type_default_and_help(cls):
    text = describe_fields(cls)
    assert cls.FILE_NAME in text
    for f in dataclasses.fields(cls):
        assert f"  {f.name}: " in text
        assert f.metadata["help"].split()[0] in text
    if cls is TrainConfig:
        assert "  top_k: int = 2" in text and "  lora_dropout: float = 0.05" in text
        assert "[>= 0 and < 1]" in text and "one of linear, cosine" in text
        assert "  eval_steps: int or null = null" in text
        assert '  bf16: bool or "auto" = "auto"' in text


def test_section_titles_name_real_fields():
    for cls in (TrainConfig, WandbConfig, SafetyConfig):
        names = [f.name for f in dataclasses.fields(cls)]
        assert names[0] in cls.SECTIONS
        assert set(cls.SECTIONS) <= set(names)


@pytest.mark.parametrize("total_steps, warmup", [(6, 1), (60, 3), (20000, 1000)])
def test_default_warmup_scales_with_the_run(total_steps, warmup):
    # warmup_steps used to default to 1000: a run of a few hundred steps never reached its learning rate.
    import torch
    from transformers import get_scheduler

    cfg = TrainConfig(learning_rate=1e-3)
    assert cfg.warmup_steps_for(total_steps) == warmup
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.learning_rate)
    scheduler = get_scheduler("constant_with_warmup", optimizer, num_warmup_steps=warmup,
                              num_training_steps=total_steps)
    for _ in range(warmup):
        optimizer.step()
        scheduler.step()
    assert scheduler.get_last_lr()[0] == pytest.approx(cfg.learning_rate)


def test_explicit_warmup_steps_win_and_zero_zero_means_none():
    assert TrainConfig(warmup_steps=7).warmup_steps_for(20000) == 7
    assert TrainConfig(warmup_steps=0, warmup_ratio=0.0).warmup_steps_for(20000) == 0
