"""Routing recipes (expert init, structure, balancing, dense warm-up) and the specialisation metric."""

from __future__ import annotations

import pytest
import torch

from conftest import make_tiny_tokenizer, tiny_cfg, tiny_llama
from therapeutic_moe.modeling import save_trained, wrap_model
from therapeutic_moe.modeling.saving import load_trained_onto
from therapeutic_moe.moe import MoEConfig, RoutingStats
from therapeutic_moe.moe.balance import after_optimizer_step
from therapeutic_moe.moe.stacked import router_losses
from therapeutic_moe.moe.stats import normalized_mutual_information

VARIANTS = [dict(expert_init="compensated"), dict(expert_init="compensated", expert_structure="shared_a"),
            dict(expert_init="compensated", shared_expert=True, expert_dropout=0.1),
            dict(expert_init="compensated", shared_expert=True, shared_expert_r=4, expert_r=2)]


def batch(seed=0, B=2, T=16):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 99, (B, T), generator=g)
    labels = ids.clone()
    labels[:, : T // 2] = -100
    sample_ids = torch.arange(B).unsqueeze(1).expand(B, T).clone()
    return {"input_ids": ids, "labels": labels, "sample_ids": sample_ids, "sample_domains": torch.arange(B) % 4}


def lm_router_grad(model) -> float:
    """Norm of the routers' gradient from the LM loss alone (router-loss weights set to 0)."""
    model.moe_config.load_balancing_weight = model.moe_config.router_z_loss_weight = 0.0
    out = model.forward_loss(batch(), domain_weight=0.0)
    grads = torch.autograd.grad(out["loss"], [layer.router.weight for layer in model.moe_layers])
    return float(torch.stack([g.norm() for g in grads]).norm())


@pytest.mark.parametrize("variant", VARIANTS)
def test_compensated_init_is_the_base_model_at_step_0(variant):
    model = wrap_model(tiny_llama(seed=0), tiny_cfg(**variant), "tiny")
    model.train()  # dropout on: the two terms must share one mask
    ids = batch()["input_ids"]
    with torch.no_grad():
        expected = tiny_llama(seed=0)(input_ids=ids).logits
        got = model(input_ids=ids).logits
    assert torch.equal(got, expected)
    assert all(float(e.expert_B.abs().sum()) > 0 for layer in model.moe_layers for e in layer.experts.values())


def test_compensated_init_keeps_the_zero_inits_router_and_a_draws():
    torch.manual_seed(0)
    zero = wrap_model(tiny_llama(seed=0), tiny_cfg(), "tiny")
    torch.manual_seed(0)
    comp = wrap_model(tiny_llama(seed=0), tiny_cfg(expert_init="compensated"), "tiny")
    for a, b in zip(zero.moe_layers, comp.moe_layers):
        assert torch.equal(a.router.weight, b.router.weight)
        assert all(torch.equal(a.experts[n].expert_A, b.experts[n].expert_A) for n in a.experts)


def test_routers_get_lm_gradient_at_step_0_only_with_the_compensated_init():
    zero = wrap_model(tiny_llama(seed=0), tiny_cfg(), "tiny")
    comp = wrap_model(tiny_llama(seed=0), tiny_cfg(expert_init="compensated"), "tiny")
    assert lm_router_grad(zero) == 0.0  # the root cause: B = 0 and gates renormalised to 1
    assert lm_router_grad(comp) > 1e-6


def test_compensated_experts_and_balancing_state_survive_save_and_load(tmp_path):
    cfg = tiny_cfg(expert_init="compensated", balancing="aux_free", aux_free_bias_rate=0.05, dense_routing_steps=1)
    base = tiny_llama(seed=0)
    base.save_pretrained(tmp_path / "base")
    model = wrap_model(base, cfg, str(tmp_path / "base"))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for step in range(3):
        model.forward_loss(batch(step))["loss"].backward()
        opt.step()
        opt.zero_grad()
        after_optimizer_step(model)
    model.eval()
    router = model.moe_layers[0].router
    assert float(router.routing_steps) == 3 and float(router.selection_bias.abs().sum()) > 0
    save_trained(model, make_tiny_tokenizer(), tmp_path / "export")
    state = torch.load(tmp_path / "export" / "moe_layers.pt", weights_only=True)
    assert {"layers.0.router.selection_bias", "layers.0.router.routing_steps",
            "layers.0.experts.up_proj.init_B"} <= set(state)
    loaded, _ = load_trained_onto(tiny_llama(seed=0), make_tiny_tokenizer(), tmp_path / "export")
    ids = batch(9)["input_ids"]
    with torch.no_grad():
        assert torch.equal(loaded(input_ids=ids).logits, model(input_ids=ids).logits)
    assert torch.equal(loaded.moe_layers[0].router.selection_bias, router.selection_bias)


def test_default_recipe_saves_exactly_the_tensors_it_saved_before():
    model = wrap_model(tiny_llama(seed=0), tiny_cfg(), "tiny")
    assert sorted({k.split(".", 2)[2] for k in model.moe_state_dict()}) == sorted(
        ["router.weight"] + [f"experts.{p}.expert_{m}" for p in ("gate_proj", "up_proj", "down_proj") for m in "AB"])


def test_aux_free_bias_moves_load_toward_balance_and_leaves_gates_unbiased():
    model = wrap_model(tiny_llama(seed=0), tiny_cfg(balancing="aux_free", aux_free_bias_rate=0.1), "tiny")
    router = model.moe_layers[0].router
    with torch.no_grad():
        router.weight.zero_()
        router.weight[0] += 0.5  # expert 0 preferred by every token with positive features
    model.train()
    model.forward_loss(batch())
    load = router.observed_load.clone()
    after_optimizer_step(model)
    expected = 0.1 * torch.sign(load.mean() - load)
    assert torch.equal(router.selection_bias, expected) and router.observed_load is None
    logits = torch.randn(5, 4)
    routing = router.route(logits)
    chosen = (logits + router.selection_bias).topk(2).indices
    assert torch.equal(routing.topk_index, chosen)
    probs = logits.softmax(-1).gather(1, chosen)
    assert torch.allclose(routing.gates.gather(1, chosen), probs / probs.sum(1, keepdim=True))


def test_balance_warmup_scales_the_gradient_not_the_value():
    def lb_and_grad(steps_done):
        model = wrap_model(tiny_llama(seed=0), tiny_cfg(load_balancing_warmup_steps=4), "tiny")
        for layer in model.moe_layers:
            layer.router.routing_steps.fill_(steps_done)
        model.moe_config.router_z_loss_weight = 0.0  # the balance loss alone
        model.context.begin()
        model.context.compute_domain_loss = False
        model.base(input_ids=batch()["input_ids"])
        aux, logged = router_losses(model.context, model.moe_layers, model.moe_config, 0.0)
        lb = logged["load_balancing_loss"]
        grad = torch.autograd.grad(aux, model.moe_layers[0].router.weight)[0]
        model.context.clear()
        return lb.detach(), grad

    lb1, g1 = lb_and_grad(1)
    lb4, g4 = lb_and_grad(4)
    assert torch.equal(lb1, lb4)
    assert torch.allclose(g1 * 4, g4, rtol=1e-5, atol=1e-9) and float(g4.abs().sum()) > 0


def test_dense_routing_during_warmup_then_top_k():
    model = wrap_model(tiny_llama(seed=0), tiny_cfg(dense_routing_steps=2), "tiny")
    router = model.moe_layers[0].router
    logits = torch.randn(6, 4)
    assert torch.equal(router.route(logits).gates, logits.softmax(-1))
    after_optimizer_step(model)
    after_optimizer_step(model)
    gates = router.route(logits).gates
    assert int((gates > 0).sum(1).max()) == 2


@pytest.mark.parametrize("variant", [dict(expert_structure="shared_a"), dict(shared_expert=True)])
def test_structure_variants_equal_their_formula(variant):
    torch.manual_seed(0)
    cfg = MoEConfig(expert_domains=list("abcd"), expert_r=3, expert_alpha=6, **variant)
    from therapeutic_moe.moe import StackedLoRAExperts

    ex = StackedLoRAExperts(5, 7, 4, 3, 6, shared_a=cfg.expert_structure == "shared_a",
                            shared_expert=cfg.shared_expert).double()
    torch.nn.init.normal_(ex.expert_B)
    x = torch.randn(9, 5, dtype=torch.float64)
    gates = torch.rand(9, 4, dtype=torch.float64)
    expected = torch.zeros(9, 7, dtype=torch.float64)
    for t in range(9):
        for e in range(4 + int(cfg.shared_expert)):
            a = ex.expert_A[:, :3] if cfg.expert_structure == "shared_a" else ex.expert_A[:, e * 3:(e + 1) * 3]
            g = 1.0 if e == 4 else gates[t, e]
            expected[t] += g * 2.0 * (x[t] @ a) @ ex.expert_B[e * 3:(e + 1) * 3]
    torch.testing.assert_close(ex(x, gates), expected)


def test_wide_shared_expert_equals_its_formula():
    """shared_r = 2r: the always-on expert is one rank-2r LoRA (gate 1) beside the routed ones."""
    from therapeutic_moe.moe import StackedLoRAExperts

    torch.manual_seed(0)
    ex = StackedLoRAExperts(5, 7, 4, 2, 4, shared_expert=True, shared_r=4).double()
    assert tuple(ex.expert_A.shape) == (5, 12) and tuple(ex.expert_B.shape) == (12, 7)
    torch.nn.init.normal_(ex.expert_B)
    x = torch.randn(9, 5, dtype=torch.float64)
    gates = torch.rand(9, 4, dtype=torch.float64)
    A, B = ex.expert_A, ex.expert_B
    routed = sum(gates[:, e:e + 1] * (x @ A[:, 2 * e:2 * e + 2]) @ B[2 * e:2 * e + 2] for e in range(4))
    shared = (x @ A[:, 8:]) @ B[8:]
    torch.testing.assert_close(ex(x, gates), 2.0 * (routed + shared))


@pytest.mark.parametrize("bad", [dict(shared_expert_r=3), dict(shared_expert_r=4, shared_expert=False),
                                 dict(shared_expert_r=4, expert_structure="shared_a"), dict(shared_expert_r=-2)])
def test_shared_expert_rank_is_checked(bad):
    with pytest.raises(ValueError, match="shared_expert_r"):
        MoEConfig(expert_domains=list("abcd"), expert_r=2, **{"shared_expert": True, **bad})


def test_wide_shared_expert_saves_and_loads_identical_logits(tmp_path):
    cfg = tiny_cfg(shared_expert=True, shared_expert_r=4, expert_r=2)
    model = wrap_model(tiny_llama(seed=0), cfg, str(tmp_path / "base"))
    with torch.no_grad():
        for layer in model.moe_layers:
            for ex in layer.experts.values():
                assert ex.shared_blocks == 2 and ex.blocks == 6
                ex.expert_B.normal_()
    model.eval()
    save_trained(model, make_tiny_tokenizer(), tmp_path / "export")
    loaded, _ = load_trained_onto(tiny_llama(seed=0), make_tiny_tokenizer(), tmp_path / "export")
    assert loaded.moe_config.shared_expert_r == 4
    ids = batch(9)["input_ids"]
    with torch.no_grad():
        assert torch.equal(loaded(input_ids=ids).logits, model(input_ids=ids).logits)


def test_fused_operator_runs_the_reference_for_variants():
    from therapeutic_moe.kernels import patch_moe_layers

    model = wrap_model(tiny_llama(seed=0), tiny_cfg(expert_init="compensated", shared_expert=True), "tiny")
    ids = batch()["input_ids"]
    with torch.no_grad():
        before = model(input_ids=ids).logits
        patch_moe_layers(model.moe_layers)
        assert torch.equal(model(input_ids=ids).logits, before)


def test_normalized_mutual_information_bounds():
    assert normalized_mutual_information(torch.eye(4) * 10) == pytest.approx(1.0)
    assert normalized_mutual_information(torch.ones(4, 4)) == pytest.approx(0.0, abs=1e-12)
    assert 0 < normalized_mutual_information(torch.tensor([[3.0, 1.0], [1.0, 3.0]])) < 1


def test_routing_stats_report_nmi_per_layer_from_labelled_tokens():
    model = wrap_model(tiny_llama(seed=0), tiny_cfg(), "tiny")
    stats = RoutingStats(2, 4)
    model.context.stats = stats
    with torch.no_grad():
        model.forward_loss(batch())
    summary = stats.summary()
    assert len(summary["routing_nmi_per_layer"]) == 2 and 0 <= summary["routing_nmi"] <= 1
    assert float(stats.domain_assignments.sum()) == 2 * 2 * 16 * 2  # layers x (B x T tokens x k)


def test_training_with_recipes_resumes_exactly_and_moves_the_bias(tmp_path, monkeypatch):
    """The real loop: aux-free bias, dense and balance warm-ups and the compensated init, resumed
    from a mid-run checkpoint, give the uninterrupted run's losses and MoE tensors."""
    from runtime_helpers import run_config
    from therapeutic_moe.training.loop import train

    monkeypatch.chdir(tmp_path)
    recipe = dict(expert_init="compensated", balancing="aux_free", aux_free_bias_rate=0.01, dense_routing_steps=2,
                  load_balancing_warmup_steps=3, max_steps=6, save_steps=3, save_total_limit=100, eval_steps=100)
    straight, resumed = tmp_path / "a", tmp_path / "b"
    assert train(run_config(tmp_path, output_dir=str(straight), **recipe)) == 0
    assert train(run_config(tmp_path, output_dir=str(resumed), resume_from_checkpoint=str(straight / "checkpoint-3"),
                            **recipe)) == 0
    import json

    def losses(out):
        hist = json.loads((out / "training_report.json").read_text())["history"]
        return [row["train/loss"] for row in hist if "train/loss" in row and row["step"] > 3]

    assert losses(straight) == losses(resumed) and losses(straight)
    ma = torch.load(straight / "moe_layers.pt", weights_only=True)
    mb = torch.load(resumed / "moe_layers.pt", weights_only=True)
    assert set(ma) == set(mb) and all(torch.equal(ma[k], mb[k]) for k in ma)
    assert float(ma["layers.0.router.routing_steps"]) == 6
    assert float(ma["layers.0.router.selection_bias"].abs().sum()) > 0


@pytest.mark.parametrize("key, value", [("aux_free_bias_rate", 0.01), ("expert_init_std", 0.05)])
def test_a_recipe_setting_without_its_mode_is_named_as_ignored(key, value):
    from therapeutic_moe.config import TrainConfig

    with pytest.warns(Warning, match=f"{key}: is ignored"):
        TrainConfig(**{key: value})
