"""Sequence routing (router_input=sequence): the router reads the causal mean of the layer input
over the token's own conversation; training, evaluation and generation route alike."""

from __future__ import annotations

import pytest
import torch

from conftest import make_tiny_tokenizer, tiny_cfg, tiny_llama
from therapeutic_moe.config import ConfigProblems, TrainConfig
from therapeutic_moe.modeling import save_trained, wrap_model
from therapeutic_moe.modeling.saving import load_trained_onto
from therapeutic_moe.moe import MoEConfig
from therapeutic_moe.moe.sequence import running_means, segment_means


def brute_force_means(x, sample_ids):
    out = torch.empty_like(x)
    for i in range(len(x)):
        j = i
        while j > 0 and sample_ids[j - 1] == sample_ids[i]:
            j -= 1
        out[i] = x[j : i + 1].mean(0)
    return out


def test_segment_means_are_the_mean_over_each_tokens_own_sample_so_far():
    torch.manual_seed(0)
    rows, t, d = 3, 7, 5
    sid = torch.tensor([[0, 0, 0, 1, 1, -1, -1], [2, 2, 2, 2, 2, 2, 2], [3, 4, 4, 4, 5, 5, -1]]).reshape(-1)
    x = torch.randn(rows * t, d)
    torch.testing.assert_close(segment_means(x, sid, rows), brute_force_means(x, sid))


def test_running_means_continue_across_calls_like_one_call():
    torch.manual_seed(1)
    x = torch.randn(1, 9, 4)
    whole = running_means(x.reshape(-1, 4), 1, None, 0)
    state = {}
    first = running_means(x[:, :6].reshape(-1, 4), 1, state, 0)
    rest = [running_means(x[:, k : k + 1].reshape(-1, 4), 1, state, 0) for k in range(6, 9)]
    torch.testing.assert_close(torch.cat([first, *rest]), whole)
    assert state[0][1] == 9


def test_generation_with_the_cache_routes_like_a_full_forward():
    model = wrap_model(tiny_llama(seed=0), tiny_cfg(router_input="sequence", router_init_std=1.0), "tiny")
    model.eval()
    for layer in model.moe_layers:  # non-zero experts, so routing changes the logits
        for experts in layer.experts.values():
            torch.nn.init.normal_(experts.expert_B, std=0.5)
    ids = torch.randint(3, 99, (1, 12), generator=torch.Generator().manual_seed(0))

    def cached_last_logits(state):
        model.context.sequence_state = state
        out = model.base(input_ids=ids[:, :9], use_cache=True)
        for k in range(9, 12):
            out = model.base(input_ids=ids[:, k : k + 1], past_key_values=out.past_key_values, use_cache=True)
        model.context.sequence_state = None
        return out.logits[:, -1]

    with torch.no_grad():
        full = model.base(input_ids=ids).logits[:, -1]
        with_state, without_state = cached_last_logits({}), cached_last_logits(None)
    torch.testing.assert_close(with_state, full, atol=1e-4, rtol=1e-4)
    # without the carried sum each new token would be routed as a conversation of its own
    assert (without_state - full).abs().max() > 1e-2


def test_the_loss_path_routes_packed_samples_separately_and_the_router_learns(tmp_path):
    model = wrap_model(tiny_llama(seed=0), tiny_cfg(router_input="sequence"), "tiny")
    ids = torch.randint(3, 99, (2, 16), generator=torch.Generator().manual_seed(3))
    labels = ids.clone()
    sample_ids = torch.tensor([[0] * 10 + [1] * 6, [2] * 16])
    batch = {"input_ids": ids, "labels": labels, "sample_ids": sample_ids, "sample_domains": torch.tensor([0, 1, 2])}
    out = model.forward_loss(batch)
    grads = torch.autograd.grad(out["loss"], [layer.router.weight for layer in model.moe_layers])
    assert all(float(g.abs().sum()) > 0 for g in grads)
    save_trained(model, make_tiny_tokenizer(), tmp_path / "export")
    loaded, _ = load_trained_onto(tiny_llama(seed=0), make_tiny_tokenizer(), tmp_path / "export")
    assert loaded.moe_config.router_input == "sequence"
    with torch.no_grad():
        assert torch.equal(loaded.forward_loss(batch)["loss"], model.forward_loss(batch)["loss"])


def test_an_unknown_router_input_is_refused_by_name():
    with pytest.raises(ValueError, match="router_input='tokens' must be one of"):
        MoEConfig(router_input="tokens")
    with pytest.raises(ConfigProblems, match='router_input: "conversation" is not one of "token", "sequence"'):
        TrainConfig(router_input="conversation")
