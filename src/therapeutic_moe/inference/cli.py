"""`therapeutic-moe chat MODEL_DIR`: an interactive, streaming conversation in the terminal."""

from __future__ import annotations

import argparse
import sys

from therapeutic_moe.inference.context import DEFAULT_MAX_CONTEXT, ROPE_METHODS

# The sampler's default (inference.generation.DEFAULT_REPETITION_PENALTY, checked equal by a
# test): that module imports torch, which `--help` must not wait for.
DEFAULT_REPETITION_PENALTY = 1.1

COMMANDS_HELP = "commands: /experts (toggle expert display), /reset (new conversation), /quit"
# ANSI foreground colours per expert index (cycled), used only when stdout is a terminal.
ANSI_COLOURS = ["\033[38;5;33m", "\033[38;5;35m", "\033[38;5;166m", "\033[38;5;129m",
                "\033[38;5;160m", "\033[38;5;30m", "\033[38;5;136m", "\033[38;5;61m"]
ANSI_RESET = "\033[0m"


def add_generation_args(parser: argparse.ArgumentParser) -> None:
    """Options shared by chat and serve for loading the model."""
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="trained model directory (output of `train`)")
    parser.add_argument("--max-context-length", type=int, default=DEFAULT_MAX_CONTEXT, metavar="N",
                        help="longest context in tokens (default %(default)s); beyond the base model's native "
                             "positions RoPE scaling is applied at load, see --rope-scaling")
    parser.add_argument("--rope-scaling", choices=ROPE_METHODS, default="yarn",
                        help="RoPE scaling used when --max-context-length exceeds the native range "
                             "(default %(default)s)")
    parser.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda:0 (default: cuda if available)")
    parser.add_argument("--safety-config", default=None, metavar="PATH",
                        help="safety_config.json to use (default: the one saved in MODEL_DIR, else built-in defaults)")
    parser.add_argument("--system-prompt", default=None, metavar="TEXT",
                        help="system prompt (default: the one the model was trained with; '' for none)")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "chat", help="talk with a trained model in the terminal",
        description="Interactive, streaming chat with a trained model. History is kept up to the context "
                    "limit (oldest turns are dropped first, the system prompt is kept). Crisis messages get "
                    "the configured crisis reply. Works with piped stdin, one message per line. "
                    + COMMANDS_HELP + ".",
    )
    add_generation_args(parser)
    parser.add_argument("--show-experts", action="store_true",
                        help="show which expert produced the reply (colours in a terminal, shares per turn)")
    parser.add_argument("--max-new-tokens", type=int, default=256, metavar="N",
                        help="most tokens per reply (default %(default)s)")
    parser.add_argument("--temperature", type=float, default=0.7, help="sampling temperature, 0 = greedy (default %(default)s)")
    parser.add_argument("--top-p", type=float, default=0.9, help="nucleus sampling mass (default %(default)s)")
    parser.add_argument("--repetition-penalty", type=float, default=DEFAULT_REPETITION_PENALTY,
                        help="penalty on tokens the reply already used, 1 = off (default %(default)s)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for reproducible replies")
    parser.set_defaults(func=run_chat)


def load_assistant(args, quiet: bool = False):
    from therapeutic_moe.inference.assistant import TherapistAssistant
    from therapeutic_moe.inference.model_settings import load_safety_config

    safety_cfg = load_safety_config(args.safety_config, args.model_dir)
    return TherapistAssistant.from_pretrained(
        args.model_dir, device=args.device, max_context_length=args.max_context_length, safety_cfg=safety_cfg,
        rope_method=args.rope_scaling, system_prompt=args.system_prompt, quiet=quiet)


def _shares_line(reply, domains: list[str]) -> str:
    shares = reply.expert_shares(domains)
    if not shares:
        return "experts: (none: crisis reply or no generated tokens)"
    return "experts: " + " | ".join(f"{name} {share:.0%}" for name, share in shares.items())


def run_chat(args) -> int:
    from therapeutic_moe.errors import UserError

    out = sys.stdout
    tty_in, tty_out = sys.stdin.isatty(), out.isatty()
    assistant = load_assistant(args)
    domains = assistant.domains
    show = bool(args.show_experts)
    print(f"Chatting with {assistant.name} ({assistant.max_context_length}-token context). {COMMANDS_HELP}",
          file=sys.stderr, flush=True)
    if show and tty_out and domains:
        legend = "  ".join(f"{ANSI_COLOURS[i % len(ANSI_COLOURS)]}{d}{ANSI_RESET}" for i, d in enumerate(domains))
        print(f"legend: {legend}", file=sys.stderr)
    history: list[dict] = []
    while True:
        try:
            line = input("you> ") if tty_in else sys.stdin.readline()
        except EOFError:
            break
        if not tty_in and line == "":
            break  # end of piped input
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        if line == "/reset":
            history = []
            print("(conversation reset)", file=out, flush=True)
            continue
        if line == "/experts":
            show = not show
            print(f"(expert display {'on' if show else 'off'})", file=out, flush=True)
            continue
        if line.startswith("/"):
            print(f"(unknown command {line.split()[0]}; {COMMANDS_HELP})", file=out, flush=True)
            continue
        history.append({"role": "user", "content": line})
        try:
            chunks = assistant.reply(history, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                                     top_p=args.top_p, seed=args.seed, repetition_penalty=args.repetition_penalty,
                                     stream=True)
        except UserError as exc:
            history.pop()
            print(f"(not sent: {exc})", file=out, flush=True)
            continue
        if tty_out:
            out.write("assistant> ")
        final = None
        for chunk in chunks:
            if chunk.reply is not None:  # the last chunk; a crisis reply also carries its text
                final = chunk.reply
            if show and tty_out and chunk.routing:
                for r in chunk.routing:
                    colour = ANSI_COLOURS[r.expert % len(ANSI_COLOURS)] if r.expert >= 0 else ""
                    out.write(f"{colour}{r.text}{ANSI_RESET if colour else ''}")
            else:
                out.write(chunk.text)
            out.flush()
        out.write("\n")
        if final.crisis is not None:
            print(f"[crisis reply: risk level {getattr(final.crisis.level, 'value', final.crisis.level)}; "
                  "no text was generated]", file=out)
        elif final.finish_reason == "content_filter":
            print("[part of the reply was withheld by the output screen]", file=out)
        if show:
            print(_shares_line(final, domains), file=out)
        out.flush()
        history.append({"role": "assistant", "content": final.text})
        if final.dropped_messages:
            # The model no longer sees them; keeping them would only grow the history.
            system = [m for m in history if m["role"] == "system"]
            rest = [m for m in history if m["role"] != "system"]
            history = system + rest[final.dropped_messages:]
    return 0
