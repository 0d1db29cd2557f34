"""`therapeutic-moe train` (and the guide's `python train_moe_h100.py`)."""

from __future__ import annotations

import argparse

EPILOG = """\
Any other config key can be given as --key value (e.g. --learning_rate 1e-4 --num_experts 8
--expert_domains psychology,mental_health,...); see --help-config for every key. Every option
may be written --snake_case or --kebab-case (--output_dir = --output-dir).
Config files default to moe_training_config.json, wandb_config.json and safety_config.json in
the current directory when they exist.
examples:
  therapeutic-moe train --config configs/quickstart_cpu.json
  therapeutic-moe train --resume_from_checkpoint latest
  python train_moe_h100.py --resume_from_checkpoint therapeutic_moe_model/checkpoint-1500
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="training config, JSON or YAML (default: ./moe_training_config.json "
                                         "if present)")
    parser.add_argument("--wandb_config", help="WandB config, JSON or YAML (default: ./wandb_config.json if present)")
    parser.add_argument("--safety_config", help="safety config, JSON or YAML (default: ./safety_config.json if "
                                                "present)")
    parser.add_argument("--dataset", help="training data: a .json/.jsonl/.parquet/.arrow file, a directory of them, "
                                          "or a saved Hugging Face dataset directory")
    parser.add_argument("--output_dir", help="where checkpoints and the exported model go")
    parser.add_argument("--max_steps", help="stop after this many optimizer steps (overrides epochs)")
    parser.add_argument("--save_steps", help="also checkpoint every N optimizer steps (0 = time-based only)")
    parser.add_argument("--resume_from_checkpoint", help="'latest' or a checkpoint directory")
    parser.add_argument("--help-config", action="store_true", help="list every config key with its default and help")


def run(args: argparse.Namespace) -> int:
    from therapeutic_moe.config import describe_fields, load_run_config, parse_cli_overrides
    from therapeutic_moe.config import SafetyConfig, TrainConfig, WandbConfig

    if args.help_config:
        for cls in (TrainConfig, WandbConfig, SafetyConfig):
            print(describe_fields(cls))
        return 0
    overrides = parse_cli_overrides(args.overrides)
    for key in ("dataset", "output_dir", "max_steps", "save_steps", "resume_from_checkpoint"):
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value
    run_cfg = load_run_config(args.config, args.wandb_config, args.safety_config, overrides)
    from therapeutic_moe.training.loop import train

    return train(run_cfg)


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train the MoE-LoRA model (12 h budget, checkpoints, resume)",
                                   description="Train LoRA + LoRA experts on therapy conversations.",
                                   epilog=EPILOG)
    add_arguments(parser)
    # Any config key may follow as --key value: the CLI passes those in args.overrides.
    parser.set_defaults(func=run, accepts_overrides=True)
