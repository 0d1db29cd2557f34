"""Bad configs: each is rejected with one ConfigError whose text names the file, key and fix."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from therapeutic_moe.config import (
    ConfigWarning,
    SafetyConfig,
    TrainConfig,
    WandbConfig,
    load_run_config,
)
from therapeutic_moe.errors import ConfigError


def write(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def error_text(**kwargs) -> str:
    with pytest.raises(ConfigError) as info:
        load_run_config(**kwargs)
    return str(info.value)


# (case id, slot, file content, fragments that must all appear in the message)
BAD_FILES = [
    ("unknown key", "config", {"lerning_rate": 1e-4},
     ["bad.json", "lerning_rate", 'unknown key (did you mean "learning_rate"?)']),
    ("key of another file", "config", {"mode": "offline"}, ["mode", "belongs in wandb_config.json"]),
    ("wrong type", "config", {"lora_r": "16"}, ["lora_r", "expected int", '"16"', "without quotes"]),
    ("wrong type bool", "config", {"use_moe": "yes"}, ["use_moe", "expected bool"]),
    ("wrong list", "config", {"lora_target_modules": "q_proj"}, ["lora_target_modules", "expected list of string"]),
    ("bool is not an int", "config", {"num_experts": True}, ["num_experts", "expected int, got a bool"]),
    ("top_k above num_experts", "config", {"top_k": 5}, ["top_k", "larger than num_experts (4)", "1..4"]),
    ("shared rank not a multiple", "config", {"shared_expert": True, "expert_r": 4, "shared_expert_r": 6},
     ["shared_expert_r", "multiple of expert_r (4)", "e.g. 8"]),
    ("shared rank without shared expert", "config", {"shared_expert": False, "shared_expert_r": 8}, ["shared_expert_r", "needs shared_expert true"]),
    ("experts vs domains", "config", {"num_experts": 3, "expert_domains": ["a", "b"]},
     ["num_experts", "is 3 but expert_domains lists 2 names"]),
    ("default count given with other domains", "config", {"num_experts": 4, "expert_domains": ["a", "b", "c"]},
     ["num_experts", "is 4 but expert_domains lists 3"]),
    ("duplicate domain", "config", {"expert_domains": ["a", "a"]}, ["expert_domains", '"a" more than once']),
    ("empty domain", "config", {"expert_domains": ["a", " "]}, ["expert_domains", "empty"]),
    ("empty list", "config", {"user_speakers": []}, ["user_speakers", "at least one"]),
    ("unknown topic domain", "config", {"topic_to_domain": {"anxiety": "mental_healt"}},
     ["topic_to_domain", '"anxiety"', '"mental_healt"', 'did you mean "mental_health"?']),
    ("dropout range", "config", {"lora_dropout": 1.0}, ["lora_dropout", ">= 0 and < 1"]),
    ("negative lr", "config", {"learning_rate": -1}, ["learning_rate", "> 0"]),
    ("seq above context", "config", {"max_seq_length": 4096, "max_context_length": 2048},
     ["max_seq_length", "larger than max_context_length (2048)"]),
    ("context above limit", "config", {"max_context_length": 262144, "max_seq_length": 512},
     ["max_context_length", "<= 131072"]),
    ("validation split", "config", {"validation_split": 1.0}, ["validation_split", "< 1"]),
    ("enum", "config", {"lr_scheduler_type": "cosin"}, ["lr_scheduler_type", 'did you mean "cosine"?']),
    ("auto or bool", "config", {"bf16": "yes"}, ["bf16", 'expected bool or "auto"']),
    ("max_steps zero", "config", {"max_steps": 0}, ["max_steps", "-1"]),
    ("both warmups", "config", {"warmup_steps": 10, "warmup_ratio": 0.1}, ["warmup_ratio", "set warmup_steps to 0"]),
    ("speaker in both lists", "config", {"user_speakers": ["Client", "Therapist"]}, ["user_speakers", '"Therapist"']),
    ("wandb mode", "wandb_config", {"mode": "onlin"}, ["mode", 'did you mean "online"?']),
    ("online without permission", "wandb_config", {"mode": "online"},
     ["bad.json: mode", "allow_remote_logging", "safety_config.json", '"mode": "offline"']),
    ("unknown pii kind", "safety_config", {"pii_kinds": ["emial"]}, ["pii_kinds", 'did you mean "email"?']),
    ("template without placeholder", "safety_config", {"crisis_reply_template": "Call for help."},
     ["crisis_reply_template", "{resources}"]),
    ("template with other placeholder", "safety_config", {"crisis_reply_template": "{name}: {resources}"},
     ["crisis_reply_template", "{name}"]),
    ("margin eats budget", "safety_config", {"time_limit_margin_minutes": 800},
     ["time_limit_margin_minutes", "max_hours"]),
    ("malformed JSON", "config", '{\n  "lora_r": 16\n  "top_k": 2\n}', ["bad.json", "line 3, column 3"]),
    ("trailing comma", "config", '{\n  "lora_r": 16,\n}', ["line 3, column 1", "remove it"]),
    ("single quotes", "config", "{'lora_r': 16}", ["line 1, column 2", "double quotes"]),
    ("empty file", "config", "  \n", ["bad.json", "empty", "{}"]),
    ("top level list", "config", "[1, 2]", ["bad.json", "top level must be a JSON object", "a list"]),
    ("top level string", "wandb_config", '"offline"', ["top level must be a JSON object", "a string"]),
    ("duplicate key", "config", '{"lora_r": 8, "lora_r": 16}', ["lora_r", "more than once"]),
]


@pytest.mark.parametrize("case, slot, content, fragments", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_file_is_reported(tmp_path, monkeypatch, case, slot, content, fragments):
    monkeypatch.chdir(tmp_path)  # no default-named files around
    message = error_text(**{slot: write(tmp_path, "bad.json", content)})
    for fragment in fragments:
        assert fragment in message, f"{case}: {fragment!r} not in:\n{message}"
    assert "\n  - " in message


def test_missing_explicit_file_is_an_error(tmp_path):
    message = error_text(config=tmp_path / "nope.json")
    assert "nope.json: file not found" in message


def test_directory_instead_of_file(tmp_path):
    assert "is a directory" in error_text(safety_config=tmp_path)


def test_every_problem_in_every_file_is_reported_at_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    train = write(tmp_path, "train.json", {"lerning_rate": 1, "lora_r": "8", "top_k": 9, "lora_dropout": 2,
                                           "topic_to_domain": {"x": "nowhere"}})
    wandb = write(tmp_path, "wandb.json", {"mode": "online", "projekt": "x"})
    safety = write(tmp_path, "safety.json", "{oops}")
    message = error_text(config=train, wandb_config=wandb, safety_config=safety,
                         overrides={"seed": "many", "bogus_key": "1"})
    expected = ["train.json: lerning_rate", "train.json: lora_r", "train.json: top_k", "train.json: lora_dropout",
                "train.json: topic_to_domain", 'wandb.json: projekt: unknown key (did you mean "project"?)',
                "safety.json: line 1, column 2", "command line --seed", "command line --bogus_key"]
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    assert message.startswith(f"{len(message.splitlines()) - 1} problems in the configuration:")


def test_cross_file_rule_still_runs_when_another_file_is_broken(tmp_path):
    message = error_text(config=write(tmp_path, "t.json", {"top_k": 99}),
                         wandb_config=write(tmp_path, "w.json", {"mode": "online"}))
    assert "t.json: top_k" in message and "w.json: mode" in message


def test_override_problem_is_labelled_with_the_option(tmp_path):
    message = error_text(config=write(tmp_path, "t.json", {"top_k": 2}), overrides={"top_k": "7"})
    assert "command line --top_k: 7 is larger than num_experts" in message
    assert "t.json: top_k" not in message


def test_online_allowed_when_permitted(tmp_path):
    run = load_run_config(wandb_config=write(tmp_path, "w.json", {"mode": "online"}),
                          safety_config=write(tmp_path, "s.json", {"allow_remote_logging": True}))
    assert run.wandb.mode == "online"


BAD_DIRECT = [
    (TrainConfig, {"top_k": 0}, "top_k"),
    (TrainConfig, {"expert_domains": ["a"], "num_experts": 2}, "num_experts"),
    (TrainConfig, {"learning_rate": float("nan")}, "learning_rate"),
    (WandbConfig, {"tags": "x"}, "tags"),
    (WandbConfig, {"entity": ""}, "entity"),
    (SafetyConfig, {"crisis_resources": []}, "crisis_resources"),
]


@pytest.mark.parametrize("cls, kwargs, key", BAD_DIRECT)
def test_direct_construction_is_validated(cls, kwargs, key):
    with pytest.raises(ConfigError, match=f"{cls.FILE_NAME}: {key}"):
        cls(**kwargs)


SUSPICIOUS = [
    ({"learning_rate": 0.5}, "learning_rate"),
    ({"max_steps": 10, "warmup_steps": 100}, "never reaches its peak"),
    ({"top_k": 4}, "every token uses every expert"),
    ({"load_balancing_weight": 0}, "load_balancing_weight"),
    ({"validation_split": 0}, "no validation"),
    ({"use_moe": False, "top_k": 1}, "top_k is ignored"),
    ({"checkpoint_minutes": 90, "max_hours": 1}, "only the final checkpoint"),
    ({"trust_remote_code": True}, "trust_remote_code"),
    ({"num_experts": 6}, "expert_0..expert_5"),
]


@pytest.mark.parametrize("data, fragment", SUSPICIOUS)
def test_suspicious_settings_warn_but_load(tmp_path, data, fragment):
    path = write(tmp_path, "t.json", data)
    with pytest.warns(ConfigWarning, match=fragment) as record:
        run = load_run_config(config=path)
    assert any(str(w.message).startswith(f"{path}: ") for w in record)
    assert run.train.learning_rate > 0


@pytest.mark.parametrize("data, fragment", [
    ({"pii_scrubbing": False}, "pii_scrubbing"),
    ({"crisis_detection": False}, "crisis_detection"),
    ({"log_raw_text": True}, "log_raw_text"),
    ({"screen_generated_text": False}, "screen_generated_text"),
])
def test_weakened_safety_warns(tmp_path, data, fragment):
    with pytest.warns(ConfigWarning, match=fragment):
        load_run_config(safety_config=write(tmp_path, "s.json", data))


def test_valid_defaults_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TrainConfig(), WandbConfig(), SafetyConfig()
