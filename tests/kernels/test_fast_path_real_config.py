"""The fast CUDA paths in the trainer's real configuration against the fp32 reference.

What the trainer runs on a GPU: bf16 base weights, fp32 adapters under bf16 autocast, every
fast kernel ``apply_fast_kernels`` applies (fused MoE MLP, lean LoRA, Liger when installed,
varlen attention over packed rows), on packed rows that carry padding, with LoRA and expert
dropout on, the domain-routing loss and the routing statistics on. The reference is the same
weights in fp32 with none of the fast paths (sdpa, transformers' packed-sequence mask).

Dropout draws its masks from a per-call counter (``SameMasks``) instead of the CUDA RNG, so both
runs drop the same elements whatever their dtypes: the comparison is then about the arithmetic.
Runs only where CUDA is present.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from conftest import tiny_cfg, tiny_llama
from therapeutic_moe.data.collate import collate
from therapeutic_moe.data.types import Example
from therapeutic_moe.kernels import apply_fast_kernels
from therapeutic_moe.modeling import wrap_model
from therapeutic_moe.moe.stats import RoutingStats

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (the fast paths run there)")

DROPOUT = 0.1
MIN_COSINE, MAX_NORM_GAP = 0.98, 0.08  # per-parameter gradient agreement, bf16 fast path vs fp32


def _agreement(got: torch.Tensor, ref: torch.Tensor) -> tuple[float, float]:
    cosine = torch.nn.functional.cosine_similarity(got.flatten(), ref.flatten(), dim=0)
    return float(cosine), float(got.norm() / ref.norm())


class SameMasks(nn.Module):
    """Inverted dropout whose k-th call in a forward uses mask k (seeded on the CPU)."""

    def __init__(self, p: float, counter: list):
        super().__init__()
        self.p, self.counter = p, counter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gen = torch.Generator().manual_seed(1000 + self.counter[0])
        self.counter[0] += 1
        keep = (torch.rand(x.shape, generator=gen) >= self.p).to(x.device)
        return x * keep.to(x.dtype) / (1 - self.p)


def _same_mask_dropout(model: nn.Module, counter: list) -> int:
    replaced = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Dropout) and child.p > 0:
                setattr(module, name, SameMasks(child.p, counter))
                replaced += 1
    return replaced


def _models():
    cfg = tiny_cfg(lora_dropout=DROPOUT, expert_dropout=DROPOUT, domain_routing_weight=0.5, lora_r=8,
                   lora_alpha=16, lora_target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
    model = wrap_model(tiny_llama(seed=0, layers=2, hidden=64, inter=128, vocab=128), cfg, "tiny")
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():  # every adapter non-zero, so every gradient path carries signal
        for p in model.parameters():
            if p.requires_grad:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
        for p in model.parameters():
            if not p.requires_grad:  # bf16-representable base weights: the reference's are then exact
                p.copy_(p.to(torch.bfloat16).float())
    reference = copy.deepcopy(model).cuda()
    fast = model.cuda()
    for p in fast.parameters():
        if not p.requires_grad:
            p.data = p.data.to(torch.bfloat16)  # the trainer's base dtype on CUDA
    return reference, fast


def _packed_batch():
    gen = torch.Generator().manual_seed(7)
    examples = []
    for i, n in enumerate([37, 90, 12, 64, 51, 23, 80, 5, 44]):
        ids = torch.randint(0, 128, (n,), generator=gen).tolist()
        labels = [t if j > n // 3 else -100 for j, t in enumerate(ids)]  # a prompt part without targets
        examples.append(Example(input_ids=ids, labels=labels, domain=i % 4 if i != 3 else -1))
    rows = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]  # 139, 138, 129 tokens: padding at every row's end
    batch = collate([[examples[i] for i in row] for row in rows], pad_token_id=0, packing=True, pad_to_multiple_of=64)
    assert batch["input_ids"].shape == (3, 192) and (batch["sample_ids"] < 0).sum() > 0
    return {k: v.cuda() for k, v in batch.items()}


def _run(model, batch, counter, autocast: bool):
    counter[0] = 0
    model.context.stats = RoutingStats(len(model.moe_layers), model.moe_config.num_experts)
    model.context.compute_domain_loss = True
    model.zero_grad(set_to_none=True)
    trained = int((batch["labels"] != -100).sum())
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
        out = model.forward_loss(batch, lm_denominator=trained)
    out["loss"].backward()
    grads = {n: p.grad.detach().float().clone() for n, p in model.named_parameters() if p.requires_grad}
    return out, grads, model.context.stats


def test_fast_paths_in_the_trainers_configuration_match_the_fp32_reference():
    reference, fast = _models()
    ref_counter, fast_counter = [0], [0]
    assert _same_mask_dropout(reference, ref_counter) == _same_mask_dropout(fast, fast_counter) > 0
    batch = _packed_batch()
    # The reference runs first: some fast paths patch module-level functions of the model family.
    ref_out, ref_grads, _ = _run(reference, batch, ref_counter, autocast=False)
    applied = apply_fast_kernels(fast)
    assert "fused_moe_mlp" in applied and "lean_lora_forward" in applied, applied
    fast_out, fast_grads, fast_stats = _run(fast, batch, fast_counter, autocast=True)
    assert ref_counter[0] == fast_counter[0] > 0  # the same dropout calls, in the same order

    for key in ("loss", "lm_loss", "load_balancing_loss", "router_z_loss", "domain_routing_loss"):
        if key in ref_out:
            torch.testing.assert_close(fast_out[key].float(), ref_out[key].float(), rtol=2e-2, atol=2e-3,
                                       msg=lambda m, key=key: f"{key}: {m}")
    assert float(ref_out["domain_routing_loss"]) > 0
    assert set(fast_grads) == set(ref_grads)
    for name, ref in ref_grads.items():
        assert ref.abs().sum() > 0, f"{name}: no gradient in the reference"
        cosine, ratio = _agreement(fast_grads[name], ref)
        # bf16 rounding flips a few near-tied top-2 choices, which moves single experts' gradients
        assert cosine > MIN_COSINE and abs(ratio - 1) < MAX_NORM_GAP, f"{name}: cosine {cosine:.4f}, norm ratio {ratio:.4f}"
    real_tokens = int((batch["sample_ids"] >= 0).sum())
    # top-2: two choices per real token and layer; padding is never counted
    assert int(fast_stats.assign_counts.sum()) == 2 * real_tokens * len(fast.moe_layers)
    assert fast_stats.tokens.tolist() == [real_tokens] * len(fast.moe_layers)


def test_the_gradient_comparison_notices_other_dropout_masks():
    """The tolerance above is not loose enough to pass a path that drops other elements."""
    reference, _ = _models()
    counter = [0]
    _same_mask_dropout(reference, counter)
    batch = _packed_batch()
    _, grads, _ = _run(reference, batch, counter, autocast=False)
    shifted = SameMasks.forward

    def other_masks(self, x):
        self.counter[0] += 7  # every call draws a different mask than the reference's
        return shifted(self, x)

    SameMasks.forward = other_masks
    try:
        _, other, _ = _run(reference, batch, counter, autocast=False)
    finally:
        SameMasks.forward = shifted
    worst = min(_agreement(other[n], grads[n])[0] for n in grads)
    assert worst < MIN_COSINE
