"""Replies and long context on the real default base model (SmolLM2-135M-Instruct)."""

from __future__ import annotations

import pytest

from inference_helpers import real_model_dir  # noqa: F401 (fixture)

pytestmark = [pytest.mark.real_model, pytest.mark.slow]


def test_greedy_reply_decodes_cleanly_with_routing(real_model_dir):
    from therapeutic_moe.inference import TherapistAssistant

    assistant = TherapistAssistant.from_pretrained(real_model_dir, device="cpu", quiet=True)
    assert assistant.plan.method == "native" and assistant.plan.native == 8192
    messages = [{"role": "user", "content": "I've been anxious before exams. What could help?"}]
    reply = assistant.reply(messages, max_new_tokens=40, temperature=0)
    assert reply.text.strip() and "\ufffd" not in reply.text
    assert "".join(r.text for r in reply.routing) == reply.text
    assert reply.usage.prompt_tokens > 50  # the trained system prompt is in the prompt
    words = reply.text.lower()
    assert any(w in words for w in ("exam", "anx", "feel", "help", "stress"))
    chunks = list(assistant.reply(messages, max_new_tokens=40, temperature=0, stream=True))
    assert "".join(c.text for c in chunks) == reply.text


def test_16k_context_uses_yarn_and_runs(real_model_dir):
    import torch

    from therapeutic_moe.inference.context import load_for_inference

    model, tokenizer, plan = load_for_inference(real_model_dir, device="cpu", max_context_length=16384, quiet=True)
    assert (plan.method, plan.factor) == ("yarn", 2.0)
    assert model.config.rope_parameters["original_max_position_embeddings"] == 8192
    ids = tokenizer("Hello there, how are you?", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    assert torch.isfinite(logits).all()
