"""What the output screen costs a streamed reply: chunks per reply, tokens until the first
visible text, text held back, and screening time per token, against unscreened streaming.

Replays real therapist answers (counsel-chat validation split, from the shared data folder)
token by token through the default model's tokenizer, the incremental decoder and the
stream screen, exactly as the server streams them; generation itself is left out, so the
numbers are the screen's own. Time to first visible token = tokens until first text x the
model's per-token time.

    python bench/stream_screen.py [--data PATH] [--tokens 30 256] [--limit 173]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from therapeutic_moe.inference.text_stream import IncrementalDecoder
from therapeutic_moe.safety import SafetyLayer

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "counselchat_val.json"


def therapist_answers(path: Path, limit: int) -> list[str]:
    convs = json.loads(path.read_text(encoding="utf-8"))["conversations"]
    answers = [c["text"].split("Therapist:", 1)[1].strip() for c in convs if "Therapist:" in c["text"]]
    return answers[:limit]


def replay(ids: list[int], tokenizer, layer: SafetyLayer | None) -> dict:
    decoder = IncrementalDecoder(tokenizer)
    screen = layer.stream_screen() if layer is not None else None
    chunks, first, held, seconds = 0, None, [], 0.0
    shown = 0
    for n, token in enumerate(ids, 1):
        piece = decoder.add(token)
        start = time.perf_counter()
        out = screen.feed(piece) if screen is not None else piece
        seconds += time.perf_counter() - start
        if out:
            chunks += 1
            shown += len(out)
            first = first or n
        held.append(len(decoder.text) - shown)
    start = time.perf_counter()
    tail = screen.finish() if screen is not None else decoder.flush()
    seconds += time.perf_counter() - start
    if tail:
        chunks += 1
        first = first or len(ids)
    return {"chunks": chunks, "first": first or len(ids), "held": statistics.mean(held),
            "max_held": max(held), "us_per_token": 1e6 * seconds / len(ids),
            "blocked": bool(screen is not None and screen.blocked)}


def summarise(rows: list[dict]) -> dict:
    return {"chunks_per_reply": statistics.mean(r["chunks"] for r in rows),
            "tokens_to_first_text_median": statistics.median(r["first"] for r in rows),
            "tokens_to_first_text_max": max(r["first"] for r in rows),
            "held_chars_mean": statistics.mean(r["held"] for r in rows),
            "held_chars_max": max(r["max_held"] for r in rows),
            "screen_us_per_token": statistics.mean(r["us_per_token"] for r in rows),
            "blocked_replies": sum(r["blocked"] for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="counsel-chat style JSON file")
    parser.add_argument("--tokens", type=int, nargs="+", default=[30, 256], help="reply lengths to replay")
    parser.add_argument("--limit", type=int, default=173, help="most answers to replay")
    args = parser.parse_args()
    from therapeutic_moe.modeling.base_model import load_tokenizer, resolve_base_model

    tokenizer = load_tokenizer(resolve_base_model("smollm2-135m-instruct"))
    answers = therapist_answers(args.data, args.limit)
    layer = SafetyLayer()
    results = {}
    for length in args.tokens:
        replies = [tokenizer.encode(a, add_special_tokens=False)[:length] for a in answers]
        replies = [r for r in replies if len(r) == length]
        for name, screen in (("unscreened", None), ("screened", layer)):
            results[f"{length} tokens, {name}"] = summarise([replay(r, tokenizer, screen) for r in replies])
        results[f"{length} tokens, replies"] = len(replies)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
