"""`therapeutic-moe replies MODEL [MODEL ...] --dataset PATH`: generate, check and judge replies.

Only argparse at import time: `--help` must not import torch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from therapeutic_moe.errors import ConfigError
from therapeutic_moe.inference.cli import DEFAULT_REPETITION_PENALTY  # the sampler's, without torch

DESCRIPTION = (
    "Generate replies to held-out client questions with each MODEL (its chat template and system prompt, the "
    "chat sampler's defaults, the crisis layer and output screen on), save them as replies_<label>.jsonl, and "
    "score them: automatic checks (crisis-layer replies, output-screen cuts, repetition, length, refusals, "
    "dosing advice on medication questions) and, when a judge is configured, a six-dimension rubric and a "
    "position-swapped pairwise comparison. Writes replies_report.json, replies_report.md (side by side), "
    "judge_answers.jsonl (every raw judge answer) and reply_scores.png. Nothing is sent anywhere unless "
    "--judge-endpoint is given."
)
MODEL_HELP = ("a trained model directory; base:DIR for that directory's base model (adapters and experts off, "
              "same prompt and sampler); or a replies_*.jsonl written earlier (scored again, not regenerated)")


def register(subparsers) -> None:
    parser = subparsers.add_parser("replies", help="generate replies to held-out questions and score them",
                                   description=DESCRIPTION)
    parser.add_argument("models", nargs="+", metavar="MODEL", help=MODEL_HELP)
    parser.add_argument("--dataset", default=None, metavar="PATH",
                        help="held-out conversations (any format training reads); the first client turn of each "
                             "is a question. Required unless every MODEL is a replies file")
    parser.add_argument("--max-questions", type=int, default=20, metavar="N",
                        help="questions spread evenly over the dataset's unique questions (0 = all)")
    parser.add_argument("--labels", default=None, metavar="A,B,...", help="report names, one per MODEL")
    parser.add_argument("--out", default="replies_eval", metavar="DIR", help="output directory")
    gen = parser.add_argument_group("generation (defaults: the chat sampler's)")
    gen.add_argument("--max-new-tokens", type=int, default=256, metavar="N", help="most tokens per reply")
    gen.add_argument("--temperature", type=float, default=0.7, help="sampling temperature, 0 = greedy")
    gen.add_argument("--top-p", type=float, default=0.9, help="nucleus sampling mass")
    gen.add_argument("--repetition-penalty", type=float, default=DEFAULT_REPETITION_PENALTY,
                     help="penalty on the reply's own tokens, 1 = off")
    gen.add_argument("--seed", type=int, default=0, help="question i is sampled with seed+i, the same for every model (default 0)")
    gen.add_argument("--device", default=None, help="torch device (default: cuda if available)")
    gen.add_argument("--safety-config", default=None, metavar="PATH",
                     help="safety_config.json (default: the one saved in each model directory)")
    gen.add_argument("--max-context-length", type=int, default=8192, metavar="N", help="context the models load for")
    judge = parser.add_argument_group("judge (default: none, automatic checks only)")
    where = judge.add_mutually_exclusive_group()
    where.add_argument("--judge-endpoint", default=None, metavar="URL",
                       help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1 (vLLM, llama.cpp, a hosted API)")
    where.add_argument("--judge-local", default=None, metavar="DIR|NAME",
                       help="a local Hugging Face chat model directory, or smollm2-135m-instruct (a weak judge)")
    judge.add_argument("--judge-model", default=None, metavar="NAME", help="model name sent to the endpoint")
    judge.add_argument("--judge-api-key-env", default=None, metavar="VAR",
                       help="environment variable holding the endpoint's API key (never on the command line)")
    judge.add_argument("--judge-max-new-tokens", type=int, default=200, metavar="N", help="most tokens per judge answer")
    judge.add_argument("--judge-timeout", type=float, default=120.0, metavar="S", help="seconds per endpoint answer")
    judge.add_argument("--pairwise", action="store_true", help="compare the two MODELs, each question in both orders")
    judge.add_argument("--no-rubric", action="store_true", help="skip the per-reply rubric (pairwise only)")
    parser.add_argument("--no-plots", action="store_true", help="write no PNG plot")
    parser.set_defaults(func=run_replies)


def _validate(args) -> None:
    checks = [(args.max_questions >= 0, "--max-questions must be >= 0"),
              (args.max_new_tokens >= 1, "--max-new-tokens must be >= 1"),
              (args.judge_max_new_tokens >= 1, "--judge-max-new-tokens must be >= 1"),
              (args.judge_timeout > 0, "--judge-timeout must be > 0"),
              (not (args.pairwise and len(args.models) != 2), "--pairwise needs exactly two MODELs"),
              (not ((args.pairwise or args.no_rubric) and not (args.judge_endpoint or args.judge_local)),
               "--pairwise and --no-rubric need a judge: --judge-endpoint URL or --judge-local DIR"),
              (not (args.no_rubric and not args.pairwise), "--no-rubric leaves nothing to judge; add --pairwise"),
              (args.dataset is None or Path(args.dataset).exists(), f"--dataset {args.dataset}: no such file or directory")]
    problems = [message for ok, message in checks if not ok]
    if problems:
        raise ConfigError("; ".join(problems))


def _judge(args):
    from therapeutic_moe.evaluation.replies.judges import EndpointJudge, JudgeSettings, LocalJudge

    settings = JudgeSettings(args.judge_max_new_tokens, 0.0, args.judge_timeout)
    if args.judge_endpoint:
        return EndpointJudge.from_args(args.judge_endpoint, args.judge_model, settings, args.judge_api_key_env)
    if args.judge_local:
        return LocalJudge.load(args.judge_local, settings, device=args.device)
    return None


def run_replies(args) -> int:
    from therapeutic_moe.evaluation.replies.generate import Sampling, parse_model_spec, unique_labels
    from therapeutic_moe.evaluation.replies.pipeline import ReplyEvalPlan, evaluate_replies
    from therapeutic_moe.evaluation.replies.report import markdown_tables
    from therapeutic_moe.inference.generation import SamplingParams

    _validate(args)
    labels = [x.strip() for x in args.labels.split(",")] if args.labels else None
    specs = unique_labels([parse_model_spec(m) for m in args.models], labels)
    SamplingParams(args.max_new_tokens, args.temperature, args.top_p, None, args.repetition_penalty)  # range checks
    sampling = Sampling(args.max_new_tokens, args.temperature, args.top_p, args.repetition_penalty, args.seed)
    plan = ReplyEvalPlan(specs=specs, out_dir=Path(args.out), dataset=args.dataset, max_questions=args.max_questions,
                         sampling=sampling, judge=_judge(args), rubric=not args.no_rubric, pairwise=args.pairwise,
                         device=args.device, safety_config=args.safety_config,
                         max_context_length=args.max_context_length, plots=not args.no_plots)
    report, files = evaluate_replies(plan)
    print("\n".join(markdown_tables(report)))
    print(f"\nreplies evaluated in {report['seconds']:.1f} s; report {files['markdown']}", file=sys.stderr)
    return 0
