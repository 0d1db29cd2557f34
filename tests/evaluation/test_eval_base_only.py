"""The base-only switch: adapters off and experts bypassed gives the untouched base model."""

from __future__ import annotations

import torch

from conftest import tiny_cfg, tiny_llama
from inference_helpers import train_a_little
from therapeutic_moe.evaluation.base_only import base_model_only
from therapeutic_moe.modeling import wrap_model


def test_base_only_matches_untouched_base_and_restores():
    reference = tiny_llama(seed=3)
    model = wrap_model(tiny_llama(seed=3), tiny_cfg(), "tiny")
    train_a_little(model, 3, seq=12)
    ids = torch.randint(3, 99, (1, 10), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = reference(input_ids=ids).logits
        adapted = model(input_ids=ids).logits
        with base_model_only(model):
            model.context.trace = []
            base = model(input_ids=ids).logits
            traced = model.context.trace
            model.context.trace = None
        again = model(input_ids=ids).logits
    assert not torch.allclose(adapted, expected, atol=1e-4)  # training moved the model
    torch.testing.assert_close(base, expected)
    assert traced == []  # no router ran while bypassed
    torch.testing.assert_close(again, adapted)  # switch is restored on exit
    assert model.context.bypass_experts is False


def test_base_only_restores_after_an_exception():
    model = wrap_model(tiny_llama(), tiny_cfg(), "tiny")
    try:
        with base_model_only(model):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert model.context.bypass_experts is False
