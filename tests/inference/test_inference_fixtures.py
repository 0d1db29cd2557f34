"""The tiny model directory of inference_helpers loads as the inference tests expect."""

from __future__ import annotations

from inference_helpers import make_model_dir


def test_model_dir_loads_with_native_context(tmp_path):
    from therapeutic_moe.inference.context import load_for_inference

    model_dir = make_model_dir(tmp_path)
    model, tokenizer, plan = load_for_inference(model_dir, device="cpu", max_context_length=512, quiet=True)
    assert plan.method == "native" and plan.native == 512
    assert len(model.moe_layers) == 2 and model.moe_config.num_experts == 4
    assert tokenizer.eos_token == "<|im_end|>"
