"""The router losses computed once over the stacked layers equal the per-layer losses averaged."""

from __future__ import annotations

import torch

from conftest import tiny_cfg, tiny_llama
from therapeutic_moe.modeling import wrap_model
from therapeutic_moe.moe.losses import domain_routing_loss, load_balancing_loss, router_z_loss, sample_mean_probs
from therapeutic_moe.moe.router import renormalised_gates
from therapeutic_moe.moe.stacked import router_losses


def collected(model, **cfg_changes):
    """Run the decoder once on a packed batch with padding; the context then holds each layer's routing."""
    for key, value in cfg_changes.items():
        setattr(model.moe_config, key, value)
    gen = torch.Generator().manual_seed(3)
    ids = torch.randint(3, 99, (2, 12), generator=gen)
    sample_ids = torch.tensor([[0] * 5 + [1] * 5 + [-1] * 2, [2] * 12])
    ctx = model.context
    ctx.begin(token_mask=(sample_ids >= 0).reshape(-1), sample_ids=sample_ids.reshape(-1),
              sample_domains=torch.tensor([0, 3, -1]))
    model.base(input_ids=ids)
    ctx.end()
    return ctx


def test_stacked_losses_equal_the_mean_of_per_layer_losses():
    model = wrap_model(tiny_llama(layers=3), tiny_cfg(), "tiny")
    ctx = collected(model)
    aux, logged = router_losses(ctx, model.moe_layers, model.moe_config, 0.1)
    routings = [ctx.aux[i] for i in range(3)]
    mask = ctx.token_mask
    lb = torch.stack([load_balancing_loss(r.probs, r.topk_index, mask) for r in routings]).mean()
    z = torch.stack([router_z_loss(r.logits, mask) for r in routings]).mean()
    dom = torch.stack([domain_routing_loss(sample_mean_probs(r.probs, ctx.sample_ids, 3), ctx.sample_domains)
                       for r in routings]).mean()
    assert torch.equal(logged["load_balancing_loss"], lb) and float(lb) > 0
    assert torch.equal(logged["router_z_loss"], z) and float(z) > 0
    assert torch.equal(logged["domain_routing_loss"], dom) and float(dom) > 0
    cfg = model.moe_config
    assert torch.equal(aux, cfg.load_balancing_weight * lb + cfg.router_z_loss_weight * z + 0.1 * dom)
    grads = torch.autograd.grad(aux, [layer.router.weight for layer in model.moe_layers])
    assert all(float(g.abs().sum()) > 0 for g in grads)  # every layer's router gets the losses' gradient


def test_a_loss_of_weight_zero_is_not_computed():
    model = wrap_model(tiny_llama(), tiny_cfg(), "tiny")
    ctx = collected(model, load_balancing_weight=0.0, router_z_loss_weight=0.0)
    ctx.compute_domain_loss = False
    aux, logged = router_losses(ctx, model.moe_layers, model.moe_config, 0.0)
    assert set(logged) == {"aux_loss"} and float(aux) == 0.0


def test_masked_softmax_gates_equal_the_renormalised_chosen_probabilities():
    logits = (torch.randn(4000, 8, generator=torch.Generator().manual_seed(0)) * 3).requires_grad_(True)
    probs = logits.softmax(-1)
    top_p, top_i = probs.topk(2, dim=-1)
    expected = torch.zeros_like(probs).scatter(1, top_i, top_p / top_p.sum(-1, keepdim=True))
    gates = renormalised_gates(logits, top_i)
    torch.testing.assert_close(gates, expected, rtol=0, atol=2 * torch.finfo(torch.float32).eps)
    assert torch.equal(gates > 0, expected > 0)  # the same experts, zero elsewhere
    weights = torch.randn_like(gates)
    got, = torch.autograd.grad((gates * weights).sum(), logits)
    want, = torch.autograd.grad((expected * weights).sum(), logits)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
