"""Forward+backward time of one 512-token training step of the default model on CPU,
with and without the experts (median of 5 after one warm-up). Run on an idle machine:

    python bench/cpu_step_time.py
"""

import argparse
import statistics
import time
import warnings
from types import SimpleNamespace

import torch

from therapeutic_moe.modeling import build_model, report_trainable

warnings.filterwarnings("ignore")


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    torch.manual_seed(0)
    for use_moe in (False, True):
        cfg = SimpleNamespace(
            base_model="smollm2-135m-instruct", model_cache_dir=None, trust_remote_code=False,
            attn_implementation="sdpa", lora_r=16, lora_alpha=32, lora_dropout=0.05,
            lora_target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], use_moe=use_moe,
            expert_domains=["psychology", "mental_health", "bias_detection", "general_therapeutic"], top_k=2,
            expert_r=4, expert_alpha=8, expert_dropout=0.0, expert_target_modules=["gate_proj", "up_proj", "down_proj"],
            router_init_std=0.02, load_balancing_weight=0.01, router_z_loss_weight=1e-3, domain_routing_weight=0.1)
        model, _ = build_model(cfg)
        counts = report_trainable(model, warn=False)
        ids = torch.randint(100, 40000, (1, 512))
        labels = ids.clone()
        labels[:, :256] = -100
        batch = {"input_ids": ids, "labels": labels, "position_ids": torch.arange(512)[None]}
        model.train()
        times = []
        for _ in range(6):
            t0 = time.perf_counter()
            out = model.forward_loss(batch)
            t1 = time.perf_counter()
            out["loss"].backward()
            times.append((t1 - t0, time.perf_counter() - t1))
            model.zero_grad(set_to_none=True)
        fwd = statistics.median(t[0] for t in times[1:])
        bwd = statistics.median(t[1] for t in times[1:])
        print(f"experts={'on ' if use_moe else 'off'} trainable {counts['trainable']:,}/{counts['total']:,} "
              f"({counts['trainable_share']:.2%}): forward {fwd:.2f} s, backward {bwd:.2f} s, total {fwd + bwd:.2f} s")


if __name__ == "__main__":
    main()
