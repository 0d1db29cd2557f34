"""The trainer's batch plans and collation: deterministic, and packing isolates samples exactly."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from conftest import tiny_cfg, tiny_llama
from therapeutic_moe.modeling import wrap_model
from therapeutic_moe.data.collate import collate
from therapeutic_moe.data.packing import packing_efficiency, plan_epoch


def example(seed, n, domain=-1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 99, (n,), generator=g).tolist()
    labels = [-100] * (n // 2) + ids[n // 2:]
    return SimpleNamespace(input_ids=ids, labels=labels, domain=domain, conv_id=f"c{seed}")


def test_plan_is_deterministic_per_epoch_and_covers_every_example():
    lengths = [5, 300, 120, 7, 900, 64, 33, 1000, 12]
    a = plan_epoch(lengths, seed=1, epoch=3, batch_size=2, max_seq_length=1024, packing=True)
    b = plan_epoch(lengths, seed=1, epoch=3, batch_size=2, max_seq_length=1024, packing=True)
    c = plan_epoch(lengths, seed=1, epoch=4, batch_size=2, max_seq_length=1024, packing=True)
    assert a == b and a != c
    flat = sorted(i for mb in a for row in mb for i in row)
    assert flat == list(range(len(lengths)))
    for mb in a:
        assert len(mb) <= 2
        for row in mb:
            assert sum(lengths[i] for i in row) <= 1024
    assert 0 < packing_efficiency(lengths, a, 1024) <= 1


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_loss_equals_separate_losses(attn):
    base = tiny_llama()
    base.config._attn_implementation = attn
    model = wrap_model(base, tiny_cfg(), "tiny").eval()
    exs = [example(1, 20, 0), example(2, 13, 2), example(3, 27, -1)]
    with torch.no_grad():
        packed = model.forward_loss(collate([exs], pad_token_id=0, packing=True))
        separate = [model.forward_loss(collate([[e]], pad_token_id=0, packing=False)) for e in exs]
    total = sum(o["lm_loss_sum"] for o in separate)
    assert packed["n_tokens"] == sum(o["n_tokens"] for o in separate)
    torch.testing.assert_close(packed["lm_loss_sum"], total, rtol=1e-5, atol=1e-5)


def test_collate_marks_samples_domains_and_padding():
    exs = [example(1, 4, 1), example(2, 3, -1)]
    b = collate([[exs[0]], [exs[1]]], pad_token_id=0, packing=False)
    assert b["sample_ids"].tolist() == [[0, 0, 0, 0], [1, 1, 1, -1]]
    assert b["sample_domains"].tolist() == [1, -1]
    assert b["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    p = collate([exs], pad_token_id=0, packing=True)
    assert p["position_ids"].tolist() == [[0, 1, 2, 3, 0, 1, 2]]
    assert p["labels"][0, 4].item() == -100  # the second sample's first token is no target
