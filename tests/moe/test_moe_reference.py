"""The fast stacked-expert MLP must equal a slow, obviously-correct per-token loop."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from therapeutic_moe.moe import MoEConfig, MoELoRAMLP, RoutingContext
from therapeutic_moe.moe.losses import load_balancing_loss, router_z_loss, domain_routing_loss, sample_mean_probs


class SwiGLU(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.gate_proj, self.up_proj, self.down_proj = nn.Linear(d, f, bias=False), nn.Linear(d, f, bias=False), nn.Linear(f, d, bias=False)
        self.act_fn = nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


def make_layer(num_experts, top_k, d=12, f=20, r=3, seed=0):
    torch.manual_seed(seed)
    cfg = MoEConfig(expert_domains=[f"e{i}" for i in range(num_experts)], top_k=top_k, expert_r=r, expert_alpha=6)
    ctx = RoutingContext(num_layers=1, num_experts=num_experts)
    layer = MoELoRAMLP(SwiGLU(d, f), 0, cfg, ctx).double()
    for p in layer.base_mlp.parameters():
        p.requires_grad_(False)
    # B starts at zero (LoRA init); randomise so the experts matter in the comparison.
    for ex in layer.experts.values():
        nn.init.normal_(ex.expert_B, std=0.3)
    nn.init.normal_(layer.router.weight, std=0.5)
    return layer, cfg


def reference_forward(layer: MoELoRAMLP, x: torch.Tensor) -> torch.Tensor:
    """Loop over tokens and their chosen experts; build nothing stacked."""
    cfg, base = layer.cfg, layer.base_mlp
    r, scale = cfg.expert_r, cfg.expert_alpha / cfg.expert_r
    outs = []
    for t in range(x.shape[0]):
        xt = x[t]
        probs = torch.softmax(layer.router.weight.double() @ xt, dim=-1)
        top_p, top_i = probs.topk(cfg.top_k)
        top_p = top_p / top_p.sum()

        def proj(name, inp):
            y = getattr(base, name)(inp)
            ex = layer.experts[name]
            for g, e in zip(top_p, top_i.tolist()):
                A = ex.expert_A[:, e * r:(e + 1) * r]  # [in, r]
                B = ex.expert_B[e * r:(e + 1) * r]  # [r, out]
                y = y + g * scale * ((inp @ A) @ B)
            return y

        a = base.act_fn(proj("gate_proj", xt)) * proj("up_proj", xt)
        outs.append(proj("down_proj", a))
    return torch.stack(outs)


@pytest.mark.parametrize("num_experts,top_k", [(4, 1), (4, 2), (8, 1), (8, 2)])
def test_fast_equals_reference_values_and_grads(num_experts, top_k):
    layer, _ = make_layer(num_experts, top_k)
    x = torch.randn(2, 5, 12, dtype=torch.double, requires_grad=True)
    fast = layer(x)
    params = [p for p in layer.parameters() if p.requires_grad]
    g_fast = torch.autograd.grad((fast * torch.linspace(-1, 1, fast.numel(), dtype=torch.double).view_as(fast)).sum(),
                                 [x] + params)
    x2 = x.detach().clone().requires_grad_(True)
    ref = reference_forward(layer, x2.view(-1, 12)).view_as(fast)
    g_ref = torch.autograd.grad((ref * torch.linspace(-1, 1, ref.numel(), dtype=torch.double).view_as(ref)).sum(),
                                [x2] + params)
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-10)
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)
    router_grad = g_fast[1 + params.index(layer.router.weight)]
    if top_k > 1:  # the router really gets gradient through the gates
        assert router_grad.abs().sum() > 0
    else:  # one chosen expert renormalised is a gate of exactly 1: no gradient (was rounding noise)
        assert torch.equal(router_grad, torch.zeros_like(router_grad))


@pytest.mark.parametrize("num_experts,top_k", [(4, 2), (8, 2), (4, 1)])
def test_each_token_uses_exactly_k_experts_and_gates_sum_to_one(num_experts, top_k):
    layer, _ = make_layer(num_experts, top_k)
    routing = layer.router(torch.randn(50, 12, dtype=torch.double))
    assert ((routing.gates > 0).sum(-1) == top_k).all()
    torch.testing.assert_close(routing.gates.sum(-1), torch.ones(50, dtype=routing.gates.dtype))
    # router math is at least fp32: bf16 hidden states still give fp32 logits
    layer.router.float()
    assert layer.router(torch.randn(5, 12, dtype=torch.bfloat16)).logits.dtype == torch.float32


def test_zero_init_experts_leave_base_model_unchanged():
    torch.manual_seed(0)
    cfg = MoEConfig(top_k=2, expert_r=4, expert_alpha=8)
    base = SwiGLU(12, 20)
    layer = MoELoRAMLP(base, 0, cfg, RoutingContext(1, cfg.num_experts))
    x = torch.randn(3, 12)
    torch.testing.assert_close(layer(x), base(x))


def test_load_balancing_loss_matches_hand_computation():
    # 4 tokens, 2 experts, top-1. Assignments: e0, e0, e0, e1 -> f = [3/4, 1/4]
    probs = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7]], requires_grad=True)
    topk = probs.topk(1, dim=-1).indices
    loss = load_balancing_loss(probs, topk, None)
    P = [(0.9 + 0.8 + 0.6 + 0.3) / 4, (0.1 + 0.2 + 0.4 + 0.7) / 4]
    expected = 2 * (0.75 * P[0] + 0.25 * P[1])
    assert math.isclose(loss.item(), expected, rel_tol=1e-6)
    assert loss.item() > 0
    loss.backward()
    assert probs.grad is not None and probs.grad.abs().sum() > 0


def test_load_balancing_loss_ignores_masked_tokens():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.99, 0.01]])
    topk = probs.topk(1, dim=-1).indices
    mask = torch.tensor([True, True, False])
    masked = load_balancing_loss(probs, topk, mask)
    only_first_two = load_balancing_loss(probs[:2], topk[:2], None)
    assert masked.item() == pytest.approx(only_first_two.item())
    # uniform routing over 2 tokens -> f=[.5,.5], P=[.55,.45] -> 2*(.5*.55+.5*.45)=1
    assert masked.item() == pytest.approx(1.0)


def test_z_loss_and_domain_loss_by_hand():
    logits = torch.tensor([[0.0, 0.0], [1.0, -1.0]])
    z = router_z_loss(logits, torch.tensor([True, False]))
    assert z.item() == pytest.approx(math.log(2) ** 2)
    probs = torch.tensor([[0.7, 0.3], [0.5, 0.5], [0.1, 0.9]])
    sample_ids = torch.tensor([0, 0, 1])
    mean = sample_mean_probs(probs, sample_ids, 2)
    torch.testing.assert_close(mean, torch.tensor([[0.6, 0.4], [0.1, 0.9]]))
    loss = domain_routing_loss(mean, torch.tensor([0, -1]))  # second sample unlabelled
    assert loss.item() == pytest.approx(-math.log(0.6), rel=1e-6)
    assert domain_routing_loss(mean, torch.tensor([-1, -1])).item() == 0.0
