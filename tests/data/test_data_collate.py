"""Collators: packed rows keep samples independent; padded rows mask padding."""

from __future__ import annotations

import pytest
import torch

from therapeutic_moe.data import Example, PackedCollator, PaddedCollator

IGNORE = -100


def _examples():
    g = torch.Generator().manual_seed(0)
    out = []
    for n, domain in ((7, 1), (12, -1), (5, 3)):
        ids = torch.randint(3, 120, (n,), generator=g).tolist()
        labels = [IGNORE] * 2 + ids[2:]
        out.append(Example(ids, labels, domain=domain, conv_id=f"c{n}"))
    return out


def test_packed_batch_layout():
    examples = _examples()
    batch = PackedCollator(max_tokens=32, pad_token_id=0)(examples)
    assert set(batch) == {"input_ids", "labels", "position_ids", "sample_ids", "sample_domains"}  # no attention_mask
    assert batch["input_ids"].shape == (1, 24)
    assert batch["position_ids"][0].tolist() == list(range(7)) + list(range(12)) + list(range(5))
    assert batch["sample_ids"][0].tolist() == [0] * 7 + [1] * 12 + [2] * 5
    assert batch["sample_domains"].tolist() == [1, -1, 3]
    starts = [0, 7, 19]
    assert all(batch["labels"][0, s] == IGNORE for s in starts)
    assert batch["input_ids"][0, 7:19].tolist() == examples[1].input_ids


def test_packed_rows_split_when_full_and_padding_is_its_own_block():
    batch = PackedCollator(max_tokens=16, pad_token_id=0, pad_to_multiple_of=8)(_examples())
    assert batch["input_ids"].shape == (2, 16)
    # row 0: 7 + 5 tokens (first fit) then 4 padding positions restarting at 0
    assert batch["sample_ids"][0].tolist() == [0] * 7 + [2] * 5 + [-1] * 4
    assert batch["position_ids"][0, 12:].tolist() == [0, 1, 2, 3]
    assert (batch["labels"][batch["sample_ids"] == -1] == IGNORE).all()
    assert batch["sample_ids"][1].tolist() == [1] * 12 + [-1] * 4


def test_packed_collator_refuses_an_example_longer_than_a_row():
    with pytest.raises(ValueError, match="> max_tokens=6"):
        PackedCollator(max_tokens=6)(_examples())


def test_padded_batch_layout():
    examples = _examples()
    batch = PaddedCollator(pad_token_id=0)(examples)
    assert batch["input_ids"].shape == (3, 12)
    assert batch["attention_mask"].sum(1).tolist() == [7, 12, 5]
    assert batch["sample_ids"][2].tolist() == [2] * 5 + [-1] * 7
    assert (batch["labels"][batch["attention_mask"] == 0] == IGNORE).all()
    assert batch["sample_domains"].tolist() == [1, -1, 3]


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_logits_equal_each_sample_alone(tiny_model_factory, attn):
    model = tiny_model_factory()
    model.set_attn_implementation(attn)
    model.eval()
    examples = _examples()
    batch = PackedCollator(max_tokens=32)(examples)
    with torch.no_grad():
        # use_cache=False matters: with a KV cache transformers skips packed-sequence detection.
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits[0]
        offset = 0
        for ex in examples:
            alone = model(input_ids=torch.tensor([ex.input_ids])).logits[0]
            torch.testing.assert_close(packed[offset:offset + len(ex)], alone, atol=1e-5, rtol=1e-5)
            offset += len(ex)
        # Control: the same row with plain positions lets samples see each other, and logits change.
        leaky = model(input_ids=batch["input_ids"], use_cache=False).logits[0]
        assert not torch.allclose(leaky[7:19], packed[7:19], atol=1e-4)


def test_packed_loss_equals_token_weighted_mean_of_separate_losses(tiny_model_factory):
    model = tiny_model_factory()
    model.eval()
    examples = _examples()
    batch = PackedCollator(max_tokens=32)(examples)
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], labels=batch["labels"],
                       use_cache=False).loss
        total, count = 0.0, 0
        for ex in examples:
            n = sum(1 for label in ex.labels[1:] if label != IGNORE)
            total += model(input_ids=torch.tensor([ex.input_ids]), labels=torch.tensor([ex.labels])).loss * n
            count += n
    torch.testing.assert_close(packed, total / count, atol=1e-5, rtol=1e-5)


def test_padded_logits_equal_unpadded(tiny_model_factory):
    model = tiny_model_factory()
    model.eval()
    examples = _examples()
    batch = PaddedCollator(pad_token_id=0)(examples)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        for row, ex in enumerate(examples):
            alone = model(input_ids=torch.tensor([ex.input_ids])).logits[0]
            torch.testing.assert_close(logits[row, :len(ex)], alone, atol=1e-5, rtol=1e-5)
