"""Focused GPU measurements that decide the fast paths (run on the device, JSON to --out).

attention: packed rows (several samples per row, position_ids restarting at 0), forward +
  backward of attention alone, for: sdpa without mask (unpacked causal, the speed to beat),
  sdpa with the block-diagonal mask transformers builds from position_ids, varlen flash
  attention (kernels/packed_attention.py) and FlexAttention with a document block mask.
  Also checks the varlen output against per-sample sdpa.
model: one training step of ours (4 experts) at 135M on packed rows with each attention
  implementation, and with torch.compile on every decoder layer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F


def bench_ms(fn, warmup: int = 3, reps: int = 10) -> float:
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        times.append((start, end))
    torch.cuda.synchronize()
    return statistics.median(s.elapsed_time(e) for s, e in times)


def packed_positions(batch: int, seq: int, mean_len: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(batch):
        pos, used = [], 0
        while used < seq:
            n = int(torch.randint(mean_len // 4, mean_len * 7 // 4, (1,), generator=gen))
            n = min(n, seq - used)
            pos += list(range(n))
            used += n
        rows.append(pos)
    return torch.tensor(rows)


def attention_probe(out: dict) -> None:
    from therapeutic_moe.kernels.packed_attention import packed_varlen_attention, packing_segments

    results = []
    for name, heads, kv, dim, batch in (("135m", 9, 3, 64, 16), ("1b", 32, 8, 64, 8), ("8b", 32, 8, 128, 4)):
        seq = 2048
        pos = packed_positions(batch, seq, 400).cuda()
        q = torch.randn(batch, heads, seq, dim, device="cuda", dtype=torch.bfloat16, requires_grad=True)
        k = torch.randn(batch, kv, seq, dim, device="cuda", dtype=torch.bfloat16, requires_grad=True)
        v = torch.randn(batch, kv, seq, dim, device="cuda", dtype=torch.bfloat16, requires_grad=True)
        grad = torch.randn(batch, seq, heads, dim, device="cuda", dtype=torch.bfloat16)
        sample = torch.cumsum(torch.cat([torch.ones_like(pos[:, :1]), (pos[:, 1:] != pos[:, :-1] + 1).long()], 1), 1)
        causal = torch.ones(seq, seq, dtype=torch.bool, device="cuda").tril()
        mask = causal[None, None] & (sample[:, None, :, None] == sample[:, None, None, :])
        module = torch.nn.Module()
        module.num_key_value_groups, module.is_causal, module.training = heads // kv, True, True
        row = {"shape": name, "batch": batch, "seq": seq, "heads": heads, "kv_heads": kv, "head_dim": dim,
               "samples": int(sample[:, -1].sum())}

        def run(fn):
            def step():
                q.grad = k.grad = v.grad = None
                fn().backward(grad)
            return bench_ms(step)

        def sdpa_causal():
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True).transpose(1, 2)

        def sdpa_masked():
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True).transpose(1, 2)

        def varlen():
            return packed_varlen_attention(module, q, k, v, None, scaling=dim ** -0.5, position_ids=pos)[0]

        for label, fn in (("sdpa_causal_unpacked", sdpa_causal), ("sdpa_block_mask", sdpa_masked),
                          ("packed_varlen", varlen)):
            try:
                row[label + "_ms"] = run(fn)
            except Exception as exc:
                row[label + "_error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        try:
            from torch.nn.attention.flex_attention import create_block_mask, flex_attention

            doc = sample

            def doc_causal(b, h, qi, ki):
                return (qi >= ki) & (doc[b, qi] == doc[b, ki])

            block = create_block_mask(doc_causal, batch, None, seq, seq, device="cuda")
            flex = torch.compile(flex_attention)
            t0 = time.time()
            row["flex_ms"] = run(lambda: flex(q, k, v, block_mask=block, enable_gqa=True).transpose(1, 2))
            row["flex_compile_and_bench_s"] = time.time() - t0
        except Exception as exc:
            row["flex_error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        try:  # correctness: varlen vs sdpa with the block mask
            with torch.no_grad():
                a = varlen().float()
                b = sdpa_masked().float()
                row["varlen_vs_mask_rel_err"] = float((a - b).norm() / b.norm())
        except Exception as exc:
            row["check_error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        cu, max_len, _ = packing_segments(pos, None, batch, seq, torch.device("cuda"))
        row["max_len"] = max_len
        results.append(row)
        print(json.dumps(row), flush=True)
        del q, k, v, grad, mask
        torch.cuda.empty_cache()
    out["attention"] = results


def model_probe(out: dict, compile_layers: bool) -> None:
    from therapeutic_moe.bench.measure import Trainer, time_steps
    from therapeutic_moe.bench.shapes import SHAPES
    from therapeutic_moe.bench.variants import build_ours, restore_module_patches
    from therapeutic_moe.kernels import apply_fast_kernels

    shape, seq, batch = SHAPES["135m"], 2048, 16
    pos = packed_positions(batch, seq, 400).cuda()
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, shape.vocab, (batch, seq), generator=gen).cuda()
    labels = ids.clone()
    labels[:, 1:][pos[:, 1:] == 0] = -100  # no target across a sample boundary
    batches = [{"input_ids": ids, "labels": labels, "position_ids": pos}]
    rows = []
    setups = [("sdpa (transformers block mask)", {"packed_attention": False}, "sdpa", False),
              ("packed_varlen", {}, None, False),
              ("flex_attention", {"packed_attention": False}, "flex_attention", False)]
    if compile_layers:
        setups.append(("packed_varlen + torch.compile layers", {}, None, True))
    for label, flags, attn, compiled in setups:
        row = {"setup": label, "batch": batch, "seq": seq}
        with restore_module_patches():
            try:
                bm = build_ours(shape, torch.device("cuda"), torch.bfloat16, seq, num_experts=4, checkpointing=False)
                row["kernels"] = apply_fast_kernels(bm.module, **flags)
                if attn:
                    bm.module.base.config._attn_implementation = attn
                if compiled:
                    for layer in bm.module.base.model.layers:
                        layer.compile()
                trainer = Trainer(bm, torch.device("cuda"))
                t0 = time.time()
                trainer.step(batches[0])
                torch.cuda.synchronize()
                row["first_step_s"] = time.time() - t0
                timing = time_steps(trainer, batches, 2, 6)
                row["step_ms"] = timing["step_s"] * 1e3
                row["tokens_per_s"] = batch * seq / timing["step_s"]
                row["peak_gib"] = timing["peak_bytes"] / 2**30
                row["loss"] = timing["loss"]
            except Exception as exc:
                row["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            finally:
                bm = trainer = None
                torch.cuda.empty_cache()
        rows.append(row)
        print(json.dumps(row), flush=True)
    out["model"] = rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--what", default="attention,model")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd decoder layers")
    args = parser.parse_args()
    out: dict = {"torch": torch.__version__}
    try:
        import inspect

        from torch.nn.attention.varlen import varlen_attn

        out["varlen_signature"] = str(inspect.signature(varlen_attn))
    except Exception as exc:
        out["varlen_signature"] = f"unavailable: {exc}"
    what = args.what.split(",")
    if "attention" in what:
        attention_probe(out)
    if "model" in what:
        model_probe(out, args.compile)
    if "profile" in what:
        profile_probe(out)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)



def profile_probe(out: dict) -> None:
    """Where the time goes: the CUDA kernels of one training step of ours and ours_e4 (135M,
    batch 64 of 2048 tokens), kernel time only (no operator-level double counting)."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    from therapeutic_moe.bench.measure import Trainer, time_steps
    from therapeutic_moe.bench.runner import synthetic_batch
    from therapeutic_moe.bench.shapes import SHAPES
    from therapeutic_moe.bench.variants import build_ours, restore_module_patches
    from therapeutic_moe.kernels import apply_fast_kernels

    device = torch.device("cuda")
    rows = []
    shape, seq, batch = SHAPES["135m"], 2048, 64
    for experts in (0, 4):
        with restore_module_patches():
            bm = build_ours(shape, device, torch.bfloat16, seq, num_experts=experts, checkpointing=False)
            apply_fast_kernels(bm.module)
            trainer = Trainer(bm, device)
            b = synthetic_batch(batch, seq, shape.vocab, device, 0)
            timing = time_steps(trainer, [b], 2, 3)
            with profile(activities=[ProfilerActivity.CUDA, ProfilerActivity.CPU]) as prof:
                trainer.step(b)
                torch.cuda.synchronize()
            kernels = [e for e in prof.key_averages() if e.device_type == DeviceType.CUDA]
            kernels.sort(key=lambda e: -e.self_device_time_total)
            row = {"case": f"135m experts={experts} bs{batch}", "step_ms": timing["step_s"] * 1e3,
                   "kernel_ms": sum(e.self_device_time_total for e in kernels) / 1e3,
                   "kernel_launches": sum(e.count for e in kernels),
                   "top": [(e.key[:80], round(e.self_device_time_total / 1e3, 2), e.count) for e in kernels[:30]]}
            rows.append(row)
            print(json.dumps(row), flush=True)
            bm = trainer = None
            torch.cuda.empty_cache()
    out["profile"] = rows


if __name__ == "__main__":
    main()
