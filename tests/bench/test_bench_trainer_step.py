"""The trainer-vs-bench step benchmark's counting parts (the benchmark itself is a command, not a test)."""

from __future__ import annotations

import pytest
import torch

from therapeutic_moe.bench.trainer_step import Clock, leaf_operators, main


def test_leaf_operators_count_compute_not_views():
    x = torch.randn(8, 8)

    def work():
        y = x.view(64).reshape(8, 8).t()  # views only: no kernel
        z = torch.relu(x @ y)  # two computing operators
        return z.sum()

    ops = leaf_operators(work)
    assert not any(name in ops for name in ("aten::view", "aten::reshape", "aten::t", "aten::as_strided"))
    assert ops.get("aten::mm") == 1  # matmul -> mm: counted once, at the leaf
    assert sum(ops.values()) == 3  # mm, relu (clamp_min), sum (its fill_ leaf on this tiny input)


def test_a_to_that_returns_its_input_is_not_counted_but_a_conversion_is():
    x = torch.randn(8, 8)
    assert leaf_operators(lambda: x.to(torch.float32)) == {}  # same dtype: no kernel
    assert leaf_operators(lambda: x.to(torch.float64)) == {"aten::copy_": 1}


def test_clock_times_forward_loss_and_backward_and_uninstalls():
    from therapeutic_moe.modeling.wrapper import TherapeuticMoEModel

    real = TherapeuticMoEModel.forward_loss, torch.Tensor.backward
    with Clock().installed() as clock:
        w = torch.randn(256, 256, requires_grad=True)
        (w @ w).sum().backward()
    assert clock.backward > 0 and clock.forward == 0
    assert (TherapeuticMoEModel.forward_loss, torch.Tensor.backward) == real


def test_help_describes_the_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--model" in out and "--logging-steps" in out
