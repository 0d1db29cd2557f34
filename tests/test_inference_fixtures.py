"""Shared building blocks for the inference, serving and evaluation tests: a tiny trained model
directory on disk and a safety layer for tests (the real one when installed)."""

from __future__ import annotations

from pathlib import Path

import torch

from conftest import make_tiny_tokenizer, tiny_cfg, tiny_llama

CRISIS_TEXT = "I am going to kill myself tonight."


def make_model_dir(root: Path, seed: int = 0, train_steps: int = 0, **cfg) -> Path:
    """A trained-format directory (adapter + experts + tokenizer) over a tiny saved base model."""
    from therapeutic_moe.modeling import save_trained, wrap_model

    root = Path(root)
    base_dir = root / "base"
    tiny_llama(seed=seed).save_pretrained(base_dir)
    base = tiny_llama(seed=seed)
    model = wrap_model(base, tiny_cfg(**cfg), str(base_dir))
    if train_steps:
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-2)
        g = torch.Generator().manual_seed(seed)
        for _ in range(train_steps):
            ids = torch.randint(3, 99, (2, 16), generator=g)
            out = model.forward_loss({"input_ids": ids, "labels": ids.clone(), "attention_mask": torch.ones_like(ids)})
            out["loss"].backward()
            opt.step()
            opt.zero_grad()
    model.eval()
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


def test_model_dir_loads_with_native_context(tmp_path):
    from therapeutic_moe.inference.context import load_for_inference

    model_dir = make_model_dir(tmp_path)
    model, tokenizer, plan = load_for_inference(model_dir, device="cpu", max_context_length=512, quiet=True)
    assert plan.method == "native" and plan.native == 512
    assert len(model.moe_layers) == 2 and model.moe_config.num_experts == 4
    assert tokenizer.eos_token == "<|im_end|>"
