"""Shared building blocks for the inference, serving and evaluation tests: a tiny trained model
directory on disk, a safety layer for tests (the real one when installed) and a saved model
directory on the real default base model (the `real_model_dir` fixture)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import make_tiny_tokenizer, tiny_cfg, tiny_llama

CRISIS_TEXT = "I am going to kill myself tonight."


def train_a_little(model, steps: int, *, seed: int = 0, seq: int = 16) -> None:
    """A few AdamW steps on random token rows (so adapters and experts are non-zero), then eval mode."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-2)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        ids = torch.randint(3, 99, (2, seq), generator=g)
        out = model.forward_loss({"input_ids": ids, "labels": ids.clone(), "attention_mask": torch.ones_like(ids)})
        out["loss"].backward()
        opt.step()
        opt.zero_grad()
    model.eval()


def make_model_dir(root: Path, seed: int = 0, train_steps: int = 0, **cfg) -> Path:
    """A trained-format directory (adapter + experts + tokenizer) over a tiny saved base model."""
    from therapeutic_moe.modeling import save_trained, wrap_model

    root = Path(root)
    base_dir = root / "base"
    tiny_llama(seed=seed).save_pretrained(base_dir)
    base = tiny_llama(seed=seed)
    model = wrap_model(base, tiny_cfg(**cfg), str(base_dir))
    train_a_little(model, train_steps, seed=seed)
    out_dir = root / "model"
    save_trained(model, make_tiny_tokenizer(), out_dir)
    return out_dir


def real_safety_available() -> bool:
    try:
        from therapeutic_moe.safety import SafetyLayer, StreamScreen  # noqa: F401
    except ImportError:
        return False
    return True


def load_assistant(model_dir: Path, safety: bool = True, max_context_length: int = 512, **kwargs):
    """A TherapistAssistant on the tiny model; with the real safety layer when it is installed,
    else with none (tests that need crisis handling skip then)."""
    from therapeutic_moe.inference import TherapistAssistant

    return TherapistAssistant.from_pretrained(model_dir, device="cpu", max_context_length=max_context_length,
                                              safety=safety and real_safety_available(), quiet=True,
                                              system_prompt="", **kwargs)


@pytest.fixture(scope="module")
def real_model_dir(tmp_path_factory):
    from therapeutic_moe.errors import ModelDirError
    from therapeutic_moe.modeling import save_trained, wrap_model
    from therapeutic_moe.modeling.base_model import (
        DEFAULT_MODEL,
        embedded_gguf_path,
        load_base_model,
        load_tokenizer,
        resolve_base_model,
    )

    try:
        embedded_gguf_path()
    except ModelDirError as exc:
        pytest.skip(str(exc))
    resolved = resolve_base_model(DEFAULT_MODEL)
    model = wrap_model(load_base_model(resolved), tiny_cfg(base_model=DEFAULT_MODEL), DEFAULT_MODEL)
    out = tmp_path_factory.mktemp("real") / "model"
    save_trained(model, load_tokenizer(resolved), out)
    return out
