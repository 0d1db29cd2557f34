"""router_lr_multiplier: the routers get their own learning rate; resume refuses a mismatch clearly."""

from __future__ import annotations

import pytest
import torch

from runtime_helpers import run_config
from therapeutic_moe.errors import UserError
from therapeutic_moe.training.loop import train


def _router_weights(out) -> dict:
    moe = torch.load(out / "moe_layers.pt", weights_only=True)
    return {k: v for k, v in moe.items() if ".router." in k}


def test_a_larger_router_learning_rate_moves_routers_further_and_only_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    init = tmp_path / "init"
    # max_steps=1 with warmup 1: the first step has lr 0, so this is the initial state
    assert train(run_config(tmp_path, output_dir=str(init), max_steps=1, eval_steps=100)) == 0
    moved = {}
    for mult in (1.0, 10.0):
        out = tmp_path / f"m{mult}"
        assert train(run_config(tmp_path, output_dir=str(out), max_steps=4, eval_steps=100, learning_rate=1e-3,
                                router_lr_multiplier=mult)) == 0
        start, end = _router_weights(init), _router_weights(out)
        moved[mult] = sum(float((end[k] - start[k]).abs().sum()) for k in start)
    assert moved[10.0] > 3 * moved[1.0] > 0


def test_resume_with_another_router_lr_multiplier_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = tmp_path / "a"
    assert train(run_config(tmp_path, output_dir=str(first), max_steps=2, save_steps=2, eval_steps=100)) == 0
    with pytest.raises(UserError, match="router_lr_multiplier"):
        train(run_config(tmp_path, output_dir=str(tmp_path / "b"), max_steps=4, eval_steps=100,
                         router_lr_multiplier=5.0, resume_from_checkpoint=str(first / "checkpoint-2")))
