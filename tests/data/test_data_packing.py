"""Packing planner: every example once, no batch over budget, deterministic, efficient."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from therapeutic_moe.data import packing_efficiency, padding_efficiency, plan_packed_batches


@given(st.lists(st.integers(1, 64), max_size=200), st.integers(64, 200), st.integers(0, 5))
@settings(max_examples=60, deadline=None)
def test_plan_is_a_partition_within_budget(lengths, max_tokens, seed):
    batches = plan_packed_batches(lengths, max_tokens, seed)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in b) <= max_tokens for b in batches)
    assert batches == plan_packed_batches(lengths, max_tokens, seed)
    # first-fit decreasing never needs more than 11/9·OPT + 1 bins; OPT ≥ total / budget
    assert len(batches) <= 11 / 9 * (sum(lengths) / max_tokens + 1) + 1


def test_first_fit_decreasing_on_a_known_case():
    lengths = [5, 3, 2, 2, 8, 4, 4]
    batches = plan_packed_batches(lengths, 8, seed=0)
    assert sorted(sorted(lengths[i] for i in b) for b in batches) == [[2, 2], [3, 5], [4, 4], [8]]


def test_seed_changes_batch_order():
    lengths = list(range(1, 60))
    assert plan_packed_batches(lengths, 64, seed=1) != plan_packed_batches(lengths, 64, seed=2)


def test_too_long_example_is_refused():
    with pytest.raises(ValueError, match="longer than max_tokens=10"):
        plan_packed_batches([3, 11], 10)


def test_efficiencies():
    lengths = [10, 6, 4, 10]
    assert packing_efficiency(lengths, plan_packed_batches(lengths, 10), 10) == 1.0
    assert padding_efficiency([10, 2], batch_size=2) == 12 / 20
    assert padding_efficiency([10, 2], batch_size=1) == 1.0
    assert packing_efficiency([], [], 10) == 0.0
