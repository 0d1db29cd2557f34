"""NaN/inf at step k: the run halts before the optimizer step, no checkpoint holds a NaN, nothing is
exported, the command line exits 3 with one line, and the run can be resumed from step k-1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from therapeutic_moe.config import load_run_config
from therapeutic_moe.errors import TrainingHalted

from . import tally
from .checkpoint_audit import intact_steps
from .runs import BASE_CONFIG, SAFETY_CONFIG, report, resumed_step, train_argv, trained_tensors, write_config

HALT_STEP = 3
POISONED_FORWARD = 2 * (HALT_STEP - 1) + 1  # first micro-batch of step 3 (2 per step)


class NanGrad(torch.autograd.Function):
    """Identity forward (the loss stays finite), NaN gradients backward."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * float("nan")


def poison_loss(out):
    out["loss"] = out["loss"] * float("nan")
    out["lm_loss_sum"] = out["lm_loss_sum"] * float("nan")


def poison_grad(out):
    out["loss"] = NanGrad.apply(out["loss"])


def all_finite(checkpoint: Path) -> bool:
    tensors = list(trained_tensors(checkpoint).values())
    state = torch.load(checkpoint / "optimizer.pt", weights_only=True)["state"]
    tensors += [t for entry in state.values() for t in entry.values() if isinstance(t, torch.Tensor)]
    return all(torch.isfinite(t.float()).all() for t in tensors)


@pytest.mark.parametrize("kind, poison, message", [
    ("loss", poison_loss, "non-finite loss"),
    ("gradient", poison_grad, "non-finite gradient norm"),
])
def test_nan_halts_before_the_update(workspace, tmp_path, monkeypatch, kind, poison, message):
    import therapeutic_moe.training.loop as loop
    from peft import get_peft_model_state_dict

    from therapeutic_moe.modeling.wrapper import TherapeuticMoEModel

    built = {}
    original_build = loop.build_model

    def keep_model(*args, **kwargs):
        built["model"], tokenizer = original_build(*args, **kwargs)
        return built["model"], tokenizer

    original_forward = TherapeuticMoEModel.forward_loss
    calls = {"n": 0}

    def forward_loss(self, batch, **kwargs):
        out = original_forward(self, batch, **kwargs)
        if self.training:
            calls["n"] += 1
            if calls["n"] >= POISONED_FORWARD:
                poison(out)
        return out

    monkeypatch.setattr(loop, "build_model", keep_model)
    monkeypatch.setattr(TherapeuticMoEModel, "forward_loss", forward_loss)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    values = dict(BASE_CONFIG, base_model=str(workspace / "base"), dataset=str(workspace / "data.json"),
                  output_dir=str(out), max_steps=6) | SAFETY_CONFIG
    run = load_run_config(None, None, None, {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()})
    with pytest.raises(TrainingHalted, match=f"{message} at step {HALT_STEP}") as halted:
        loop.train(run)
    assert halted.value.exit_code == 3
    assert "halted before the optimizer step" in str(halted.value)
    assert intact_steps(out) == list(range(1, HALT_STEP))
    assert all(all_finite(out / f"checkpoint-{s}") for s in range(1, HALT_STEP))
    assert not (out / "adapter_model.safetensors").exists(), "a halted run must not export"
    # the weights in memory are still those of the last good step: the update was never applied
    model = built["model"]
    live = {f"adapter/{k}": v for k, v in get_peft_model_state_dict(model.peft_model).items()}
    live |= {f"moe/{k}": v for k, v in model.moe_state_dict().items()}
    saved = trained_tensors(out / f"checkpoint-{HALT_STEP - 1}")
    assert live.keys() == saved.keys()
    assert all(torch.equal(live[k].detach().cpu(), saved[k]) for k in saved)
    tally.add("NaN injections halted", 1)


@pytest.mark.parametrize("hook", ["nan_loss_at_forward", "nan_grad_at_forward"])
def test_nan_exit_code_3_from_the_command_line_then_resume(workspace, fork_pool, tmp_path, hook):
    config = write_config(workspace, tmp_path / "config.json", tmp_path / "out", max_steps=5)

    def run(server):
        halted = server.run(train_argv(config, workspace), tmp_path, tmp_path / "halted.log",
                            hooks={hook: POISONED_FORWARD})
        resumed = server.run(train_argv(config, workspace, "--resume_from_checkpoint", "latest"), tmp_path,
                             tmp_path / "resume.log")
        return halted, resumed

    halted, resumed = fork_pool(run)
    text = (tmp_path / "halted.log").read_text()
    assert halted == 3, text[-3000:]
    assert "Traceback" not in text
    [line] = [x for x in text.splitlines() if x.startswith("stopped:")]
    assert f"at step {HALT_STEP}" in line and "conversations" in line, line
    # the halted run left checkpoints 1..k-1; a resume (here without the fault) goes on from k-1
    assert resumed == 0, (tmp_path / "resume.log").read_text()[-3000:]
    assert resumed_step((tmp_path / "resume.log").read_text()) == HALT_STEP - 1
    assert report(tmp_path / "out")["global_step"] == 5
    tally.add("NaN injections halted", 1)
    tally.summary_line(f"nan-cli-{hook}", exit_code=halted, halted_at_step=HALT_STEP, resumed_from=HALT_STEP - 1)
