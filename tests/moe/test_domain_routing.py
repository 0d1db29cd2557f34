"""Supervised domain routing: class-balanced loss, per-layer accuracy and the all-layer vote."""

from __future__ import annotations

import math

import pytest
import torch

from therapeutic_moe.moe.losses import domain_class_weights, domain_routing_loss
from therapeutic_moe.moe.stats import RoutingStats


def test_class_weights_are_inverse_frequency_and_average_one_per_sample():
    domains = [0, 0, 0, 1, -1, None, 0]  # 4 x domain 0, 1 x domain 1, unlabelled ignored, domain 2 absent
    w = domain_class_weights(domains, 3)
    torch.testing.assert_close(w, torch.tensor([5 / 8, 5 / 2, 0.0]))
    labelled = [d for d in domains if d is not None and d >= 0]
    assert sum(float(w[d]) for d in labelled) / len(labelled) == pytest.approx(1.0)
    assert float(w[0] * 4) == pytest.approx(float(w[1] * 1))  # each present domain carries the same total


def test_weighted_domain_loss_by_hand():
    mean = torch.tensor([[0.6, 0.4], [0.1, 0.9], [0.5, 0.5]])
    labels = torch.tensor([0, 1, -1])
    plain = domain_routing_loss(mean, labels)
    assert plain.item() == pytest.approx((-math.log(0.6) - math.log(0.9)) / 2, rel=1e-6)
    weighted = domain_routing_loss(mean, labels, torch.tensor([3.0, 1.0]))
    assert weighted.item() == pytest.approx((-3 * math.log(0.6) - math.log(0.9)) / 4, rel=1e-6)
    # all weights equal: the same as unweighted
    assert domain_routing_loss(mean, labels, torch.tensor([2.0, 2.0])).item() == pytest.approx(plain.item())
    assert domain_routing_loss(mean, torch.tensor([-1, -1, -1]), torch.tensor([3.0, 1.0])).item() == 0.0


def test_class_balance_moves_the_gradient_toward_the_rare_domain():
    logits = torch.zeros(4, 2, requires_grad=True)
    labels = torch.tensor([0, 0, 0, 1])
    weights = domain_class_weights(labels.tolist(), 2)
    for w, name in ((None, "plain"), (weights, "balanced")):
        logits.grad = None
        domain_routing_loss(logits.softmax(-1), labels, w).backward()
        rare = logits.grad[3, 1].abs().item()
        common = logits.grad[0, 0].abs().item()
        if name == "plain":
            assert rare == pytest.approx(common)
        else:
            assert rare == pytest.approx(3 * common)


def test_stats_give_per_layer_accuracy_and_an_all_layer_vote():
    stats = RoutingStats(num_layers=2, num_experts=2)
    probs = torch.full((4, 2), 0.5)
    topk = torch.tensor([[0, 1]] * 4)
    domains = torch.tensor([0, 1])
    # layer 0: both samples lean to expert 0 (one right); layer 1: sample 1 strongly to expert 1
    layer0 = torch.tensor([[0.6, 0.4], [0.55, 0.45]])
    layer1 = torch.tensor([[0.4, 0.6], [0.1, 0.9]])
    stats.add(0, probs, topk, None, layer0, domains)
    stats.add(1, probs, topk, None, layer1, domains)
    s = stats.summary()
    assert s["domain_accuracy_per_layer"] == pytest.approx([0.5, 0.5])
    assert s["domain_accuracy"] == pytest.approx(0.5)
    # average over layers: sample 0 -> [0.5, 0.5] (argmax ties -> expert 0, right), sample 1 -> expert 1
    assert s["domain_vote_accuracy"] == pytest.approx(1.0)
    assert s["domain_vote_confusion"] == [[1.0, 0.0], [0.0, 1.0]]
    stats.reset()
    assert stats.summary() == {}
