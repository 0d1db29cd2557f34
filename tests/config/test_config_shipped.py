"""Every config file the project ships loads cleanly, and the docs/examples match the dataclasses."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import pytest

from therapeutic_moe.config import SafetyConfig, TrainConfig, WandbConfig, load_run_config
from therapeutic_moe.config.generate_docs import DOC_PATH, EXAMPLES, expected_files

ROOT = Path(__file__).resolve().parents[2]
GUIDE_VALUES = {
    "num_train_epochs": 3,
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 8,
    "learning_rate": 3e-4,
    "warmup_steps": 1000,
}


def load_quietly(**paths):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # shipped files must not even be suspicious
        return load_run_config(**paths)


def test_repo_root_files_load_with_the_guide_values():
    run = load_quietly(
        config=ROOT / "moe_training_config.json",
        wandb_config=ROOT / "wandb_config.json",
        safety_config=ROOT / "safety_config.json",
    )
    for key, value in GUIDE_VALUES.items():
        assert getattr(run.train, key) == value, key
    assert run.train.effective_batch_size == 32
    assert run.train.expert_domains == ["psychology", "mental_health", "bias_detection", "general_therapeutic"]
    assert (run.train.max_hours, run.train.checkpoint_minutes, run.train.early_stopping_patience) == (12.0, 30.0, 3)
    assert run.wandb.mode == "offline" and run.wandb.log_samples is False
    assert run.safety.allow_remote_logging is False and "{resources}" in run.safety.crisis_reply_template


def test_defaults_in_the_current_directory_are_picked_up(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    run = load_quietly()
    assert run.sources["train"] == "moe_training_config.json"
    monkeypatch.chdir(tmp_path)
    run = load_quietly()
    assert run.sources == {"train": None, "wandb": None, "safety": None, "overrides": {}}
    assert run.train == TrainConfig()


def test_quickstart_cpu_config():
    run = load_quietly(config=ROOT / "configs" / "quickstart_cpu.json")
    t = run.train
    assert (t.max_steps, t.per_device_train_batch_size, t.gradient_accumulation_steps, t.max_seq_length) == (30, 2, 1, 512)
    assert (t.learning_rate, t.warmup_steps, t.eval_steps, t.logging_steps) == (5e-4, 3, 10, 5)
    assert (t.checkpoint_minutes, t.save_steps, t.output_dir) == (2, 10, "therapeutic_moe_model")
    assert t.base_model == "smollm2-135m-instruct"


def test_quickstart_yaml_equals_the_json():
    from_yaml = load_quietly(config=ROOT / "configs" / "quickstart_cpu.yaml")
    from_json = load_quietly(config=ROOT / "configs" / "quickstart_cpu.json")
    assert from_yaml.train == from_json.train


@pytest.mark.parametrize(
    "slot, name",
    [("config", "moe_training_config.jsonc"), ("wandb_config", "wandb_config.jsonc"),
     ("safety_config", "safety_config.jsonc"), ("config", "eight_experts.jsonc")],
)
def test_commented_examples_load(slot, name):
    path = ROOT / "configs" / "examples" / name
    assert "//" in path.read_text(), "examples are meant to be commented"
    run = load_quietly(**{slot: path})
    if name == "eight_experts.jsonc":
        assert run.train.num_experts == 8 and len(run.train.expert_domains) == 8
        assert {"crisis_intervention", "trauma_therapy", "cognitive_behavioral", "mindfulness"} <= set(run.train.expert_domains)
        assert set(run.train.topic_to_domain.values()) <= set(run.train.expert_domains)


def test_every_shipped_training_config_validates():
    shipped = sorted(p for pattern in ("*.json*", "*.yaml", "*.yml") for p in (ROOT / "configs").rglob(pattern)
                     if p.is_file())
    assert len(shipped) >= 5
    slots = {"wandb_config.jsonc": "wandb_config", "safety_config.jsonc": "safety_config"}
    for path in shipped:
        run = load_quietly(**{slots.get(path.name, "config"): path})
        assert run.train.lora_r >= 1, path


@pytest.mark.parametrize("cls", [TrainConfig, WandbConfig, SafetyConfig])
def test_every_field_is_documented_and_in_its_example(cls):
    doc = (ROOT / DOC_PATH).read_text()
    example = next((ROOT / rel).read_text() for rel, c in EXAMPLES.items() if c is cls)
    for f in dataclasses.fields(cls):
        assert f.metadata.get("help", "").strip(), f"{f.name} has no help text"
        assert f"| `{f.name}` |" in doc, f"{f.name} missing from {DOC_PATH}"
        assert f'"{f.name}":' in example, f"{f.name} missing from the {cls.FILE_NAME} example"


def test_generated_docs_and_examples_are_up_to_date():
    for path, text in expected_files(ROOT).items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.relative_to(ROOT)} is out of date; run `python -m therapeutic_moe.config.generate_docs .`"
        )
