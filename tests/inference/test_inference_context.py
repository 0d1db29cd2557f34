"""Long context: native range when it covers the request, else RoPE scaling set at load."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from inference_helpers import make_model_dir
from therapeutic_moe.errors import ConfigError
from therapeutic_moe.inference.context import apply_context_plan, load_for_inference, plan_context


def cfg(native=8192, scaling=None):
    return SimpleNamespace(max_position_embeddings=native,
                           rope_parameters=scaling or {"rope_type": "default", "rope_theta": 10000.0})


@pytest.mark.parametrize("native, wanted, method, expected_method, factor", [
    (8192, 8192, "yarn", "native", 1.0),  # SmolLM2: 8192 is native
    (8192, 4096, "yarn", "native", 1.0),
    (8192, 16384, "yarn", "yarn", 2.0),
    (8192, 16384, "linear", "linear", 2.0),
    (2048, 8192, "yarn", "yarn", 4.0),
])
def test_plan(native, wanted, method, expected_method, factor):
    plan = plan_context(cfg(native), wanted, method)
    assert (plan.method, plan.factor, plan.native, plan.requested) == (expected_method, factor, native, wanted)
    assert str(wanted) in plan.describe() and (expected_method == "native") == ("no RoPE scaling" in plan.describe())


@pytest.mark.parametrize("config, wanted, method, match", [
    (cfg(), 0, "yarn", "positive whole number"),
    (cfg(), 8192, "ntk", "unknown"),
    (cfg(512), 512 * 17, "yarn", "at most 16x"),
    (cfg(8192, {"rope_type": "linear", "factor": 2.0, "rope_theta": 1e4}), 32768, "yarn", "already uses linear"),
])
def test_plan_refuses_what_it_cannot_do(config, wanted, method, match):
    with pytest.raises(ConfigError, match=match):
        plan_context(config, wanted, method)


def test_apply_writes_yarn_into_the_config_keeping_theta():
    config = cfg(2048)
    apply_context_plan(config, plan_context(config, 8192))
    assert config.max_position_embeddings == 8192
    assert config.rope_parameters == {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0,
                                      "original_max_position_embeddings": 2048}


def test_scaled_model_loads_and_answers_beyond_its_native_range(tmp_path, capsys):
    from therapeutic_moe.inference import TherapistAssistant
    from therapeutic_moe.inference.messages import render_prompt_ids

    model_dir = make_model_dir(tmp_path)
    model, tok, plan = load_for_inference(model_dir, device="cpu", max_context_length=1024)
    assert "yarn RoPE scaling, factor 2" in capsys.readouterr().err
    assert model.config.rope_parameters["rope_type"] == "yarn" and model.config.max_position_embeddings == 1024
    native, _, _ = load_for_inference(model_dir, device="cpu", max_context_length=512, quiet=True)
    ids = torch.randint(3, 99, (1, 32))
    with torch.no_grad():
        assert not torch.allclose(model(input_ids=ids).logits, native(input_ids=ids).logits)
    assistant = TherapistAssistant(model, tok, max_context_length=1024, plan=plan)
    long_history = [{"role": "user", "content": "a" * 700}]  # > 512 native positions
    reply = assistant.reply(long_history, max_new_tokens=4, temperature=0)
    assert reply.dropped_messages == 0
    assert reply.usage.prompt_tokens == len(render_prompt_ids(tok, long_history)) > 512
