"""The baseline a careful user runs: HF Trainer + PEFT LoRA + Liger kernels on packed rows.

    python scripts/hf_baseline_train.py --model MODEL_DIR --dataset TRAIN --rows-per-step 16 \
        --max-steps 40 --out baseline.json

Trains on exactly the training windows ``therapeutic-moe train`` builds from the same data
(the project's data pipeline renders and labels them), packed first-fit into rows of
``--max-seq-length`` tokens, ``--rows-per-step`` rows per optimizer step. Position ids restart
at every window and no attention mask is passed, so transformers masks attention per window
(its packed-sequence detection); with sdpa that is a dense mask, since the flash-attn package
is not installed on the GPU image (padding-free flattening into one row needs it). LoRA r=16,
alpha 32 on all linear layers (the all-linear arm's settings), bf16, fused AdamW, Liger's
kernels when installed (``use_liger_kernel``). Writes non-padding tokens/s after the warm-up
steps and the peak GPU memory. Not a test: it needs a GPU for meaningful numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

WARMUP_STEPS = 5  # compile/autotune and allocator warm-up; excluded from the rate


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="Base model folder.")
    p.add_argument("--dataset", required=True, help="Training data, as for `therapeutic-moe train --dataset`.")
    p.add_argument("--rows-per-step", type=int, required=True, help="Packed rows per optimizer step (the trainer's micro-batch).")
    p.add_argument("--max-seq-length", type=int, default=2048, help="Window length of the data pipeline.")
    p.add_argument("--max-steps", type=int, default=40, help="Optimizer steps to run.")
    p.add_argument("--gradient-checkpointing", action="store_true", help="Recompute activations (large shapes).")
    p.add_argument("--no-liger", action="store_true", help="Leave Liger's kernels out.")
    p.add_argument("--attn", default="sdpa", help="attn_implementation for the base model.")
    p.add_argument("--out", type=Path, required=True, help="JSON file for the result.")
    return p.parse_args(argv)


def training_windows(args) -> list:
    from therapeutic_moe.config import SafetyConfig, TrainConfig
    from therapeutic_moe.data.prepare import prepare_datasets
    from therapeutic_moe.modeling.base_model import load_tokenizer

    cfg = TrainConfig(base_model=args.model, dataset=args.dataset, max_seq_length=args.max_seq_length)
    return prepare_datasets(cfg, SafetyConfig(), load_tokenizer(args.model)).train


def packed_steps(windows: list, rows_per_step: int, max_seq_length: int, pad_id: int) -> list[dict]:
    """Steps of ``rows_per_step`` rows, each row windows packed first-fit up to ``max_seq_length``
    by the trainer's own planner and collator (position ids restart per window, so transformers
    masks attention per window; padding is its own segment with no targets)."""
    from therapeutic_moe.data.collate import collate
    from therapeutic_moe.data.packing import first_fit

    rows = first_fit(list(range(len(windows))), [len(w) for w in windows], max_seq_length)
    steps = []
    for s in range(0, len(rows) - rows_per_step + 1, rows_per_step):
        batch = collate([[windows[i] for i in row] for row in rows[s:s + rows_per_step]],
                        pad_token_id=pad_id, packing=True)
        steps.append({"input_ids": batch["input_ids"], "labels": batch["labels"],
                      "position_ids": batch["position_ids"], "real_tokens": int((batch["sample_ids"] >= 0).sum())})
    return steps


def step_collate(items: list[dict]) -> dict:
    assert len(items) == 1, "one prepared step per batch"
    return {k: v for k, v in items[0].items() if k != "real_tokens"}


class StepClock:
    """Wall time of each optimizer step (synchronised), for a rate after warm-up."""

    def __init__(self):
        from transformers import TrainerCallback

        clock = self

        class Callback(TrainerCallback):
            def on_step_begin(self, *a, **k):
                torch.cuda.synchronize()
                clock.t = time.perf_counter()

            def on_step_end(self, *a, **k):
                torch.cuda.synchronize()
                clock.times.append(time.perf_counter() - clock.t)

        self.times: list[float] = []
        self.callback = Callback()


def build_model(args):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.bfloat16, attn_implementation=args.attn)
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    return get_peft_model(model, lora)


def main(argv=None) -> None:
    args = parse_args(argv)
    from transformers import Trainer, TrainingArguments

    windows = training_windows(args)
    from therapeutic_moe.modeling.base_model import load_tokenizer

    steps = packed_steps(windows, args.rows_per_step, args.max_seq_length, load_tokenizer(args.model).pad_token_id)
    steps = (steps * (args.max_steps // max(len(steps), 1) + 1))[: args.max_steps]
    tokens = [s["real_tokens"] for s in steps]
    liger = not args.no_liger
    if liger:
        try:
            import liger_kernel  # noqa: F401
        except ImportError:
            liger = False
    model = build_model(args)
    clock = StepClock()
    targs = TrainingArguments(
        output_dir=str(args.out.parent / "hf_baseline_run"), per_device_train_batch_size=1, max_steps=args.max_steps,
        learning_rate=3e-4, lr_scheduler_type="cosine", warmup_steps=max(1, round(0.05 * args.max_steps)), bf16=True, optim="adamw_torch_fused",
        logging_steps=10, save_strategy="no", report_to="none", use_liger_kernel=liger,
        gradient_checkpointing=args.gradient_checkpointing, dataloader_pin_memory=True, remove_unused_columns=False,
        seed=42)
    torch.cuda.reset_peak_memory_stats()
    trainer = Trainer(model=model, args=targs, train_dataset=steps, data_collator=step_collate,
                      callbacks=[clock.callback])
    started = time.time()
    trainer.train()
    timed = clock.times[WARMUP_STEPS:]
    secs = sum(timed)
    result = {
        "baseline": "HF Trainer + PEFT LoRA (r16, all linear)" + (" + Liger" if liger else "") + " + packed rows (position ids)",
        "model": args.model, "attn_implementation": args.attn, "liger": liger,
        "gradient_checkpointing": args.gradient_checkpointing, "rows_per_step": args.rows_per_step,
        "steps": len(clock.times), "timed_steps": len(timed),
        "tokens_per_s": sum(tokens[WARMUP_STEPS:len(clock.times)]) / secs,
        "median_step_s": statistics.median(timed), "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30,
        "wall_s": time.time() - started, "device": torch.cuda.get_device_name(0),
        "versions": {m: __import__(m).__version__ for m in ("torch", "transformers", "peft")},
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
