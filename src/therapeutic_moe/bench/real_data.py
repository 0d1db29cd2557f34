"""Second table: useful (trained, non-padding) tokens/s on real conversations.

The same examples (the data pipeline's windows of counselchat_train.json + annomi_high.json,
or whatever the directory holds) go through
- the user's usual setup: HF/TRL defaults, one example per row, dynamic padding to the
  longest in the batch, per_device_train_batch_size 8, shuffled order (plain and Liger);
- ours: padding-free packing into rows of max_seq_length, exactly as the trainer plans and
  collates them (``data.packing.plan_epoch`` + ``data.collate.collate``), 4 experts, fast
  kernels, varlen attention over the packed rows.
Both layouts come from the trainer's planner and collator, so the batches are the ones training makes.
Useful tokens are the trained targets (labels != -100 after the shift); every setup sees the
same examples, so the ratio of useful tokens/s is the end-to-end gain.
"""

from __future__ import annotations

import time
from pathlib import Path
from collections.abc import Callable
from types import SimpleNamespace

import torch

from therapeutic_moe.bench.measure import Trainer, free_memory
from therapeutic_moe.data.chat_render import IGNORE_INDEX
from therapeutic_moe.bench.options import BenchOptions
from therapeutic_moe.bench.shapes import SHAPES
from therapeutic_moe.bench.variants import build_ours, build_plain, liger_installed, restore_module_patches

USER_BATCH = 8  # TrainingArguments / TRL SFTConfig default per_device_train_batch_size
PACKED_ROWS = 32  # rows of max_seq_length per step for ours (64k tokens, as in the synthetic table)
WARMUP_STEPS = 2


def load_examples(directory: str, tokenizer, max_seq_length: int, seed: int):
    from therapeutic_moe.data.prepare import prepare_datasets

    # Measuring, not training: keep every window the pipeline can make (no drop limit).
    cfg = SimpleNamespace(dataset=directory, validation_split=0.0, topic_to_domain="counselchat",
                          max_seq_length=max_seq_length, seed=seed, max_drop_fraction=1.0)
    return prepare_datasets(cfg, SimpleNamespace(), tokenizer).train


def _useful(batch: dict) -> int:
    return int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())


def _real(batch: dict) -> int:
    if "attention_mask" in batch:
        return int(batch["attention_mask"].sum())
    return int((batch["sample_ids"] >= 0).sum())


def padded_batches(examples, pad_id: int, seed: int) -> list[dict]:
    """The user's usual setup: shuffled, one example per row, padded to the longest in the batch."""
    return _batches(examples, pad_id, seed, USER_BATCH, max_seq_length=0, packing=False)


def packed_batches(examples, max_tokens: int, pad_id: int, seed: int) -> list[dict]:
    """Ours: training's own plan (first fit into rows of ``max_tokens``) and collator."""
    return _batches(examples, pad_id, seed, PACKED_ROWS, max_seq_length=max_tokens, packing=True)


def _batches(examples, pad_id: int, seed: int, batch_size: int, *, max_seq_length: int, packing: bool) -> list[dict]:
    from therapeutic_moe.data.collate import collate
    from therapeutic_moe.data.packing import plan_epoch

    plan = plan_epoch([len(e) for e in examples], seed=seed, epoch=0, batch_size=batch_size,
                      max_seq_length=max_seq_length, packing=packing)
    return [collate([[examples[i] for i in row] for row in mb], pad_token_id=pad_id, packing=packing) for mb in plan]


def _warmup(batches: list) -> int:
    """Warm-up steps, fewer when the data is so small that nothing would be left to time."""
    return min(WARMUP_STEPS, len(batches) - 1) if batches else 0


def _take(batches: list[dict], useful_budget: int) -> list[dict]:
    """Leading batches holding about ``useful_budget`` trained tokens (after the warm-up ones)."""
    warm = _warmup(batches)
    taken, total = [], 0
    for batch in batches[warm:]:
        if total >= useful_budget:
            break
        taken.append(batch)
        total += _useful(batch)
    return batches[:warm] + taken


def _fit_vocab(batch: dict, vocab: int) -> dict:
    """Token ids folded into a smaller test vocabulary (only the tiny CPU shape needs it)."""
    out = dict(batch)
    out["input_ids"] = batch["input_ids"] % vocab
    out["labels"] = torch.where(batch["labels"] >= 0, batch["labels"] % vocab, batch["labels"])
    return out


def _time_batches(trainer: Trainer, batches: list[dict], device: torch.device, vocab: int) -> dict:
    on_device = [{k: v.to(device) for k, v in _fit_vocab(b, vocab).items()} for b in batches]
    warm = _warmup(batches)
    for batch in on_device[:warm]:
        trainer.step(batch)
    timed, batches = on_device[warm:], batches[warm:]
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for batch in timed:
        trainer.step(batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    useful = sum(_useful(b) for b in batches)
    real = sum(_real(b) for b in batches)
    slots = sum(b["input_ids"].numel() for b in batches)
    out = {"steps": len(timed), "seconds": seconds, "useful_tokens": useful, "real_tokens": real,
           "useful_tokens_per_s": useful / seconds, "tokens_per_s": real / seconds, "slot_efficiency": real / slots,
           "rows_x_len": f"{batches[0]['input_ids'].shape[0]}x{max(b['input_ids'].shape[1] for b in batches)}"}
    if device.type == "cuda":
        out["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return out


def run_real_data(opts: BenchOptions, device: torch.device, log: Callable = print) -> dict:
    from therapeutic_moe.kernels import apply_fast_kernels
    from therapeutic_moe.modeling.base_model import load_tokenizer, resolve_base_model

    try:
        source = opts.tokenizer if Path(opts.tokenizer).is_dir() else resolve_base_model(opts.tokenizer)
        tokenizer = load_tokenizer(source)
        examples = load_examples(opts.real_data, tokenizer, opts.seq, opts.seed)
    except Exception as exc:  # data pipeline or tokenizer unavailable: say why, keep the rest
        return {"skipped": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"}
    pad_id = tokenizer.pad_token_id
    padded = _take(padded_batches(examples, pad_id, opts.seed), opts.real_data_tokens)
    packed = _take(packed_batches(examples, opts.seq, pad_id, opts.seed), opts.real_data_tokens)
    result = {"description": f"{len(examples)} windows from {opts.real_data}, max_seq_length {opts.seq}",
              "examples": len(examples), "example_tokens": sum(len(e) for e in examples),
              "trained_tokens": sum(e.num_trained for e in examples), "rows": [], "speedups": {}}
    cuda = device.type == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    for name in [s.strip() for s in opts.real_data_shapes.split(",") if s.strip()]:
        shape = SHAPES[name]
        setups = [("plain", f"plain, padded, batch {USER_BATCH}", padded), ("liger", f"liger, padded, batch {USER_BATCH}", padded),
                  ("ours_e4", f"ours_e4, packed {PACKED_ROWS}x{opts.seq}", packed)]
        for variant, label, batches in setups:
            row = {"shape": name, "setup": label, "batching": "padded" if variant != "ours_e4" else "packed"}
            bm = trainer = None
            with restore_module_patches():
                try:
                    if variant == "liger" and not liger_installed():
                        row["error"] = "liger-kernel is not installed"
                    else:
                        ckpt = cuda and shape.baseline_checkpointing
                        if variant == "ours_e4":
                            bm = build_ours(shape, device, dtype, opts.seq, num_experts=4, checkpointing=ckpt)
                            bm.kernels = apply_fast_kernels(bm.module)
                        else:
                            bm = build_plain(shape, device, dtype, opts.seq, liger=variant == "liger", checkpointing=ckpt)
                        trainer = Trainer(bm, device)
                        row.update(_time_batches(trainer, batches, device, shape.vocab))
                except Exception as exc:
                    row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
                finally:
                    bm = trainer = None
                    free_memory()
            result["rows"].append(row)
            log(f"real data {name}: {label}: " + (row["error"] if "error" in row else
                f"{row['useful_tokens_per_s']:,.0f} useful tok/s (slot efficiency {row['slot_efficiency']:.0%})"))
        done = {r["setup"].split(",")[0]: r for r in result["rows"] if r["shape"] == name and "error" not in r}
        baselines = [done[v]["useful_tokens_per_s"] for v in ("plain", "liger") if v in done]
        if "ours_e4" in done and baselines:
            result["speedups"][f"{name} vs best padded baseline"] = done["ours_e4"]["useful_tokens_per_s"] / max(baselines)
    return result
