"""torch_compile: regional compile of the decoder blocks runs on CPU and gives the eager loss and gradients."""

from __future__ import annotations

import pytest
import torch

from conftest import tiny_cfg, tiny_llama
from therapeutic_moe.modeling.build import wrap_model
from therapeutic_moe.modeling.compile import compile_decoder_blocks, decoder_blocks, is_compiled


def tiny_model():
    torch.manual_seed(0)
    return wrap_model(tiny_llama(), tiny_cfg(), "tiny")


def packed_batch(width: int = 24) -> dict:
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 128, (2, width), generator=gen)
    half = width // 2
    sample_ids = torch.tensor([[0] * half + [1] * (width - half), [2] * width])
    positions = torch.cat([torch.arange(half), torch.arange(width - half)]).expand(2, -1).clone()
    positions[1] = torch.arange(width)
    return {"input_ids": ids, "labels": ids.clone(), "sample_ids": sample_ids, "position_ids": positions,
            "sample_domains": torch.tensor([0, 1, -1])}


def loss_and_grads(model, batch):
    model.zero_grad(set_to_none=True)
    out = model.forward_loss(batch)
    out["loss"].backward()
    grads = [p.grad.clone() for p in model.parameters() if p.requires_grad]
    return out, grads


def compare_with_eager(backend: str) -> None:
    model = tiny_model()
    batch = packed_batch()
    eager, eager_grads = loss_and_grads(model, batch)
    names_before = list(model.state_dict())
    assert compile_decoder_blocks(model, backend=backend) == len(decoder_blocks(model)) == 2
    assert all(is_compiled(block) for block in decoder_blocks(model))
    assert list(model.state_dict()) == names_before  # checkpoints and exports keep their keys
    compiled, grads = loss_and_grads(model, batch)
    torch.testing.assert_close(compiled["loss"], eager["loss"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(compiled["load_balancing_loss"], eager["load_balancing_loss"], rtol=1e-5, atol=1e-6)
    assert len(grads) == len(eager_grads) > 0
    for g, e in zip(grads, eager_grads):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-6)


def test_compiled_blocks_give_the_eager_loss_and_gradients():
    """Dynamo traces each block and AOT autograd builds its backward (no C++ code generation: fast)."""
    compare_with_eager("aot_eager")


@pytest.mark.slow
def test_inductor_compiled_blocks_give_the_eager_loss():
    """The backend the trainer uses (C++ code generation with gcc on CPU: about a minute on 2 cores)."""
    try:
        compare_with_eager("inductor")
    except torch._dynamo.exc.BackendCompilerFailed as exc:  # no usable C++ toolchain here
        pytest.skip(f"inductor cannot compile on this machine: {str(exc).splitlines()[0][:200]}")


def test_a_model_without_decoder_blocks_is_refused_clearly():
    with pytest.raises(ValueError, match="no `layers` list"):
        compile_decoder_blocks(torch.nn.Linear(2, 2))
