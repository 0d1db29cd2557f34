"""`therapeutic-moe bench`: training throughput of our setup against plain PEFT and Liger."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields

EPILOG = """\
Setups (--variants): plain = HF + PEFT LoRA r16 q/k/v/o as users write it; liger = plain +
Liger kernels; ours = our model without experts; ours_e4 / ours_e8 = 4 / 8 LoRA experts top-2.
Weights are random with the real shapes (nothing is downloaded): 135m = SmolLM2-135M,
1b = Llama-3.2-1B, 8b = Llama-3-8B (baselines with gradient checkpointing), tiny = CPU test.
MFU = tok/s x (4*N_matmul + 6*L*seq*d_attn) / 989e12 (H100 bf16 dense peak).
examples:
  therapeutic-moe bench --shapes 135m,1b,8b,8b@8192 --out bench.json
  therapeutic-moe bench --shapes 135m --variants liger,ours_e4 --batch 16 --steps 20
  therapeutic-moe bench --shapes tiny@64 --device cpu --batch 2 --steps 2 --out bench-cpu.json
"""

# argparse type of each BenchOptions field, from its annotation (strings under __future__).
TYPES = {"int": int, "float": float}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from therapeutic_moe.bench.options import BenchOptions

    for f in fields(BenchOptions):
        choices = {"checkpointing": ["auto", "on", "off"], "device": ["auto", "cuda", "cpu"]}.get(f.name)
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=TYPES.get(str(f.type), str), default=f.default,
                            choices=choices, metavar=None if choices else f.name.upper(),
                            help=f.metadata["help"])


def run(args: argparse.Namespace) -> int:
    from therapeutic_moe.bench.options import BenchOptions
    from therapeutic_moe.bench.runner import run_benchmark
    from therapeutic_moe.errors import ConfigError

    known = {f.name for f in fields(BenchOptions)}
    opts = BenchOptions(**{k: v for k, v in vars(args).items() if k in known})
    if opts.steps < 1 or opts.warmup < 0:
        raise ConfigError(f"--steps must be >= 1 and --warmup >= 0 (got {opts.steps}, {opts.warmup})")
    if not 0.1 <= opts.memory_fraction <= 1.0:
        raise ConfigError(f"--memory-fraction must be between 0.1 and 1.0 (got {opts.memory_fraction})")
    try:
        run_benchmark(opts)
    except ValueError as exc:  # bad shape / variant / batch text
        raise ConfigError(str(exc)) from None
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="measure training tokens/s, MFU and memory: ours vs plain PEFT and Liger",
        description="Time training steps of plain PEFT LoRA, PEFT + Liger and our MoE-LoRA model on random "
                    "weights of real model shapes; print a table and write JSON.",
        epilog=EPILOG)
    add_arguments(parser)
    parser.set_defaults(func=run)


def main(argv: list[str] | None = None) -> int:
    """`python -m therapeutic_moe.bench.cli ...`: the bench alone, without the other commands."""
    from therapeutic_moe.errors import UserError

    from therapeutic_moe.argparsing import CommandParser

    parser = CommandParser(prog="therapeutic-moe bench", epilog=EPILOG)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
