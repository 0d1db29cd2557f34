"""`therapeutic-moe data check PATH`: what training would make of a dataset, before any GPU time."""

from __future__ import annotations

import argparse
import json
import sys

_CHECK_HELP = """\
Load a dataset exactly as training would (speaker parsing, PII scrubbing, de-duplication,
train/validation split, chat template, windows of at most max_seq_length tokens) and print:
conversations, turns, tokens with a length histogram, windows made, dropped samples and
why, domain distribution, identifiers scrubbed per kind, and the fill of training's own batch
plan (packed rows of max_seq_length, and padded micro-batches of per_device_train_batch_size).
Exit code 2 with one line when the data is unusable or training would refuse it.

PATH is a .json / .jsonl / .parquet / .arrow file, a directory of them, a directory saved with
Hugging Face datasets' save_to_disk, or a hub dataset id (owner/name) where the hub can be
reached. Records may be transcripts ("text"), OpenAI "messages", ShareGPT "conversations" or
Alpaca "instruction"/"input"/"output". Settings (speakers, topic_to_domain, expert_domains,
system_prompt, validation_split, ...) come from --config when given.
"""


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="Inspect training data.", description="Inspect training data.")
    data.set_defaults(func=lambda args: (data.print_help(), 2)[1])
    commands = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    check = commands.add_parser("check", help="Report what training would make of a dataset.",
                                description=_CHECK_HELP)
    check.add_argument("path", metavar="PATH", help="dataset file, directory, saved dataset or hub id (above)")
    check.add_argument("--json", action="store_true", help="print the report as JSON instead of text")
    check.add_argument("--config", metavar="FILE",
                       help="training config, JSON or YAML (e.g. moe_training_config.json); its data keys are "
                            "used, others ignored")
    check.add_argument("--max-seq-length", type=int, metavar="N", help="window limit in tokens (default 2048 or "
                                                                        "the config's max_seq_length)")
    check.add_argument("--base-model", metavar="NAME",
                       help="whose tokenizer to count with: a local model directory or hub id (default: the "
                            "config's base_model, else smollm2-135m-instruct)")
    check.add_argument("--topic-to-domain", metavar="NAME|PATH",
                       help="topic -> domain map for records with a 'topic' field: a bundled map name "
                            "(counselchat) or a JSON file (default: the config's topic_to_domain)")
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    from therapeutic_moe.data import check
    from therapeutic_moe.data.settings import settings_from_config_file

    settings = settings_from_config_file(args.config, max_seq_length=args.max_seq_length,
                                         topic_to_domain=args.topic_to_domain)
    base_model = args.base_model or _config_base_model(args.config) or check.DEFAULT_CHECK_MODEL
    print(f"checking {args.path} with the tokenizer of {base_model} ...", file=sys.stderr, flush=True)
    report, refusal = check.check_dataset(args.path, settings, tokenizer_name=base_model)
    if args.json:
        out = report.to_dict()
        out["refusal"] = str(refusal) if refusal else None
        print(json.dumps(out, indent=2))
    else:
        print(report.to_text())
    if refusal:
        raise refusal
    return 0


def _config_base_model(path: str | None) -> str | None:
    if not path:
        return None
    from therapeutic_moe.config.files import load_config_object

    value = load_config_object(path)[0].get("base_model")  # file already validated
    return value if isinstance(value, str) and value else None
