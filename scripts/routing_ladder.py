"""The routing ladder: MoE-LoRA recipes against the parameter-matched all-linear LoRA, one run.

    python scripts/routing_ladder.py                     # the default arms, 60 steps each (~1 h on 2 CPU cores)
    python scripts/routing_ladder.py --arms all --steps 60 --out runs/routing_ladder
    python scripts/routing_ladder.py --steps 2 --seq_len 128 --train_limit 16 --val_limit 8   # a smoke run

Every arm trains the default model (unless --base_model) on counsel-chat train
(DATA/counselchat_train.json, windows of --seq_len tokens, batch 2, the same number of steps)
through the real trainer (`python -m therapeutic_moe train`), is evaluated on counsel-chat val
at the end by the trainer, and reports: trainable parameters, val perplexity, token entropy
(nats), expert shares, normalised MI between expert choice and the counsel-chat topic's domain
(routing_nmi), all-layer vote accuracy of that domain, seconds per step. Labels come from the
topic map of configs/experiments/moe_supervised.json; the MoE arms are unsupervised
(domain_routing_weight 0, the labels only measure) except the two moe_supervised* arms.
Prints a Markdown table and writes ladder.json, ladder.md and ladder.png into --out. Arms already
finished there (a training_report.json) are not run again.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

# name -> (what it tests, trainer overrides). Ranks keep every arm near the same trainable
# parameter count (the table prints it): 4 experts r4 on gate/up/down ~ all-linear LoRA r16.
ARMS: dict[str, tuple[str, dict]] = {
    "lora_all_linear": ("LoRA r16 on all linear layers (parameter-matched)",
                        {"use_moe": False, "lora_target_modules": ALL_LINEAR}),
    "moe_default": ("MoE-LoRA as shipped until 2026-12-03: B = 0 init, balance loss 0.01, expert_alpha 8", {}),
    "moe_router_lr10": ("router learning rate x10", {"router_lr_multiplier": 10.0}),
    "moe_compensated": ("compensated expert init (router signal from step 0)", {"expert_init": "compensated"}),
    "moe_aux_free": ("aux-free balancing (bias rate 0.01 for a short run), balance loss 1e-4",
                     {"balancing": "aux_free", "aux_free_bias_rate": 0.01, "load_balancing_weight": 1e-4}),
    "moe_balance_warmup": ("balance loss ramped over the first half", {"load_balancing_warmup_steps": "HALF"}),
    "moe_dense_warmup": ("dense soft routing for the first sixth", {"dense_routing_steps": "SIXTH"}),
    "moe_shared_expert": ("shared always-on expert + 4 routed, r3 (15 blocks ~ 16)", {"shared_expert": True, "expert_r": 3}),
    "moe_hydra": ("HydraLoRA: shared A, 4 B, r6 (~ the same parameters)", {"expert_structure": "shared_a", "expert_r": 6}),
    "moe_fine": ("8 finer experts, r2", {"expert_domains": ["psychology", "mental_health", "bias_detection",
                                                            "general_therapeutic", "extra_4", "extra_5", "extra_6",
                                                            "extra_7"], "expert_r": 2}),
    "moe_recipe": ("compensated init + aux-free + balance warm-up + router lr x10",
                   {"expert_init": "compensated", "balancing": "aux_free", "aux_free_bias_rate": 0.01,
                    "load_balancing_weight": 1e-4, "load_balancing_warmup_steps": "HALF", "router_lr_multiplier": 10.0}),
    "moe_recipe_lr100": ("moe_recipe with router learning rate x100 (routers that move within a short run)",
                         {"expert_init": "compensated", "balancing": "aux_free", "aux_free_bias_rate": 0.01,
                          "load_balancing_weight": 1e-4, "load_balancing_warmup_steps": "HALF",
                          "router_lr_multiplier": 100.0}),
    "moe_supervised": ("as shipped, supervised domain routing (weight 0.5, as configs/experiments/moe_supervised.json)",
                       {"domain_routing_weight": 0.5}),
    "moe_supervised_recipe": ("moe_recipe with supervised domain routing (weight 0.5)",
                              {"expert_init": "compensated", "balancing": "aux_free", "aux_free_bias_rate": 0.01,
                               "load_balancing_weight": 1e-4, "load_balancing_warmup_steps": "HALF",
                               "router_lr_multiplier": 10.0, "domain_routing_weight": 0.5}),
    "moe_sequence": ("moe_recipe_lr100 with sequence routing (routers read the conversation's running mean)",
                     {"expert_init": "compensated", "balancing": "aux_free", "aux_free_bias_rate": 0.01,
                      "load_balancing_weight": 1e-4, "load_balancing_warmup_steps": "HALF",
                      "router_lr_multiplier": 100.0, "router_input": "sequence"}),
    "moe_sequence_shared": ("moe_sequence with a shared always-on expert + 4 routed, r3 (the budget of moe_shared_expert)",
                            {"expert_init": "compensated", "balancing": "aux_free", "aux_free_bias_rate": 0.01,
                             "load_balancing_weight": 1e-4, "load_balancing_warmup_steps": "HALF",
                             "router_lr_multiplier": 100.0, "router_input": "sequence", "shared_expert": True,
                             "expert_r": 3}),
    "moe_sequence_supervised": ("sequence routing with supervised domain routing (weight 0.5), moe_recipe",
                                {"expert_init": "compensated", "balancing": "aux_free", "aux_free_bias_rate": 0.01,
                                 "load_balancing_weight": 1e-4, "load_balancing_warmup_steps": "HALF",
                                 "router_lr_multiplier": 10.0, "domain_routing_weight": 0.5, "router_input": "sequence"}),
    "moe_sequence_supervised_lr100": ("moe_sequence_supervised with router learning rate x100",
                                      {"expert_init": "compensated", "balancing": "aux_free", "aux_free_bias_rate": 0.01,
                                       "load_balancing_weight": 1e-4, "load_balancing_warmup_steps": "HALF",
                                       "router_lr_multiplier": 100.0, "domain_routing_weight": 0.5,
                                       "router_input": "sequence"}),
    # The top-k gates sum to 1, so with top-2 each chosen expert's delta is scaled by about
    # (expert_alpha / expert_r) / 2 = 1, half the all-linear LoRA's lora_alpha / lora_r = 2, and
    # Adam moves it at half the LoRA's speed. These arms give the MoE the LoRA's scale.
    "moe_alpha16": ("as shipped since 2026-12-03, expert_alpha 16: a chosen expert's delta at the LoRA's scale (gate ~1/2 x 4)",
                    {"expert_alpha": 16}),
    "moe_dense_alpha32": ("every expert on (top_k 4, softmax gates ~1/4) with expert_alpha 32: the LoRA's scale "
                          "and rank per token, routed", {"top_k": 4, "expert_alpha": 32}),
}
for _base in ("moe_recipe_lr100", "moe_sequence_supervised_lr100"):
    ARMS[f"{_base}_alpha16"] = (f"{_base} with expert_alpha 16", {**ARMS[_base][1], "expert_alpha": 16})
# Supervised sequence routing names the domain but costs perplexity; a shared always-on expert
# keeps what every conversation needs in one place. r3 blocks (15 ~ 16), expert_alpha 12: a
# chosen routed expert at the LoRA's scale (1/2 x 12/3 = 2), the shared one at 4.
ARMS["moe_sequence_supervised_shared_alpha12"] = (
    "moe_sequence_supervised_lr100 with a shared always-on expert + 4 routed, r3, expert_alpha 12",
    {**ARMS["moe_sequence_supervised_lr100"][1], "shared_expert": True, "expert_r": 3, "expert_alpha": 12})
for _weight in (0.1, 0.2):  # lighter supervision: how much of the domain information stays, at what perplexity
    ARMS[f"moe_sequence_supervised_shared_alpha12_w{_weight:g}".replace(".", "")] = (
        f"moe_sequence_supervised_shared_alpha12 with domain_routing_weight {_weight:g}",
        {**ARMS["moe_sequence_supervised_shared_alpha12"][1], "domain_routing_weight": _weight})
# The rank a token sees: top-2 of four rank-4 experts gives 8, the LoRA 16. A wide always-on
# expert (rank 8) beside four rank-2 routed ones spends the same blocks (8 x r2 = 16) and gives
# each token 8 + 2 x 2 = 12. expert_alpha 8: a chosen routed expert at the LoRA's scale
# (1/2 x 8/2 = 2), the shared one at 4, as in the alpha12 arms.
_WIDE_SHARED = {"shared_expert": True, "expert_r": 2, "shared_expert_r": 8, "expert_alpha": 8}
ARMS["moe_wide_shared"] = ("top-2 of 4 routed r2 + an always-on expert of rank 8 (rank 12 per token)", dict(_WIDE_SHARED))
ARMS["moe_recipe_lr100_wide_shared"] = ("moe_recipe_lr100 (routers that move) with the wide shared expert",
                                        {**ARMS["moe_recipe_lr100"][1], **_WIDE_SHARED})
ARMS["moe_sequence_supervised_wide_shared_w02"] = (
    "supervised sequence routing (weight 0.2, router lr x100) with the wide shared expert",
    {**ARMS["moe_sequence_supervised_lr100"][1], **_WIDE_SHARED, "domain_routing_weight": 0.2})
ARMS["moe_sequence_supervised_wide_shared_w01"] = (
    "moe_sequence_supervised_wide_shared_w02 with domain_routing_weight 0.1",
    {**ARMS["moe_sequence_supervised_wide_shared_w02"][1], "domain_routing_weight": 0.1})
# Wider still: 4 routed r1 + shared r12 (16 blocks again), rank 14 per token; expert_alpha 4 keeps
# a chosen routed expert at 1/2 x 4/1 = 2 and the shared one at 4.
ARMS["moe_sequence_supervised_wider_shared_w02"] = (
    "supervised sequence routing (weight 0.2, router lr x100), 4 routed r1 + an always-on expert of rank 12",
    {**ARMS["moe_sequence_supervised_wide_shared_w02"][1], "expert_r": 1, "shared_expert_r": 12, "expert_alpha": 4})
DEFAULT_ARMS = ["lora_all_linear", "moe_default", "moe_compensated", "moe_aux_free", "moe_recipe"]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog="arms: " + ", ".join(
                                         f"{k} ({v[0]})" for k, v in ARMS.items()))
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data",
                        help="folder with counselchat_train.json and counselchat_val.json (default: ../shared/data)")
    parser.add_argument("--arms", default=",".join(DEFAULT_ARMS), help="comma-separated arm names, or 'all'")
    parser.add_argument("--seed", type=int, default=42, help="training seed of every arm (default: 42)")
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps per arm (default: %(default)s)")
    parser.add_argument("--seq_len", type=int, default=512, help="max_seq_length (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=2, help="per-device batch (default: %(default)s)")
    parser.add_argument("--base_model", default="smollm2-135m-instruct", help="default: %(default)s")
    parser.add_argument("--train_limit", type=int, default=0, help="use N evenly spaced train conversations (0 = all; smoke runs)")
    parser.add_argument("--val_limit", type=int, default=0, help="use N evenly spaced val conversations (0 = all; smoke runs)")
    parser.add_argument("--out", type=Path, default=Path("runs/routing_ladder"), help="default: %(default)s")
    args = parser.parse_args(argv)
    names = list(ARMS) if args.arms == "all" else [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = [a for a in names if a not in ARMS]
    if unknown:
        parser.error(f"unknown arms {unknown}; choose from {list(ARMS)} or 'all'")
    for name in ("counselchat_train.json", "counselchat_val.json"):
        if not (args.data / name).is_file():
            parser.error(f"{args.data / name} not found; give --data the folder that holds counsel-chat")
    args.arm_names = names
    return args


def data_file(args, split: str, limit: int) -> Path:
    """The split itself, or (with a limit) N evenly spaced conversations written under --out
    (the files are sorted by topic: the first N would all share one)."""
    source = args.data / f"counselchat_{split}.json"
    if not limit:
        return source.resolve()
    subset = args.out / f"counselchat_{split}_{limit}_spaced.json"
    if not subset.exists():
        rows = json.loads(source.read_text(encoding="utf-8"))["conversations"]
        picked = [rows[i * len(rows) // limit] for i in range(min(limit, len(rows)))]
        subset.write_text(json.dumps({"conversations": picked}), encoding="utf-8")
    return subset.resolve()


def arm_config(args, overrides: dict) -> dict:
    topics = json.loads((REPO / "configs/experiments/moe_supervised.json").read_text())["topic_to_domain"]
    steps = {"HALF": max(1, args.steps // 2), "SIXTH": max(1, args.steps // 6)}
    cfg = {"base_model": args.base_model, "dataset": str(data_file(args, "train", args.train_limit)),
           "validation_dataset": str(data_file(args, "val", args.val_limit)), "max_seq_length": args.seq_len,
           "per_device_train_batch_size": args.batch, "per_device_eval_batch_size": args.batch,
           "gradient_accumulation_steps": 1, "max_steps": args.steps, "learning_rate": 3e-4, "warmup_ratio": 0.05,
           "lr_scheduler_type": "cosine", "logging_steps": max(1, args.steps // 6), "eval_steps": 10 * args.steps,
           "early_stopping_patience": 0, "save_steps": 0, "checkpoint_minutes": 600, "max_hours": 12,
           "report_to": "none", "seed": args.seed, "use_moe": True, "domain_routing_weight": 0.0, "topic_to_domain": topics,
           # every ladder arm ran at the scale and structure shipped until 2026-12-03 (four rank-4
           # experts, expert_alpha 8) unless it sets its own, so the documented commands keep
           # reproducing their tables after the defaults moved (moe_wide_shared is the new default)
           "expert_alpha": 8, "expert_r": 4, "shared_expert": False, "shared_expert_r": 0}
    cfg.update({k: steps.get(v, v) if isinstance(v, str) else v for k, v in overrides.items()})
    if not cfg["use_moe"]:  # routing keys would only draw "ignored" notes
        for key in ("domain_routing_weight", "topic_to_domain", "expert_alpha", "expert_r", "shared_expert", "shared_expert_r"):
            cfg.pop(key)
    return cfg


def run_arm(args, name: str) -> dict:
    folder = args.out / name
    report_path = folder / "training_report.json"
    if not report_path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        config = folder.parent / f"{name}.config.json"
        config.write_text(json.dumps(arm_config(args, ARMS[name][1]), indent=1))
        start = time.time()
        with open(folder.parent / f"{name}.train.log", "w") as log:
            code = subprocess.run([sys.executable, "-m", "therapeutic_moe", "train", "--config", str(config),
                                   "--output_dir", str(folder)], stdout=log, stderr=subprocess.STDOUT, cwd=REPO).returncode
        print(f"{name}: train exit {code} in {time.time() - start:.0f} s", file=sys.stderr, flush=True)
        if code != 0 or not report_path.exists():
            return {"arm": name, "error": f"train exit {code}; see {folder.parent / (name + '.train.log')}"}
    return row_from_report(name, json.loads(report_path.read_text()))


def row_from_report(name: str, report: dict) -> dict:
    final, routing = report.get("final_eval") or {}, report.get("routing") or {}
    return {"arm": name, "what": ARMS[name][0], "steps": report.get("global_step"),
            "trainable": (report.get("parameters") or {}).get("trainable"),
            "val_ppl": final.get("val/perplexity"), "token_entropy": routing.get("token_entropy"),
            "expert_shares": routing.get("usage_overall"), "routing_nmi": routing.get("routing_nmi"),
            "vote_accuracy": routing.get("domain_vote_accuracy"), "seconds_per_step": report.get("seconds_per_step")}


def fmt(value, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def table(rows: list[dict]) -> str:
    lines = ["| arm | trainable | val ppl | token entropy | expert shares | NMI expert↔domain | vote acc | s/step |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['arm']} | {r['error']} |||||||")
            continue
        shares = " / ".join(f"{s:.0%}" for s in r["expert_shares"]) if r["expert_shares"] else "–"
        sps = r["seconds_per_step"]
        sps = sps.get("median", sps.get("mean")) if isinstance(sps, dict) else sps
        lines.append(f"| {r['arm']} | {fmt(r['trainable'], ',')} | {fmt(r['val_ppl'], '.2f')} | "
                     f"{fmt(r['token_entropy'], '.3f')} | {shares} | {fmt(r['routing_nmi'], '.3f')} | "
                     f"{fmt(r['vote_accuracy'], '.1%')} | {fmt(sps, '.2f')} |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    """Val perplexity and specialisation (NMI) per arm, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if "error" not in r]
    names = [r["arm"] for r in done]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.5 * len(names) + 2), sharey=True)
    left.barh(names, [r["val_ppl"] or 0 for r in done], color="#4c72b0")
    left.set_xlabel("val perplexity (counsel-chat val)")
    if done and any(r["val_ppl"] for r in done):
        low = min(r["val_ppl"] for r in done if r["val_ppl"])
        left.set_xlim(low * 0.97, max(r["val_ppl"] or 0 for r in done) * 1.01)
    right.barh(names, [r["routing_nmi"] or 0 for r in done], color="#dd8452")
    right.set_xlabel("normalised MI expert↔domain (0 for LoRA)")
    left.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [run_arm(args, name) for name in args.arm_names]
    text = table(rows)
    (args.out / "ladder.json").write_text(json.dumps({"steps": args.steps, "seed": args.seed, "seq_len": args.seq_len, "batch": args.batch,
                                                      "base_model": args.base_model, "rows": rows}, indent=1))
    (args.out / "ladder.md").write_text(text + "\n")
    plot(rows, args.out / "ladder.png")
    print(text)
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
