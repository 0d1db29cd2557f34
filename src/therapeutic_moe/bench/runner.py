"""Run the benchmark: every shape x setup in one process, one JSON with everything.

Per setup: build from random weights, (ours) compare the fast path's loss and gradients with
the same model's plain path on one batch, choose the batch size from two probe steps, time
``steps`` steps after ``warmup``, count host syncs in one step. The JSON is rewritten after
each measurement, so a run cut short still leaves its numbers behind.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import torch

from therapeutic_moe.bench import report
from therapeutic_moe.bench.options import BenchOptions
from therapeutic_moe.bench.measure import (
    Trainer,
    autocast_for,
    choose_batch,
    count_host_syncs,
    free_memory,
    is_oom,
    peak_of_step,
    time_steps,
)
from therapeutic_moe.bench.shapes import H100_BF16_PEAK_FLOPS, ModelShape, parse_shapes
from therapeutic_moe.bench.variants import (
    BASELINES,
    EXPERTS,
    VARIANTS,
    build_ours,
    build_plain,
    describe_versions,
    liger_installed,
    randomize_trainable,
    restore_module_patches,
)
from therapeutic_moe.modeling.build import set_gradient_checkpointing

LOSS_TOLERANCE = 1e-2  # relative; bf16 rounding of activations
CHECK_SEQ = 2048  # the fp32 check at 8b@8192 would not fit in 80 GB


ABLATIONS = {
    "no_fast_kernels": dict(rms_norm=False, rope=False, swiglu=False, fused_cross_entropy=False, lora=False,
                            packed_attention=False),
    "-rms_norm": dict(rms_norm=False),
    "-rope": dict(rope=False),
    "-swiglu": dict(swiglu=False),
    "-fused_cross_entropy": dict(fused_cross_entropy=False),
    "-lora": dict(lora=False),
    "-packed_attention": dict(packed_attention=False),
}


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is visible")
    return torch.device(name)


def synthetic_batch(batch: int, seq: int, vocab: int, device: torch.device, seed: int) -> dict:
    """Full rows of random tokens, every position trained: the same work for every setup."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    ids = torch.randint(0, vocab, (batch, seq), generator=gen).to(device)
    return {"input_ids": ids, "labels": ids.clone()}


def _grads(params) -> torch.Tensor:
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten().float() for p in params])


def check_fast_path(bm, shape: ModelShape, seq: int, device: torch.device, kernel_flags: dict, seed: int) -> tuple[list, dict]:
    """Loss and gradients of one batch three ways: an fp32 reference (the frozen bf16 weights
    upcast, which is exact, no autocast), the plain bf16 path, and the fast path (after
    ``apply_fast_kernels``). The fast path passes when its loss is within bf16 tolerance of
    fp32 and its gradients are no further from fp32 than the plain bf16 path's (2x slack).
    Returns (applied kernels, check record)."""
    from therapeutic_moe.kernels import apply_fast_kernels, fused_cross_entropy

    batch = synthetic_batch(1, min(seq, CHECK_SEQ), shape.vocab, device, seed + 7)

    def loss_and_grads(autocast: bool):
        for p in bm.params:
            p.grad = None
        with autocast_for(device) if autocast else nullcontext():
            loss = bm.loss(batch)
        loss.backward()
        grads = _grads(bm.params)
        for p in bm.params:
            p.grad = None
        return float(loss.detach()), grads

    frozen = [(p, p.dtype) for p in bm.module.parameters() if not p.requires_grad and p.dtype != torch.float32]
    for p, _ in frozen:
        p.data = p.data.float()
    try:
        with fused_cross_entropy(False):
            exact_loss, exact = loss_and_grads(autocast=False)
    finally:
        for p, dtype in frozen:
            p.data = p.data.to(dtype)
        free_memory()
    ref_loss, ref = loss_and_grads(autocast=True)
    applied = apply_fast_kernels(bm.module, **kernel_flags)
    fast_loss, fast = loss_and_grads(autocast=True)

    def cos(a, b):
        return float(torch.nn.functional.cosine_similarity(a, b, dim=0))

    record = {"fp32_loss": exact_loss, "reference_loss": ref_loss, "fast_loss": fast_loss,
              "rel_diff": abs(fast_loss - exact_loss) / max(abs(exact_loss), 1e-12),
              "reference_rel_diff": abs(ref_loss - exact_loss) / max(abs(exact_loss), 1e-12),
              "grad_cosine": cos(fast, exact), "reference_grad_cosine": cos(ref, exact),
              "fast_vs_reference_grad_cosine": cos(fast, ref)}
    fast_err, ref_err = 1 - record["grad_cosine"], 1 - record["reference_grad_cosine"]
    record["ok"] = record["rel_diff"] <= LOSS_TOLERANCE and fast_err <= max(2 * ref_err, 1e-4)
    del exact, ref, fast
    return applied, record


def _probe(trainer: Trainer, shape: ModelShape, seq: int, device: torch.device, seed: int):
    """Warm-up step, then peak memory of batch 1 and 2."""
    one = synthetic_batch(1, seq, shape.vocab, device, seed)
    if peak_of_step(trainer, one) is None:
        return None, None
    peak_1 = peak_of_step(trainer, one)
    peak_2 = peak_of_step(trainer, synthetic_batch(2, seq, shape.vocab, device, seed + 1)) if peak_1 else None
    return peak_1, peak_2


def measure(shape: ModelShape, seq: int, variant: str, opts: BenchOptions, device: torch.device,
            kernel_flags: dict | None = None, label: str | None = None, log: Callable = print) -> dict:
    row = {"shape": shape.name, "seq": seq, "variant": label or variant, "description": VARIANTS[variant]}
    if kernel_flags:
        row["kernel_flags"] = kernel_flags
    cuda = device.type == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    bm = trainer = None
    with restore_module_patches():
        try:
            if variant in BASELINES:
                if variant == "liger" and not liger_installed():
                    row["skipped"] = "liger-kernel is not installed"
                    return row
                bm = build_plain(shape, device, dtype, seq, liger=variant == "liger",
                                 checkpointing=cuda and shape.baseline_checkpointing, seed=opts.seed)
            else:
                forced = {"on": True, "off": False}.get(opts.checkpointing, False)
                bm = build_ours(shape, device, dtype, seq, num_experts=EXPERTS[variant], checkpointing=forced,
                                seed=opts.seed)
                randomize_trainable(bm.params, seed=opts.seed + 1)
                bm.kernels, row["check"] = check_fast_path(bm, shape, seq, device, kernel_flags or {}, opts.seed)
            trainer = Trainer(bm, device)
            batch_size, probe = _choose(trainer, bm, shape, seq, variant, opts, device)
            row.update(probe)
            row["kernels"] = bm.kernels
            timing = batches = None
            for _ in range(3):  # the prediction can miss by fragmentation: shrink and retry
                try:
                    batches = [synthetic_batch(batch_size, seq, shape.vocab, device, opts.seed + i) for i in range(2)]
                    timing = time_steps(trainer, batches, opts.warmup, opts.steps)
                    break
                except Exception as exc:
                    if not (cuda and is_oom(exc)) or batch_size == 1:
                        raise
                batches = None
                trainer.optimizer.zero_grad(set_to_none=True)
                free_memory()
                batch_size = max(1, int(batch_size * 0.75))
            if timing is None:
                raise RuntimeError("out of memory even after shrinking the batch")
            row["batch"] = batch_size
            row["checkpointing"] = bm.checkpointing
            row.update(_rates(timing, batch_size, seq, shape))
            row["host_syncs_per_step"] = count_host_syncs(trainer, batches[0])
        except Exception as exc:  # one failed setup must not lose the others
            row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
        finally:
            del bm, trainer
            free_memory()
    log(report.row_line(row))
    return row


def _choose(trainer, bm, shape, seq, variant, opts, device) -> tuple[int, dict]:
    """Batch size (and, for ours with checkpointing 'auto', whether to checkpoint)."""
    max_batch = max(1, opts.max_tokens_per_step // seq)
    if device.type != "cuda":
        return (int(opts.batch) if opts.batch != "auto" else min(2, max_batch)), {}
    budget = int(torch.cuda.mem_get_info()[1] * opts.memory_fraction)
    peak_1, peak_2 = _probe(trainer, shape, seq, device, opts.seed)
    auto_ckpt = variant not in BASELINES and opts.checkpointing == "auto" and not bm.checkpointing
    if auto_ckpt:
        fits = 0 if peak_1 is None else choose_batch(peak_1, peak_2, budget, max_batch) * int(peak_1 <= budget)
        if fits * seq < min(opts.min_tokens_without_checkpointing, max_batch * seq):
            base = bm.module.base
            set_gradient_checkpointing(base, True)
            bm.checkpointing = True
            free_memory()
            peak_1, peak_2 = _probe(trainer, shape, seq, device, opts.seed)
    if peak_1 is None:
        raise RuntimeError("batch 1 does not fit in GPU memory")
    probe = {"probe_peak_b1_gib": peak_1 / 2**30}
    if peak_2 is not None:
        probe["memory_per_sequence_gib"] = (peak_2 - peak_1) / 2**30
        probe["memory_fixed_gib"] = (2 * peak_1 - peak_2) / 2**30
    if variant not in BASELINES and shape.baseline_checkpointing and not bm.checkpointing:
        # Memory at the baselines' own setting too, so the comparison is like for like.
        base = bm.module.base
        set_gradient_checkpointing(base, True)
        c1, c2 = _probe(trainer, shape, seq, device, opts.seed)
        set_gradient_checkpointing(base, False)
        if c1 is not None and c2 is not None:
            probe["memory_per_sequence_ckpt_gib"] = (c2 - c1) / 2**30
            probe["memory_fixed_ckpt_gib"] = (2 * c1 - c2) / 2**30
        free_memory()
    if opts.batch != "auto":
        return int(opts.batch), probe
    return choose_batch(peak_1, peak_2, budget, max_batch), probe


def _rates(timing: dict, batch: int, seq: int, shape: ModelShape) -> dict:
    tokens = batch * seq
    tps = tokens / timing["step_s"]
    out = {"step_ms": timing["step_s"] * 1e3, "step_ms_min": timing["step_s_min"] * 1e3,
           "step_ms_max": timing["step_s_max"] * 1e3, "tokens_per_s": tps,
           "mfu": tps * shape.flops_per_token(seq) / H100_BF16_PEAK_FLOPS, "final_loss": timing["loss"]}
    if "peak_bytes" in timing:
        out["peak_gib"] = timing["peak_bytes"] / 2**30
        out["reserved_gib"] = timing["reserved_bytes"] / 2**30
    return out


def environment(device: torch.device) -> dict:
    env = {"date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "versions": describe_versions(),
           "device": "cpu"}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(device=props.name, gpu_memory_gib=props.total_memory / 2**30, multiprocessors=props.multi_processor_count)
    return env


def run_benchmark(opts: BenchOptions, log: Callable = print) -> dict:
    device = pick_device(opts.device)
    targets = parse_shapes(opts.shapes, opts.seq)
    variants = [v.strip() for v in opts.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    if opts.batch != "auto" and (not opts.batch.isdigit() or int(opts.batch) < 1):
        raise ValueError(f"--batch must be 'auto' or a positive integer, not {opts.batch!r}")
    ablation_shapes = {s.strip().lower() for s in opts.ablations.split(",") if s.strip()}
    started = time.monotonic()
    result = {"environment": environment(device), "options": asdict(opts), "results": [], "real_data": None}
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # fp32 router/loss bits; bf16 GEMMs are unaffected

    def over_budget() -> bool:
        return bool(opts.time_budget_s) and time.monotonic() - started > opts.time_budget_s

    log(report.header())
    plan = [(shape, seq, v, None, None) for shape, seq in targets for v in variants]
    for shape, seq in targets:
        if shape.name in ablation_shapes:
            plan += [(shape, seq, "ours_e4", flags, f"ours_e4 {name}") for name, flags in ABLATIONS.items()]
    plan.sort(key=lambda item: [(s.name, q) for s, q in targets].index((item[0].name, item[1])))
    for shape, seq, variant, flags, label in plan:
        if over_budget():
            result["results"].append({"shape": shape.name, "seq": seq, "variant": label or variant,
                                      "skipped": f"time budget of {opts.time_budget_s:.0f} s used up"})
            continue
        result["results"].append(measure(shape, seq, variant, opts, device, flags, label, log))
        result["summary"] = report.summarize(result["results"])
        write_json(result, opts.out)
    if opts.real_data and not over_budget():
        from therapeutic_moe.bench.real_data import run_real_data

        result["real_data"] = run_real_data(opts, device, log)
    result["summary"] = report.summarize(result["results"])
    result["elapsed_s"] = time.monotonic() - started
    write_json(result, opts.out)
    log("")
    log(report.format_table(result))
    return result


def write_json(result: dict, path: str | None) -> None:
    if not path:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    tmp.replace(target)
