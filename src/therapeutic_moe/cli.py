"""`therapeutic-moe` command line: one subcommand per area, each registered by its package.

Every subcommand module exposes ``register(subparsers)``; it adds its parser and sets
``func`` to a callable ``(args) -> int``. A ``UserError`` anywhere becomes one line on
stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from therapeutic_moe import __version__
from therapeutic_moe.errors import TrainingHalted, UserError

# Imported lazily so `--help` and `data check` stay fast (no torch import needed for help).
SUBCOMMAND_MODULES = [
    "therapeutic_moe.training.cli",  # train
    "therapeutic_moe.data.cli",  # data check
    "therapeutic_moe.evaluation.cli",  # evaluate
    "therapeutic_moe.inference.cli",  # chat, generate
    "therapeutic_moe.serving.cli",  # serve
    "therapeutic_moe.bench.cli",  # bench
    "therapeutic_moe.modeling.cli",  # model prepare / info
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="therapeutic-moe",
        description="Train, evaluate, chat with and serve a therapeutic MoE-LoRA model.",
    )
    parser.add_argument("--version", action="version", version=f"therapeutic-moe {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # area not built yet: leave its command out
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # `train` accepts any config key as --key value, so it takes the unknown arguments.
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "_train", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "_train", False):
        from therapeutic_moe.training.cli import run as run_train

        args.func = lambda a: run_train(a, extra)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except TrainingHalted as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
