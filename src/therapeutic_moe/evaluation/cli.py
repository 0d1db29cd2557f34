"""`therapeutic-moe evaluate MODEL_DIR --dataset PATH`: held-out quality, routing and long context."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from therapeutic_moe.errors import ConfigError

DEFAULT_CONTEXT_LENGTHS = "512,1024,2048,4096,8192"


def parse_lengths(text: str) -> list[int]:
    if text.strip().lower() in ("", "none", "off"):
        return []
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 2:
            raise ConfigError(f"--context-lengths: {part!r} is not a token count >= 2; "
                              f"write e.g. {DEFAULT_CONTEXT_LENGTHS} (or 'none')")
        out.append(int(part))
    return sorted(set(out))


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="measure a trained model on held-out conversations",
        description="Loss and perplexity on therapist tokens (the trained model and the base model without "
                    "adapters), expert share per layer, routing entropy, dead experts, domain-routing accuracy "
                    "and confusion matrix (when the data has domain labels) and perplexity by context length "
                    "on long sessions, each next to the training guide's targets. Writes "
                    "evaluation_report.json and PNG plots.",
    )
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="trained model directory")
    parser.add_argument("--dataset", required=True, metavar="PATH",
                        help="held-out conversations: any training data source (JSON/JSONL, ShareGPT, Alpaca, "
                             "Parquet, Arrow, a saved Hugging Face dataset or hub id)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--base-only", action="store_true",
                      help="evaluate only the base model (adapters off, experts bypassed)")
    mode.add_argument("--no-baseline", action="store_true", help="skip the base-model comparison (faster)")
    parser.add_argument("--max-seq-length", type=int, default=None, metavar="N",
                        help="window length for loss/perplexity (default: the model's training max_seq_length)")
    parser.add_argument("--context-lengths", default=DEFAULT_CONTEXT_LENGTHS, metavar="N,N,...",
                        help="window lengths for perplexity by context length ('none' to skip)")
    parser.add_argument("--max-windows", type=int, default=16, metavar="N",
                        help="most windows per context length (from the longest conversations)")
    parser.add_argument("--same-tokens", action="store_true",
                        help="perplexity by context length on the same tokens at every length: only sessions "
                             "that reach the longest length, their first that-many tokens (--max-windows "
                             "then counts sessions)")
    parser.add_argument("--topic-to-domain", default=None, metavar="NAME|PATH",
                        help="topic -> domain map for labels (default: the one the model was trained with)")
    parser.add_argument("--out", default=None, metavar="DIR", help="report directory (default: MODEL_DIR/evaluation)")
    parser.add_argument("--json", action="store_true", help="print the JSON report instead of the table")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available)")
    parser.add_argument("--batch-tokens", type=int, default=16384, metavar="N",
                        help="tokens per forward pass, in packed rows (lower it if memory runs out)")
    parser.add_argument("--no-plots", action="store_true", help="write no PNG plots")
    parser.set_defaults(func=run_evaluate)


def _tokenizer_and_domains(model_dir: Path):
    """The model's tokenizer and expert names, read before the (larger) model is loaded."""
    from therapeutic_moe.errors import ModelDirError
    from therapeutic_moe.modeling.base_model import load_tokenizer, resolve_base_model
    from therapeutic_moe.modeling.saving import read_meta

    if not model_dir.is_dir():
        raise ModelDirError(f"{model_dir}: no such model directory")
    meta = read_meta(model_dir)
    if (model_dir / "tokenizer_config.json").is_file():
        tokenizer = load_tokenizer(str(model_dir))
    else:
        tokenizer = load_tokenizer(resolve_base_model(meta.get("base_model", "")))
    domains = list(meta.get("expert_domains") or []) if meta.get("use_moe", True) else []
    return tokenizer, domains


def run_evaluate(args) -> int:
    from therapeutic_moe.evaluation.data_source import load_eval_data
    from therapeutic_moe.evaluation.evaluate import evaluate_model
    from therapeutic_moe.evaluation.report import format_table, write_report
    from therapeutic_moe.inference.context import load_for_inference

    lengths = parse_lengths(args.context_lengths)
    for name in ("max_windows", "batch_tokens"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1")
    if args.max_seq_length is not None and args.max_seq_length < 16:
        raise ConfigError("--max-seq-length must be >= 16")
    from therapeutic_moe.data.format_hf import looks_like_hub_id

    if not Path(args.dataset).exists() and not looks_like_hub_id(args.dataset):
        raise ConfigError(f"--dataset {args.dataset}: no such file or directory")
    start = time.time()
    tokenizer, domains = _tokenizer_and_domains(Path(args.model_dir))
    data = load_eval_data(args.dataset, tokenizer, domains, model_dir=args.model_dir,
                          max_seq_length=args.max_seq_length, topic_to_domain=args.topic_to_domain)
    # Loaded for the longest window the data can fill: beyond the native range the windows
    # then use the same RoPE scaling serving would use at that context length.
    longest = max(len(e.input_ids) for e in data.whole) if data.whole else 0
    usable = [n for n in lengths if n <= longest]
    model, _, plan = load_for_inference(args.model_dir, device=args.device,
                                        max_context_length=max(usable) if usable else None, quiet=args.json)
    result = evaluate_model(model, tokenizer, data.examples, long_sequences=data.whole, context_lengths=lengths,
                            adapted=not args.base_only, baseline=not args.no_baseline,
                            max_batch_tokens=args.batch_tokens, max_windows_per_length=args.max_windows,
                            same_tokens=args.same_tokens, progress=True)
    result.update(model_dir=str(args.model_dir), dataset=str(args.dataset), conversations=data.conversations,
                  labelled_conversations=data.labelled, dropped_windows=data.drops,
                  long_turns_split=data.long_turns_split, context=plan.to_dict(),
                  seconds=round(time.time() - start, 1))
    out_dir = Path(args.out) if args.out else Path(args.model_dir) / "evaluation"
    path = write_report(result, out_dir, plots=not args.no_plots)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result))
        print(f"\nReport: {path}")
    print(data.coverage_line(), file=sys.stderr)
    print(f"evaluation finished in {time.time() - start:.1f} s; report {path}", file=sys.stderr)
    return 0
