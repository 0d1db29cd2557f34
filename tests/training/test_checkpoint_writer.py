"""The background checkpoint writer and the CPU snapshot it writes from (tiny model, CPU)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import torch

from conftest import tiny_cfg, tiny_llama
from therapeutic_moe.errors import UserError
from therapeutic_moe.modeling import wrap_model
from therapeutic_moe.training import checkpoint as ckpt
from therapeutic_moe.training.checkpoint_writer import THREAD_NAME, CheckpointWriteFailed, CheckpointWriter


def test_a_write_runs_on_the_writer_thread_and_submit_does_not_wait_for_it():
    writer, seen, release = CheckpointWriter(background=True), [], threading.Event()
    writer.submit(lambda: (release.wait(5), seen.append(threading.current_thread().name)), what="checkpoint-1")
    assert seen == []  # submit returned while the write is still blocked
    release.set()
    writer.close()
    assert seen and seen[0].startswith(THREAD_NAME)


def test_at_most_one_write_in_flight():
    writer, log = CheckpointWriter(background=True), []

    def job(name):
        def write():
            log.append(f"{name} start")
            time.sleep(0.1)
            log.append(f"{name} end")
        return write

    writer.submit(job("a"), what="a")
    writer.submit(job("b"), what="b")  # waits for "a" first
    writer.close()
    assert log == ["a start", "a end", "b start", "b end"]


def test_an_error_in_the_writer_surfaces_at_the_next_save_with_a_clear_message():
    writer, ran = CheckpointWriter(background=True), []

    def fails():
        raise RuntimeError("disk controller on fire")

    writer.submit(fails, what="out/checkpoint-2")
    with pytest.raises(CheckpointWriteFailed, match=r"out/checkpoint-2 .*RuntimeError: disk controller on fire.*"
                                                    r"--resume_from_checkpoint latest"):
        writer.submit(lambda: ran.append(1), what="out/checkpoint-3")
    assert ran == []  # the next checkpoint is not written after a failed one
    writer.close()  # raised once: not again


def test_an_error_in_the_writer_surfaces_at_the_end():
    writer = CheckpointWriter(background=True)
    writer.submit(lambda: (_ for _ in ()).throw(UserError("could not write checkpoint-2 (No space left)")),
                  what="checkpoint-2")
    with pytest.raises(UserError, match="No space left") as caught:  # a UserError stays one clear line
        writer.close()
    assert not isinstance(caught.value, CheckpointWriteFailed)


def test_without_background_the_write_happens_inside_submit():
    writer, seen = CheckpointWriter(background=False), []
    writer.submit(lambda: seen.append(threading.current_thread() is threading.main_thread()), what="c")
    assert seen == [True] and not writer.background


@pytest.fixture
def trained():
    """A tiny model and AdamW with state after two steps (moments in the optimizer state)."""
    model = wrap_model(tiny_llama(seed=1), tiny_cfg(), "tiny")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    for _ in range(2):
        sum((p * p).sum() for p in params).backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    return model, optimizer, scheduler, params


def contents_of(model, optimizer, scheduler, step: int, best=None):
    state = ckpt.TrainState(global_step=step, best_step=1 if best is not None else None)
    return ckpt.snapshot(model, optimizer, scheduler, state, {"train": {}}, [ckpt.rng_state()], best_tensors=best)


def tensors_of(directory: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    out = {f"a/{k}": v for k, v in load_file(str(directory / "adapter_model.safetensors")).items()}
    return out | {f"m/{k}": v for k, v in torch.load(directory / "moe_layers.pt", weights_only=True).items()}


def test_the_snapshot_is_what_gets_written_even_if_training_goes_on(trained, tmp_path):
    """Writing from the snapshot after the live tensors moved gives the files a save at the
    snapshot's moment gives (the model files' own writer, on the unchanged model)."""
    from therapeutic_moe.modeling.saving import save_model_files

    model, optimizer, scheduler, params = trained
    reference = tmp_path / "reference"
    reference.mkdir()
    save_model_files(model, reference)
    moments = {k: v.clone() for k, v in optimizer.state[params[0]].items()}
    contents = contents_of(model, optimizer, scheduler, step=2)
    with torch.no_grad():  # training goes on: weights, moments and buffers all change in place
        for p in params:
            p.add_(1.0)
        for state in optimizer.state.values():
            state["exp_avg"].mul_(3.0)
        for layer in model.moe_layers:
            for _, t in layer.saved_tensors():
                if t.is_floating_point():
                    t.add_(1)
    path = ckpt.save_training_checkpoint(tmp_path / "out", model, contents, save_total_limit=5)
    assert ckpt.verify_checkpoint(path) is None
    written, expected = tensors_of(path), tensors_of(reference)
    assert written.keys() == expected.keys() and all(torch.equal(written[k], expected[k]) for k in written)
    saved = torch.load(path / "optimizer.pt", weights_only=True)["state"][0]
    assert all(torch.equal(saved[k], moments[k]) for k in moments)


def test_the_best_weights_go_into_best_and_resume_finds_them(trained, tmp_path):
    from therapeutic_moe.training.snapshot import model_tensors

    model, optimizer, scheduler, params = trained
    best = model_tensors(model)
    with torch.no_grad():
        for p in params:
            p.add_(1.0)
    with_best = ckpt.save_training_checkpoint(tmp_path / "out", model, contents_of(model, optimizer, scheduler, 3, best),
                                              save_total_limit=5)
    assert ckpt.verify_checkpoint(with_best) is None  # best/ is in the manifest like every other file
    assert ckpt.best_model_dir(with_best) == with_best / ckpt.BEST_DIR
    assert not all(torch.equal(a, b) for a, b in zip(tensors_of(with_best).values(),
                                                      tensors_of(with_best / ckpt.BEST_DIR).values()))
    ckpt.load_weights(with_best / ckpt.BEST_DIR, model)
    restored = model_tensors(model)
    assert all(torch.equal(restored[k], best[k]) for k in best)
    # best at the checkpoint's own step: the checkpoint itself, no best/ folder
    own = ckpt.save_training_checkpoint(tmp_path / "out2", model, contents_of(model, optimizer, scheduler, 1, best),
                                        save_total_limit=5)
    assert ckpt.best_model_dir(own) == own and not (own / ckpt.BEST_DIR).exists()


def test_a_snapshot_missing_a_tensor_is_refused_not_mixed_with_live_values(trained):
    from therapeutic_moe.training.snapshot import as_full, model_tensors

    model = trained[0]
    tensors = model_tensors(model)
    tensors.pop(next(name for name in tensors if "router" in name))
    with pytest.raises(RuntimeError, match="lacks 1 tensors"):
        as_full(model, tensors)


def test_a_failed_background_write_stops_the_run_at_the_next_save(tmp_path, monkeypatch):
    """The real loop: checkpoint-1's write fails on the writer thread; the run stops at the save
    point of step 2 naming it, before writing checkpoint-2 or exporting anything."""
    from runtime_helpers import run_config
    from therapeutic_moe.training.loop import train

    monkeypatch.chdir(tmp_path)
    original, threads = ckpt.save_checkpoint, []

    def fails_at_step_1(output_dir, model, contents):
        threads.append(threading.current_thread().name)
        if contents.step == 1:
            raise RuntimeError("simulated write failure")
        return original(output_dir, model, contents)

    monkeypatch.setattr(ckpt, "save_checkpoint", fails_at_step_1)
    with pytest.raises(CheckpointWriteFailed, match=r"checkpoint-1 in the background failed \(RuntimeError: "
                                                    "simulated write failure"):
        train(run_config(tmp_path, max_steps=3, save_steps=1, eval_steps=100))
    out = tmp_path / "out"
    assert threads == [threads[0]] and threads[0].startswith(THREAD_NAME)
    assert ckpt.list_checkpoints(out) == [] and not (out / "adapter_model.safetensors").exists()


@pytest.mark.parametrize("change", [{"expert_alpha": 16}, {"top_k": 1}, {"lora_alpha": 16}, {"expert_r": 2}])
def test_a_checkpoint_with_other_scales_or_top_k_is_refused_on_resume(tmp_path, change):
    """Scales and top_k change no tensor shape: without this check a resume would load the
    weights and go on training another model."""
    from therapeutic_moe.modeling.saving import save_model_files

    save_model_files(wrap_model(tiny_llama(seed=1), tiny_cfg(), "tiny"), tmp_path)
    ckpt.check_same_model(tmp_path, wrap_model(tiny_llama(seed=1), tiny_cfg(), "tiny"))  # same settings: fine
    name, value = next(iter(change.items()))
    with pytest.raises(UserError, match=rf"{name}: checkpoint \d+, now {value}.*run_config.json"):
        ckpt.check_same_model(tmp_path, wrap_model(tiny_llama(seed=1), tiny_cfg(**change), "tiny"))
