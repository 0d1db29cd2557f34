"""The trainer's own optimizer step against the bench's step, on identical batches.

    python -m therapeutic_moe.bench.trainer_step [--model default|tiny|both] [--steps N]

For each model (the default SmolLM2-135M and a tiny random Llama with the same tokenizer) and
each setup (``SETUPS``: attention LoRA, LoRA on all linear layers, attention LoRA + experts), a
real ``Trainer`` is set up exactly as ``fit()`` sets it up (on the
packaged sample data, one micro-batch per optimizer step), and then, on the same collated
micro-batches and the same model:

- trainer step: ``next_window`` → ``train_step`` → ``agree`` → ``apply_step`` (+ ``log_interval``
  on logging steps): the body of ``fit()``'s loop;
- bench step: ``bench.measure.Trainer.step`` (forward_loss, backward, clip, AdamW).

Printed per setup: operators per optimizer step (torch.profiler: leaf ``aten::`` operators that
compute, i.e. roughly the kernel launches on a GPU, views and allocations left out; for the
trainer averaged over a logging interval),
step time (median), and host time outside forward and backward (step minus the time in
``forward_loss`` and in ``backward``; it includes the optimizer). Not a test: timings depend on
the machine; run it on an idle one. ``--list-ops N`` also prints the N most frequent operators
of each setup's trainer step (where to look for the next saving).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import torch

LOGGING_STEPS = 5  # default interval: the trainer logs (and collects the routing statistics) every 5th step
ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]
ALL_LINEAR = ATTENTION + ["gate_proj", "up_proj", "down_proj"]
# name -> (use_moe, lora_target_modules). The experts' target is the all-linear LoRA: both adapt
# every projection of the decoder, so the ratio of the two is the price of the routing.
SETUPS = {"lora": (False, ATTENTION), "lora_all_linear": (False, ALL_LINEAR), "experts": (True, ATTENTION)}


def _timed(real, clock, attr: str):
    """``real`` that adds the seconds each call takes to ``clock.<attr>``."""

    def timed(*args, **kwargs):
        t = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            setattr(clock, attr, getattr(clock, attr) + time.perf_counter() - t)

    return timed


class Clock:
    """Seconds spent inside ``forward_loss`` and inside ``Tensor.backward`` while installed."""

    def __init__(self):
        self.forward = self.backward = 0.0

    @contextmanager
    def installed(self):
        from therapeutic_moe.modeling.wrapper import TherapeuticMoEModel

        real_forward, real_backward = TherapeuticMoEModel.forward_loss, torch.Tensor.backward
        TherapeuticMoEModel.forward_loss = _timed(real_forward, self, "forward")
        torch.Tensor.backward = _timed(real_backward, self, "backward")
        try:
            yield self
        finally:
            TherapeuticMoEModel.forward_loss, torch.Tensor.backward = real_forward, real_backward


def timed_steps(run, steps: int) -> dict:
    """Median seconds of ``run()`` over ``steps`` calls, and of the part outside forward and backward."""
    times, outside = [], []
    for _ in range(steps):
        with Clock().installed() as clock:
            t = time.perf_counter()
            run()
            took = time.perf_counter() - t
        times.append(took)
        outside.append(took - clock.forward - clock.backward)
    return {"step_s": statistics.median(times), "outside_s": statistics.median(outside)}


# Leaf operators that only make views, allocate or change metadata: no kernel on a GPU.
NO_KERNEL = frozenset(f"aten::{name}" for name in (
    "as_strided", "as_strided_", "view", "_unsafe_view", "reshape", "_reshape_alias", "expand", "t", "transpose",
    "permute", "unsqueeze", "squeeze", "select", "slice", "alias", "detach", "detach_", "empty", "empty_strided",
    "empty_like", "resize_", "resolve_conj", "resolve_neg", "lift_fresh", "unbind", "split", "split_with_sizes",
    "chunk", "narrow", "set_", "is_nonzero", "result_type", "_has_compatible_shallow_copy_type", "numpy_T",
    "unflatten", "flatten", "contiguous", "view_as", "expand_as", "diagonal", "_local_scalar_dense",
    # Leaves only when they return their input: a converting ``to`` calls ``_to_copy`` (and its
    # ``copy_`` counts), ``real`` of a real tensor is the tensor, ``promote_types`` reads dtypes.
    "to", "real", "promote_types"))


def leaf_operators(run) -> dict[str, int]:
    """Leaf ``aten::`` operators that compute (``NO_KERNEL`` left out), by name, while ``run()`` runs."""
    from collections import Counter

    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()

    def computes(event) -> bool:  # a computing operator here or below
        return (event.name.startswith("aten::") and event.name not in NO_KERNEL) or any(
            computes(c) for c in event.cpu_children)

    leaves = (e.name for e in prof.events() if e.name.startswith("aten::") and e.name not in NO_KERNEL
              and not any(computes(c) for c in e.cpu_children))
    return dict(Counter(leaves))


def leaf_operator_count(run) -> int:
    return sum(leaf_operators(run).values())


def write_tiny_base(directory: Path) -> Path:
    """A 2-layer random Llama (hidden 64) with the default model's tokenizer."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from therapeutic_moe.modeling.base_model import resolve_base_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model("smollm2-135m-instruct"))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def make_trainer(base_model: str, use_moe: bool, out_dir: Path, batch: int, seq: int, workers: int = 1,
                 logging_steps: int = LOGGING_STEPS, lora_targets: list[str] = ATTENTION):
    """A Trainer set up as ``fit()`` does, before its loop."""
    from therapeutic_moe.config import load_run_config
    from therapeutic_moe.training.distributed import init_distributed
    from therapeutic_moe.training.loop import Trainer

    values = dict(base_model=base_model, output_dir=str(out_dir), use_moe=use_moe, max_steps=1000,
                  per_device_train_batch_size=batch, gradient_accumulation_steps=1, max_seq_length=seq,
                  logging_steps=logging_steps, report_to="none", save_steps=0, checkpoint_minutes=10_000,
                  eval_steps=10_000, validation_split=0.0, dataloader_num_workers=workers, gradient_checkpointing=False,
                  time_limit_margin_minutes=0.0, lora_target_modules=list(lora_targets))
    run = load_run_config(None, None, None, {k: json.dumps(v) if not isinstance(v, str) else v
                                             for k, v in values.items()})
    trainer = Trainer(run, init_distributed())
    trainer.resume_from = None
    for setup in (trainer.setup_model, trainer.setup_data, trainer.setup_optimization, trainer.setup_state,
                  trainer.setup_logging):
        setup()
    trainer.model.train()
    return trainer


def trainer_step(trainer, stop) -> None:
    """The body of ``Trainer.fit()``'s loop, without evaluation and checkpoints (none are due here)."""
    window = trainer.next_window()
    while window is None:
        window = trainer.next_window()
    step = trainer.train_step(window)
    control = trainer.agree(step, stop)
    trainer.apply_step(step)
    if trainer.logging_due():
        trainer.log_interval()
    assert not (control.bad_loss or control.bad_grad)


def measure_trainer(trainer, steps: int) -> dict:
    from therapeutic_moe.training.signals import GracefulStop

    with GracefulStop() as stop:
        trainer_step(trainer, stop)  # warm-up
        interval = trainer.cfg.logging_steps
        while trainer.state.global_step % interval:  # start on an interval boundary
            trainer_step(trainer, stop)
        by_name = leaf_operators(lambda: [trainer_step(trainer, stop) for _ in range(interval)])
        timing = timed_steps(lambda: trainer_step(trainer, stop), steps)
    per_step = {name: count / interval for name, count in sorted(by_name.items(), key=lambda item: -item[1])}
    return {"ops": sum(per_step.values()), "ops_by_name": per_step} | timing


def measure_bench(trainer, steps: int) -> dict:
    """The bench's step on the trainer's model and the trainer's next micro-batches."""
    from therapeutic_moe.bench.measure import Trainer as BenchStep
    from therapeutic_moe.bench.variants import BenchModel

    model = trainer.model
    bench = BenchStep(BenchModel(model, trainer.params, lambda b: model.forward_loss(b)["loss"], False),
                      trainer.hw.device)
    state = trainer.state
    batches = trainer.batches.take(state.epoch, state.micro_batch, steps + 2)
    bench.step(batches[0])  # warm-up (optimizer state)
    ops = leaf_operator_count(lambda: bench.step(batches[1]))
    timed = iter(batches[2:])
    return {"ops": ops} | timed_steps(lambda: bench.step(next(timed)), len(batches) - 2)


def run_setup(base_model: str, setup: str, batch: int, seq: int, steps: int, workers: int,
              logging_steps: int) -> dict:
    use_moe, lora_targets = SETUPS[setup]
    with tempfile.TemporaryDirectory() as out:
        trainer = make_trainer(base_model, use_moe, Path(out), batch, seq, workers, logging_steps, lora_targets)
        row = {"trainer": measure_trainer(trainer, steps)}
        row["bench"] = measure_bench(trainer, steps)
        trainer.batches.close()
    return row


def describe(name: str, setup: str, row: dict) -> str:
    t, b = row["trainer"], row["bench"]
    return (f"{name:8s} {setup:15s} | ops/step trainer {t['ops']:7.0f} bench "
            f"{b['ops']:7.0f} ({t['ops'] / b['ops']:.3f}x) | step trainer {t['step_s'] * 1e3:8.1f} ms bench "
            f"{b['step_s'] * 1e3:8.1f} ms | outside fwd/bwd trainer {t['outside_s'] * 1e3:6.1f} ms "
            f"({t['outside_s'] / t['step_s']:.1%}) bench {b['outside_s'] * 1e3:6.1f} ms "
            f"({b['outside_s'] / b['step_s']:.1%})")


def print_top_operators(per_step: dict[str, float], count: int) -> None:
    for name, n in list(per_step.items())[:count]:
        print(f"    {n:8.1f}  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m therapeutic_moe.bench.trainer_step",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["default", "tiny", "both"], default="both",
                        help="which base model to measure (default: both)")
    parser.add_argument("--steps", type=int, default=5, help="timed optimizer steps per setup (default: 5)")
    parser.add_argument("--workers", type=int, default=1,
                        help="dataloader_num_workers of the trainer (default: 1, collation off the profiled "
                             "process as on a GPU machine; 0 counts collation in the trainer's step)")
    parser.add_argument("--logging-steps", type=int, default=LOGGING_STEPS,
                        help=f"the trainer's logging_steps; its operator count is averaged over one interval "
                             f"(default: {LOGGING_STEPS})")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    parser.add_argument("--date", default=time.strftime("%Y-%m-%d"), help="date recorded in the JSON (default: today)")
    parser.add_argument("--device", default=f"{os.cpu_count()}-core CPU",
                        help="machine recorded in the JSON (default: the CPU core count)")
    parser.add_argument("--list-ops", type=int, default=0, metavar="N",
                        help="also print the N most frequent operators per trainer step of each setup (default: 0)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        models = {"default": ("smollm2-135m-instruct", 1, 512), "tiny": (None, 4, 256)}
        for name in (["default", "tiny"] if args.model == "both" else [args.model]):
            base, batch, seq = models[name]
            base = base or str(write_tiny_base(Path(tmp) / "tiny"))
            for setup in SETUPS:
                row = run_setup(base, setup, batch, seq, args.steps, args.workers, args.logging_steps)
                results[f"{name}/{setup}"] = row | {"batch": batch, "seq": seq}
                print(describe(name, setup, row), flush=True)
                print_top_operators(row["trainer"]["ops_by_name"], args.list_ops)
    for name in sorted({k.split("/")[0] for k in results if "/" in k}):
        moe = results[f"{name}/experts"]["trainer"]
        for baseline in ("lora", "lora_all_linear"):
            lora = results[f"{name}/{baseline}"]["trainer"]
            print(f"{name}: trainer MoE step / {baseline} step: operators {moe['ops'] / lora['ops']:.3f}x, "
                  f"time {moe['step_s'] / lora['step_s']:.3f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({"date": args.date, "device": args.device} | results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
