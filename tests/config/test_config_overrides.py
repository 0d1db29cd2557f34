"""Command-line overrides: parsing of argv and of each value by its field's type."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from therapeutic_moe.config import ConfigWarning, SafetyConfig, TrainConfig, WandbConfig, load_run_config, parse_cli_overrides
from therapeutic_moe.errors import ConfigError


@pytest.fixture(autouse=True)
def no_default_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_keys_are_unique_across_the_three_files():
    names = [f.name for cls in (TrainConfig, WandbConfig, SafetyConfig) for f in dataclasses.fields(cls)]
    assert len(names) == len(set(names))


ARGV_CASES = [
    (["--learning_rate", "1e-4"], {"learning_rate": "1e-4"}),
    (["--learning_rate=1e-4"], {"learning_rate": "1e-4"}),
    (["--learning-rate", "1e-4"], {"learning_rate": "1e-4"}),
    (["--seed", "-1"], {"seed": "-1"}),  # a negative number is a value, not an option
    (["--use_moe"], {"use_moe": "true"}),  # bare bool flag
    (["--use_moe", "--top_k", "1"], {"use_moe": "true", "top_k": "1"}),
    (["--use_moe", "false"], {"use_moe": "false"}),
    (["--bf16"], {"bf16": "true"}),  # bool or "auto" also works as a flag
    (["--wandb.mode", "offline", "--safety.log_raw_text=false"], {"wandb.mode": "offline", "safety.log_raw_text": "false"}),
    (["--system_prompt="], {"system_prompt": ""}),
    (["--tags", "a,b", "--tags", "c"], {"tags": "c"}),  # last one wins, as with argparse
    ([], {}),
]


@pytest.mark.parametrize("argv, expected", ARGV_CASES)
def test_parse_cli_overrides(argv, expected):
    assert parse_cli_overrides(argv) == expected


BAD_ARGV = [
    (["--lora_r"], "--lora_r: needs a value"),
    (["--lora_r", "--top_k", "1"], "--lora_r: needs a value"),
    (["--lerning_rate", "1"], 'did you mean "learning_rate"?'),
    (["--wandb.lora_r", "1"], "--wandb.lora_r: unknown option"),
    (["stray"], "'stray': unexpected argument"),
]


@pytest.mark.parametrize("argv, fragment", BAD_ARGV)
def test_bad_argv(argv, fragment):
    with pytest.raises(ConfigError) as info:
        parse_cli_overrides(argv)
    assert fragment in str(info.value)


def test_bad_argv_reports_everything_at_once():
    with pytest.raises(ConfigError) as info:
        parse_cli_overrides(["--lerning_rate", "1", "oops", "--lora_r"])
    assert str(info.value).startswith("3 problems")


# (key, text, expected value on the loaded config)
TYPED = [
    ("lora_r", "8", 8),
    ("learning_rate", "1e-4", 1e-4),
    ("num_train_epochs", "2", 2.0),
    ("use_moe", "no", False),
    ("use_moe", "YES", True),
    ("dedupe", "0", False),
    ("bf16", "auto", "auto"),
    ("bf16", "true", True),
    ("dataloader_num_workers", "auto", "auto"),
    ("dataloader_num_workers", "2", 2),
    ("eval_steps", "null", None),
    ("eval_steps", "50", 50),
    ("dataset", "none", None),
    ("dataset", "data/train.jsonl", "data/train.jsonl"),
    ("report_to", "none", "none"),  # a plain string field keeps "none" as text
    ("lora_target_modules", "q_proj, v_proj", ["q_proj", "v_proj"]),
    ("lora_target_modules", '["q_proj"]', ["q_proj"]),
    ("tags", "", []),
    ("topic_to_domain", '{"grief": "psychology"}', {"grief": "psychology"}),
    ("wandb.name", "run-1", "run-1"),
    ("safety.pii_kinds", "email,phone", ["email", "phone"]),
]


@pytest.mark.parametrize("key, text, expected", TYPED)
def test_override_values_are_parsed_by_type(key, text, expected):
    run = load_run_config(overrides={key: text})
    section, _, name = key.rpartition(".")
    part = getattr(run, section or _owner(name))
    assert getattr(part, name) == expected
    assert type(getattr(part, name)) is type(expected)
    assert run.sources["overrides"] == {key: text}


def _owner(name: str) -> str:
    for section, cls in (("train", TrainConfig), ("wandb", WandbConfig), ("safety", SafetyConfig)):
        if name in {f.name for f in dataclasses.fields(cls)}:
            return section
    raise KeyError(name)


BAD_VALUES = [
    ("lora_r", "eight", '"eight" is not a valid int'),
    ("use_moe", "maybe", "true/false/yes/no/1/0"),
    ("topic_to_domain", "{bad", "not a valid JSON object"),
    ("topic_to_domain", '["a"]', "expected object"),
    ("lora_target_modules", "[1, 2]", "expected list of string"),
    ("eval_steps", "0", ">= 1"),
]


@pytest.mark.parametrize("key, text, fragment", BAD_VALUES)
def test_bad_override_values(key, text, fragment):
    with pytest.raises(ConfigError) as info:
        load_run_config(overrides={key: text})
    assert f"command line --{key}" in str(info.value) and fragment in str(info.value)


def test_overrides_beat_files_and_count_as_given(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"learning_rate": 1e-3, "expert_domains": ["a", "b", "c"]}))
    run = load_run_config(path, overrides={"learning_rate": "2e-4", "num_experts": "3"})
    assert run.train.learning_rate == 2e-4 and run.train.num_experts == 3
    with pytest.raises(ConfigError, match="command line --num_experts: is 5 but expert_domains lists 2"):
        load_run_config(path, overrides={"num_experts": "5", "expert_domains": "a,b"})


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=10**6))
def test_any_positive_int_round_trips(value):
    assert load_run_config(overrides={"logging_steps": str(value)}).train.logging_steps == value


@settings(max_examples=30, deadline=None)
@given(st.lists(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,11}", fullmatch=True), min_size=1, max_size=5, unique=True))
@pytest.mark.filterwarnings("ignore::therapeutic_moe.config.ConfigWarning")
def test_comma_lists_round_trip(names):
    run = load_run_config(overrides={"expert_domains": ",".join(names)})
    assert run.train.expert_domains == names and run.train.num_experts == len(names)


@pytest.mark.parametrize("override, num_experts, domains", [
    ({"num_experts": "8"}, 8, [f"expert_{i}" for i in range(8)]),
    ({"expert_domains": "a,b,c"}, 3, ["a", "b", "c"]),
    ({"num_experts": "2"}, 2, ["expert_0", "expert_1"]),
])
@pytest.mark.filterwarnings("ignore::therapeutic_moe.config.ConfigWarning")
def test_command_line_expert_count_beats_the_file_pair(tmp_path, override, num_experts, domains):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"num_experts": 4, "expert_domains": ["w", "x", "y", "z"]}))
    with pytest.warns(ConfigWarning, match="is ignored: --"):
        train = load_run_config(path, overrides=override).train
    assert (train.num_experts, train.expert_domains) == (num_experts, domains)


def test_matching_command_line_expert_count_keeps_the_file_names(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"expert_domains": ["w", "x", "y", "z"]}))
    assert load_run_config(path, overrides={"num_experts": "4"}).train.expert_domains == ["w", "x", "y", "z"]
