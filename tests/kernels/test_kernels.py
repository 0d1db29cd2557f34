"""The fast paths must compute the same function as the plain model (CPU fallbacks exactly,
fused autograd functions to float64 gradcheck precision)."""

from __future__ import annotations

import copy
from types import MethodType

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import tiny_cfg, tiny_llama
from therapeutic_moe.kernels import (
    apply_fast_kernels,
    fused_cross_entropy,
    fused_linear_cross_entropy,
    patch_moe_layers,
    packed_varlen_attention,
    packing_segments,
    register_packed_attention,
)
from therapeutic_moe.kernels.fused_projections import DownLoRA, GateUp, GateUpLoRA, RouterLogits
from therapeutic_moe.kernels.lora_linear import patch_lora_linears
from therapeutic_moe.kernels.moe_mlp import fused_swiglu_forward, lean_routing
from therapeutic_moe.kernels.swiglu_packed import swiglu_packed
from therapeutic_moe.modeling import wrap_model
from therapeutic_moe.moe import MoEConfig, MoELoRAMLP, RoutingContext
from therapeutic_moe.moe.losses import load_balancing_loss, router_z_loss


def _randomize(params, seed=3, std=0.1):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in params:
            p.copy_(torch.randn(p.shape, generator=gen) * std)


# --- fused linear cross-entropy: the CPU fallback is plain cross-entropy ---------------------

@pytest.mark.parametrize("with_bias, reduction, ignored", [
    (False, "sum", 0), (False, "sum", 3), (True, "sum", 2), (False, "mean", 2), (True, "none", 0),
])
def test_fused_ce_fallback_equals_plain_ce_value_and_gradient(with_bias, reduction, ignored):
    torch.manual_seed(0)
    hidden = torch.randn(7, 5, requires_grad=True)
    weight = torch.randn(11, 5, requires_grad=True)
    bias = torch.randn(11, requires_grad=True) if with_bias else None
    targets = torch.randint(0, 11, (7,))
    targets[:ignored] = -100
    with fused_cross_entropy(True):  # switched on, but CPU: the plain path must run
        ours = fused_linear_cross_entropy(hidden, weight, targets, bias=bias, reduction=reduction)
    grads = torch.autograd.grad(ours.sum(), [hidden, weight])
    plain = F.cross_entropy(F.linear(hidden, weight, bias).float(), targets, reduction=reduction)
    plain_grads = torch.autograd.grad(plain.sum(), [hidden, weight])
    assert torch.equal(ours, plain)
    for a, b in zip(grads, plain_grads):
        assert torch.equal(a, b)


def test_forward_loss_is_bit_identical_with_the_fused_switch_on_cpu():
    model = wrap_model(tiny_llama(seed=0), tiny_cfg(), "tiny")
    ids = torch.randint(0, 128, (2, 12), generator=torch.Generator().manual_seed(1))
    batch = {"input_ids": ids, "labels": ids.clone()}
    plain = model.forward_loss(batch)["loss"]
    with fused_cross_entropy(True):
        switched = model.forward_loss(batch)["loss"]
    assert torch.equal(plain, switched)


def test_the_module_level_rope_patch_leaves_cpu_tensors_to_the_original_function():
    from therapeutic_moe.kernels.fast_kernels import _cuda_only_rope

    calls = []

    def original(q, k, cos, sin, *args, **kwargs):
        calls.append("original")
        return q, k

    def fused(*args, **kwargs):
        raise AssertionError("the Triton kernel must never see CPU tensors")

    rope = _cuda_only_rope(original, fused)
    q = torch.zeros(1, 2, 3, 4)
    assert rope(q, q, q, q) == (q, q) and calls == ["original"]
    assert rope._therapeutic_original is original


# --- the fused autograd functions --------------------------------------------------------------

def _double(*shape, grad=True, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, dtype=torch.float64, generator=gen).requires_grad_(grad)


def test_gate_up_lora_gradcheck_and_formula():
    n, d, k, inter = 5, 4, 6, 3
    x, a, b, scale = _double(n, d, seed=1), _double(d, k, seed=2), _double(k, 2 * inter, seed=3), _double(n, k, seed=4)
    wg, wu = _double(inter, d, grad=False, seed=5), _double(inter, d, grad=False, seed=6)
    assert torch.autograd.gradcheck(GateUpLoRA.apply, (x, a, b, scale, wg, wu))
    expected = x @ torch.cat([wg, wu]).t() + ((x @ a) * scale) @ b
    assert torch.allclose(GateUpLoRA.apply(x, a, b, scale, wg, wu), expected)


def test_down_lora_gradcheck_and_formula():
    n, inter, k, d = 5, 7, 4, 3
    act, a, b, scale = _double(n, inter, seed=1), _double(inter, k, seed=2), _double(k, d, seed=3), _double(n, k, seed=4)
    wd = _double(d, inter, grad=False, seed=5)
    assert torch.autograd.gradcheck(DownLoRA.apply, (act, a, b, scale, wd))
    assert torch.allclose(DownLoRA.apply(act, a, b, scale, wd), act @ wd.t() + ((act @ a) * scale) @ b)


def test_gate_up_gradcheck():
    x = _double(5, 4)
    wg, wu = _double(3, 4, grad=False, seed=1), _double(3, 4, grad=False, seed=2)
    assert torch.autograd.gradcheck(GateUp.apply, (x, wg, wu))


def test_router_logits_equal_the_fp32_linear_in_value_and_gradient():
    x = torch.randn(9, 6).to(torch.bfloat16).requires_grad_(True)
    w = torch.randn(4, 6, requires_grad=True)
    grad = torch.randn(9, 4)
    ours = RouterLogits.apply(x, w)
    ours_grads = torch.autograd.grad(ours, [x, w], grad)
    plain = F.linear(x.float(), w)
    plain_grads = torch.autograd.grad(plain, [x, w], grad)
    assert ours.dtype == torch.float32 and torch.equal(ours, plain)
    for a, b in zip(ours_grads, plain_grads):
        assert a.dtype == b.dtype and torch.allclose(a.float(), b.float(), rtol=1e-6, atol=1e-6)


def test_swiglu_packed_fallback_is_silu_times_up():
    y = torch.randn(6, 10)
    assert torch.equal(swiglu_packed(y), F.silu(y[:, :5]) * y[:, 5:])


# --- the fused MoE MLP against the layer's own forward -----------------------------------------

class SwiGLU(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.gate_proj, self.up_proj = nn.Linear(d, f, bias=False), nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)
        self.act_fn = nn.SiLU()


def _moe_layer(targets, dropout=0.0, seed=0):
    torch.manual_seed(seed)
    cfg = MoEConfig(expert_domains=["a", "b", "c", "d"], top_k=2, expert_r=3, expert_alpha=6,
                    target_modules=list(targets), expert_dropout=dropout)
    layer = MoELoRAMLP(SwiGLU(12, 20), 0, cfg, RoutingContext(num_layers=1, num_experts=4)).double()
    for p in layer.base_mlp.parameters():
        p.requires_grad_(False)
    _randomize([p for p in layer.parameters() if p.requires_grad], std=0.3)
    return layer


@pytest.mark.parametrize("targets", [
    ("gate_proj", "up_proj", "down_proj"),  # the fully fused path
    ("gate_proj", "down_proj"),  # per-projection addmm path
    ("up_proj",),
])
def test_fused_moe_forward_matches_layer_forward(targets):
    plain = _moe_layer(targets)
    fused = copy.deepcopy(plain)
    assert patch_moe_layers([fused]) == 1
    x = torch.randn(2, 9, 12, dtype=torch.float64)
    outs, grads = [], []
    for layer in (plain, fused):
        layer.context.begin()
        xi = x.clone().requires_grad_(True)
        out = layer(xi)
        routing = layer.context.aux[0]
        lb, z = load_balancing_loss(routing.probs, routing.topk_index, None), router_z_loss(routing.logits, None)
        (out.square().sum() + lb + z).backward()
        outs.append(out)
        grads.append([xi.grad] + [p.grad for p in layer.parameters() if p.requires_grad])
        layer.context.clear()
    assert torch.allclose(outs[0], outs[1], atol=1e-12)
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-10)


def test_lean_routing_equals_router_for_bf16_input():
    layer = _moe_layer(("gate_proj", "up_proj", "down_proj")).float()
    x = torch.randn(16, 12).to(torch.bfloat16)
    ours, theirs = lean_routing(layer.router, x), layer.router(x)
    for name in ("logits", "probs", "topk_index", "gates"):
        assert torch.equal(getattr(ours, name), getattr(theirs, name)), name


def test_fused_plain_mlp_matches_llama_mlp():
    model = tiny_llama(seed=0)
    mlp = model.model.layers[0].mlp
    x = torch.randn(2, 5, 32)
    expected = mlp(x)
    mlp.forward = MethodType(fused_swiglu_forward, mlp)
    assert torch.allclose(mlp(x), expected, atol=1e-6)


def test_lean_lora_forward_falls_back_without_autocast_and_matches_under_it():
    def run(patch: bool, autocast: bool):
        model = wrap_model(tiny_llama(seed=0), tiny_cfg(use_moe=False), "tiny")
        _randomize([p for p in model.parameters() if p.requires_grad])
        if patch:
            assert patch_lora_linears(model.base) == 8  # q/k/v/o in 2 layers
        ids = torch.arange(24).reshape(2, 12) % 128
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            return model.forward_loss({"input_ids": ids, "labels": ids.clone()})["loss"].float()

    assert torch.equal(run(False, False), run(True, False))
    assert torch.allclose(run(False, True), run(True, True), rtol=1e-2)


def test_apply_fast_kernels_changes_nothing_on_cpu():
    model = wrap_model(tiny_llama(seed=0), tiny_cfg(), "tiny")
    assert apply_fast_kernels(model) == []
    assert model.config._attn_implementation == "sdpa"
    patched = [m for m in model.modules() if "forward" in vars(m)]  # instance-bound forwards
    assert patched == []


# --- packed attention ----------------------------------------------------------------------------

@pytest.mark.parametrize("positions, mask, expected_cu, expected_max, expected_keep", [
    (None, None, [0, 4, 8], 4, None),  # one sample per row
    ([[0, 1, 0, 1], [0, 1, 2, 0]], None, [0, 2, 4, 7, 8], 3, None),  # packed rows
    (None, [[1, 1, 1, 0], [1, 1, 0, 0]], [0, 3, 5], 3, [0, 1, 2, 4, 5]),  # right padding
    ([[0, 1, 0, 1], [0, 1, 2, 3]], [[1, 1, 1, 1], [1, 1, 1, 0]], [0, 2, 4, 7], 3, [0, 1, 2, 3, 4, 5, 6]),
])
def test_packing_segments(positions, mask, expected_cu, expected_max, expected_keep):
    pos = None if positions is None else torch.tensor(positions)
    att = None if mask is None else torch.tensor(mask)
    cu, max_len, keep = packing_segments(pos, att, 2, 4, torch.device("cpu"))
    assert cu.tolist() == expected_cu and cu.dtype == torch.int32
    assert max_len == expected_max
    assert (keep is None and expected_keep is None) or keep.tolist() == expected_keep


def test_packed_attention_fallback_keeps_samples_apart():
    """A packed row through ``packed_varlen`` (CPU: the sdpa fallback with a block mask) gives
    each sample the logits it gets alone."""
    model = tiny_llama(seed=0)
    model.config._attn_implementation = register_packed_attention()
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randint(0, 128, (1, 5), generator=gen), torch.randint(0, 128, (1, 7), generator=gen)
    packed = torch.cat([a, b], dim=1)
    position_ids = torch.cat([torch.arange(5), torch.arange(7)]).unsqueeze(0)
    with torch.no_grad():
        together = model(input_ids=packed, position_ids=position_ids).logits
        alone = [model(input_ids=s).logits for s in (a, b)]
    assert torch.allclose(together[:, :5], alone[0], atol=1e-5)
    assert torch.allclose(together[:, 5:], alone[1], atol=1e-5)


def test_packed_attention_function_output_layout():
    module = nn.Module()
    module.num_key_value_groups, module.is_causal, module.training = 2, True, False
    q, k, v = torch.randn(2, 4, 6, 8), torch.randn(2, 2, 6, 8), torch.randn(2, 2, 6, 8)
    out, weights = packed_varlen_attention(module, q, k, v, None, scaling=8 ** -0.5)
    reference = F.scaled_dot_product_attention(q, k.repeat_interleave(2, 1), v.repeat_interleave(2, 1), is_causal=True)
    assert weights is None and out.shape == (2, 6, 4, 8)
    assert torch.allclose(out, reference.transpose(1, 2), atol=1e-6)


def test_patching_keeps_every_parameter_in_its_own_storage():
    """``save_pretrained`` refuses parameters that share memory; the fast paths must not create any."""
    from therapeutic_moe.kernels.moe_mlp import patch_moe_layers

    model = wrap_model(tiny_llama(seed=0), tiny_cfg(), "tiny")
    assert patch_moe_layers(model.moe_layers) == 2
    patch_lora_linears(model.base)
    pointers = [p.untyped_storage().data_ptr() for p in model.parameters()]  # tied embeddings appear once
    assert len(pointers) == len(set(pointers))


# --- the fused operator keeps the layer's rules ----------------------------------------------------

def _patched_model_with_active_experts():
    model = wrap_model(tiny_llama(seed=0), tiny_cfg(), "tiny")
    _randomize([p for layer in model.moe_layers for p in layer.experts.parameters()], std=0.3)
    assert patch_moe_layers(model.moe_layers) == 2
    assert all(layer.operator.name == "fused" for layer in model.moe_layers)
    return model


def test_base_only_mode_bypasses_the_experts_with_the_fast_path_applied():
    from therapeutic_moe.evaluation.base_only import base_model_only

    model = _patched_model_with_active_experts()
    base = tiny_llama(seed=0)
    ids = torch.randint(0, 128, (2, 10), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = base(input_ids=ids).logits
        with_experts = model(input_ids=ids).logits
        with base_model_only(model):
            bypassed = model(input_ids=ids).logits
    assert not torch.allclose(with_experts, expected, atol=1e-4)  # the experts do change the output
    assert torch.equal(bypassed, expected)


def test_fused_operator_layer_still_records_aux_losses_and_trace():
    model = _patched_model_with_active_experts()
    ids = torch.randint(0, 128, (1, 8), generator=torch.Generator().manual_seed(3))
    out = model.forward_loss({"input_ids": ids, "labels": ids.clone()})
    assert float(out["load_balancing_loss"]) > 0
    model.context.trace = []
    with torch.no_grad():
        model(input_ids=ids)
    assert [entry[0] for entry in model.context.trace] == [0, 1]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (the fused kernels run there)")
def test_fast_kernels_on_cuda_compute_the_reference_and_keep_base_only_mode():
    from therapeutic_moe.evaluation.base_only import base_model_only

    model = wrap_model(tiny_llama(seed=0), tiny_cfg(), "tiny").cuda()
    _randomize([p for layer in model.moe_layers for p in layer.experts.parameters()], std=0.3)
    ids = torch.randint(0, 128, (2, 16), generator=torch.Generator().manual_seed(4)).cuda()
    with torch.no_grad():
        reference = model(input_ids=ids).logits
        with base_model_only(model):
            base_reference = model(input_ids=ids).logits
    applied = apply_fast_kernels(model)
    assert "fused_moe_mlp" in applied and all(layer.operator.name == "fused" for layer in model.moe_layers)
    with torch.no_grad():
        fused = model(input_ids=ids).logits
        with base_model_only(model):
            bypassed = model(input_ids=ids).logits
    assert (reference - base_reference).abs().max() > 1e-2  # the experts matter here
    torch.testing.assert_close(fused, reference, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(bypassed, base_reference, rtol=1e-4, atol=1e-4)
    batch = {"input_ids": ids, "labels": ids.clone()}
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = model.forward_loss(batch)
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and float(out["load_balancing_loss"]) > 0
    assert model.moe_layers[0].router.weight.grad.abs().sum() > 0
