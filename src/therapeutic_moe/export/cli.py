"""`therapeutic-moe export MODEL_DIR --format ...`: deployable copies of a trained model.

Imports nothing heavy at module level, so `--help` stays fast (no torch).
"""

from __future__ import annotations

import sys
from pathlib import Path

from therapeutic_moe.errors import UserError
from therapeutic_moe.export import FORMATS

DTYPES = ("float32", "bfloat16", "float16")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a trained model: merged HF model, per-domain PEFT adapters (vLLM), fixed-gate LoRA, GGUF",
        description="Write a trained directory in a format other tools load without therapeutic-moe. "
                    "merged: attention LoRA merged into a full HF model (experts dropped). domain-adapters: one "
                    "standard PEFT LoRA adapter per domain (attention LoRA + that expert, gate 1), for stock PEFT "
                    "and vLLM multi-LoRA. fixed-gate: the exact LoRA equal to the MoE model under a fixed gate "
                    "vector (--gate), as an adapter or --merge'd. gguf: the merged model as one GGUF file (llama.cpp, Ollama). "
                    "See docs/export.md.")
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="a directory written by `therapeutic-moe train`")
    parser.add_argument("--format", required=True, choices=FORMATS, help="what to write")
    parser.add_argument("--output", "-o", metavar="PATH", default=None,
                        help="output directory, or a .gguf file for gguf (default: MODEL_DIR-FORMAT beside MODEL_DIR, "
                             "MODEL_DIR.gguf for gguf)")
    parser.add_argument("--gate", default="average", metavar="SPEC",
                        help="fixed-gate: uniform, average (training_report.json routing), a "
                             "domain name, comma-separated numbers (one per expert) or a .json file "
                             "(default: %(default)s)")
    parser.add_argument("--merge", action="store_true",
                        help="fixed-gate: merge the LoRA into the base weights instead of writing an adapter")
    parser.add_argument("--dtype", default=None, choices=DTYPES,
                        help="weight type of merged models (default float32) and GGUF files (default float16)")
    parser.add_argument("--base-model", default=None, metavar="NAME",
                        help="base model to export onto instead of the one recorded in moe_config.json")
    parser.add_argument("--force", action="store_true", help="replace an existing output")
    parser.set_defaults(func=run_export)


def _output(args) -> Path:
    model_dir = Path(args.model_dir)
    default = f"{model_dir.resolve().name}.gguf" if args.format == "gguf" else f"{model_dir.resolve().name}-{args.format}"
    out = Path(args.output) if args.output else model_dir.parent / default
    if out.resolve() == model_dir.resolve():
        raise UserError(f"--output {out} is the model directory itself; choose another path")
    if out.exists() and not args.force:
        raise UserError(f"{out} already exists; choose another --output or pass --force to replace it")
    return out


def run_export(args) -> int:
    import shutil

    from therapeutic_moe.export.adapters import export_domain_adapters, require_experts
    from therapeutic_moe.export.gates import parse_gates
    from therapeutic_moe.export.merge import export_fixed_gate, export_merged
    from therapeutic_moe.export.source import open_source

    out = _output(args)
    dtype = args.dtype or "float32"  # GGUF files default to float16 instead
    source = open_source(args.model_dir, args.base_model)
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    if args.format == "merged":
        export_merged(source, out, dtype)
    elif args.format == "domain-adapters":
        export_domain_adapters(source, out)
    elif args.format == "gguf":
        from therapeutic_moe.export.gguf_export import export_gguf

        export_gguf(source, out, args.dtype or "float16")
    else:
        require_experts(source, "fixed-gate")
        gates = parse_gates(args.gate, source.domains, source.num_moe_layers, source.directory)
        export_fixed_gate(source, gates, args.gate, out, args.merge, dtype)
    print(f"exported {args.format}: {out}", file=sys.stderr)
    return 0
