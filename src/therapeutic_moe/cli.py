"""`therapeutic-moe` command line: one subcommand per area, each registered by its package.

Every module in ``COMMAND_MODULES`` exposes ``register(subparsers)``; it adds its parser
and sets ``func`` to a callable ``(args) -> int``. A command that takes config keys as
free ``--key value`` options (``train``) also sets ``accepts_overrides=True`` and finds
them in ``args.overrides``. A ``UserError`` anywhere becomes one line on stderr and exit
code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

from therapeutic_moe import __version__
from therapeutic_moe.argparsing import CommandParser
from therapeutic_moe.errors import TrainingHalted, UserError

# Module -> the commands it registers. Each module must stay light to import (torch and
# friends are imported inside the command's function), so `--help` is instant; a test
# checks that every command listed here exists and that none imports torch for --help.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "therapeutic_moe.training.cli": ("train",),
    "therapeutic_moe.data.cli": ("data",),
    "therapeutic_moe.evaluation.cli": ("evaluate",),
    "therapeutic_moe.evaluation.replies.cli": ("replies",),
    "therapeutic_moe.inference.cli": ("chat",),
    "therapeutic_moe.serving.cli": ("serve",),
    "therapeutic_moe.bench.cli": ("bench",),
    "therapeutic_moe.export.cli": ("export",),
}


def build_parser() -> CommandParser:
    parser = CommandParser(
        prog="therapeutic-moe",
        description="Train, evaluate, chat with and serve a therapeutic MoE-LoRA model.",
        epilog="Every command has --help. Options may be written --snake_case or --kebab-case.",
    )
    parser.add_argument("--version", action="version", version=f"therapeutic-moe {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_overrides", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.overrides = extra
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
