"""YAML configs: the same keys, checks and messages as JSON, plus line numbers."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from therapeutic_moe.config import load_run_config
from therapeutic_moe.config.files import read_config_file
from therapeutic_moe.errors import ConfigError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_text(**kwargs) -> str:
    with pytest.raises(ConfigError) as info:
        load_run_config(**kwargs)
    return str(info.value)


def test_yaml_and_json_give_the_same_config(tmp_path):
    values = {"learning_rate": 3e-4, "lora_r": 8, "packing": True, "bf16": "auto", "eval_steps": None,
              "expert_domains": ["a", "b", "c"], "topic_to_domain": {"anxiety": "a", "grief": "b"},
              "system_prompt": "Be kind: listen first.", "max_hours": 1.5}
    as_json = write(tmp_path, "t.json", json.dumps(values))
    as_yaml = write(tmp_path, "t.yaml", """\
# every value as a person would write it
learning_rate: 3e-4        # YAML 1.1 would read this as text
lora_r: 8
packing: true
bf16: auto
eval_steps: null
expert_domains: [a, b, c]
topic_to_domain:
  anxiety: a
  grief: b
system_prompt: "Be kind: listen first."
max_hours: 1.5
""")
    assert load_run_config(config=as_yaml).train == load_run_config(config=as_json).train


@pytest.mark.parametrize("text, value", [
    ("dataset: 2026-01-01", "2026-01-01"),  # a date stays text, not a date object
    ("dataset: yes", "yes"),                # YAML 1.1 booleans are plain words here
    ("dataset: 'off'", "off"),
])
def test_yaml_scalars_follow_yaml_1_2(tmp_path, text, value):
    data, _, _ = read_config_file(write(tmp_path, "t.yml", text))
    assert data["dataset"] == value


# (case, file text, fragments that must all appear)
BAD_YAML = [
    ("unknown key with line", "lora_r: 8\nlerning_rate: 1e-4\n",
     ["bad.yaml:2: lerning_rate", 'did you mean "learning_rate"?']),
    ("key of another file", "mode: offline\n", ["bad.yaml:1: mode", "belongs in wandb_config.json"]),
    ("wrong type with line", "\n\nlora_r: sixteen\n", ["bad.yaml:3: lora_r", "expected int"]),
    ("1.1 boolean word", "packing: yes\n", ["bad.yaml:1: packing", 'expected bool or "auto"', '"yes"']),
    ("cross-field rule", "top_k: 5\n", ["bad.yaml:1: top_k", "larger than num_experts (4)"]),
    ("duplicate key", "lora_r: 8\nlora_r: 16\n", ["lora_r (line 2)", "more than once"]),
    ("unclosed list", "expert_domains: [a, b\nlora_r: 8\n", ["bad.yaml: line 2", "invalid YAML"]),
    ("tab indentation", "topic_to_domain:\n\tanxiety: a\n", ["line 2, column 1", "tabs"]),
    ("value after key on one line", "lora_r: 8: 9\n", ["line 1, column 10", "invalid YAML"]),
    ("empty file", "# nothing yet\n", ["bad.yaml: is empty", "{}"]),
    ("top level list", "- lora_r\n- 8\n", ["top level must be a YAML mapping", "a list"]),
    ("top level scalar", "lora_r\n", ["top level must be a YAML mapping", "single value"]),
    ("number as key", "1: 2\n", ["bad.yaml: line 1", "not a setting name"]),
]


@pytest.mark.parametrize("case, text, fragments", BAD_YAML, ids=[c[0] for c in BAD_YAML])
def test_bad_yaml_is_one_clear_error(tmp_path, case, text, fragments):
    message = error_text(config=write(tmp_path, "bad.yaml", text))
    for fragment in fragments:
        assert fragment in message, (case, message)


def test_problems_from_yaml_and_json_files_are_reported_together(tmp_path):
    message = error_text(config=write(tmp_path, "t.yaml", "lora_r: 0\n"),
                         wandb_config=write(tmp_path, "w.json", '{"mode": "onlin"}'),
                         safety_config=write(tmp_path, "s.yml", "pii_kinds: [emial]\n"))
    assert "3 problems" in message and "t.yaml:1: lora_r" in message
    assert 'w.json: mode' in message and "s.yml:1: pii_kinds" in message


def test_not_utf8_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"system_prompt: caf\xe9\n")
    assert "not UTF-8" in error_text(config=path)


def test_yaml_default_file_names_are_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "moe_training_config.yaml", "lora_r: 8\n")
    write(tmp_path, "wandb_config.yml", "project: p\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = load_run_config()
    assert run.train.lora_r == 8 and run.wandb.project == "p"
    assert run.sources["train"] == "moe_training_config.yaml"


def test_json_and_yaml_defaults_side_by_side_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "moe_training_config.json", "{}")
    write(tmp_path, "moe_training_config.yaml", "lora_r: 8\n")
    message = error_text()
    assert "moe_training_config.json and moe_training_config.yaml" in message and "keep one" in message


def test_train_command_reads_yaml(tmp_path, capsys):
    from therapeutic_moe.cli import main

    path = write(tmp_path, "t.yaml", "lora_r: 8\nlearnig_rate: 1\n")
    assert main(["train", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2: learnig_rate" in err and "Traceback" not in err


def test_safety_config_yaml_for_chat_and_serve(tmp_path):
    from therapeutic_moe.inference.model_settings import load_safety_config

    cfg = load_safety_config(write(tmp_path, "s.yaml", "pii_kinds: [email, phone]\n"))
    assert cfg.pii_kinds == ["email", "phone"]
    with pytest.raises(ConfigError, match="line 1, column"):
        load_safety_config(write(tmp_path, "bad.yaml", "pii_kinds: email: phone\n"))


def test_data_check_settings_from_yaml(tmp_path):
    from therapeutic_moe.data.settings import settings_from_config_file

    settings = settings_from_config_file(write(tmp_path, "t.yaml", "max_seq_length: 512\ntopic_to_domain: "
                                                                      "counselchat\nlora_r: 8\n"))
    assert settings.max_seq_length == 512 and settings.topic_to_domain == "counselchat"
    with pytest.raises(ConfigError, match="line 2, column 1: .*opened at line 1, column 17"):
        settings_from_config_file(write(tmp_path, "bad.yaml", "max_seq_length: [1\n"))
