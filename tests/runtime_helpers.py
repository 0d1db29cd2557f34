"""Helpers for runtime tests: a tiny base model directory and a small dataset on disk."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import make_tiny_tokenizer, tiny_llama

TOPICS = [
    ("mental_health", "I have been feeling anxious before work every day.", "That sounds exhausting. What happens in your body when the anxiety starts?"),
    ("psychology", "I keep putting myself down after small mistakes.", "Let's notice that inner critic together. What does it usually say?"),
    ("general_therapeutic", "My partner and I argue about chores.", "It can help to name what each of you needs. What would feel fair to you?"),
    ("bias_detection", "My coworkers make jokes about my accent.", "That is hurtful, and it is not your fault. How have you been coping with it?"),
]


def write_tiny_base(directory: Path, seed: int = 0) -> Path:
    directory = Path(directory)
    tiny_llama(seed=seed).save_pretrained(directory)
    make_tiny_tokenizer().save_pretrained(directory)
    return directory


def write_dataset(path: Path, copies: int = 6) -> Path:
    convs = []
    for c in range(copies):
        for i, (domain, client, therapist) in enumerate(TOPICS):
            convs.append({"id": f"c{c}-{i}", "domain": domain,
                          "text": f"Client: {client} ({c})\nTherapist: {therapist}\nClient: Thank you.\nTherapist: You're welcome ({c})."})
    Path(path).write_text(json.dumps({"conversations": convs}))
    return Path(path)


def run_config(tmp_path: Path, **overrides):
    """A RunConfig for a tiny CPU run in tmp_path."""
    from therapeutic_moe.config import load_run_config

    base = tmp_path / "base"
    if not base.exists():
        write_tiny_base(base)
    data = tmp_path / "data.json"
    if not data.exists():
        write_dataset(data)
    values = dict(base_model=str(base), dataset=str(data), output_dir=str(tmp_path / "out"), max_steps=6,
                  per_device_train_batch_size=2, per_device_eval_batch_size=4, gradient_accumulation_steps=2,
                  learning_rate=1e-2, warmup_steps=1, logging_steps=1, max_seq_length=1024, lora_r=4, lora_alpha=8,
                  expert_r=4, expert_alpha=8, report_to="none", checkpoint_minutes=60, save_steps=0,
                  eval_steps=3, validation_split=0.2, dataloader_num_workers=0, time_limit_margin_minutes=0.0)
    values.update(overrides)
    return load_run_config(None, None, None, {k: json.dumps(v) if not isinstance(v, str) else v for k, v in values.items()})
