"""A token-by-token generation loop with KV cache that also reports each token's routing.

HF ``generate`` hides the per-step forward, so the routing trace of a step could not be tied
to the token it produced; this loop is short, streams naturally, and holds a lock only for
the duration of one forward step, so several replies can interleave on one model without
mixing their routing traces.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch

from therapeutic_moe.inference.routing import last_position_gates

DEFAULT_REPETITION_PENALTY = 1.1
MAX_STOP_STRINGS = 4  # OpenAI's limit


@dataclass
class SamplingParams:
    """How to pick the next token."""

    max_new_tokens: int = field(default=256, metadata={"help": "Most tokens to generate."})
    temperature: float = field(default=0.7, metadata={"help": "Softmax temperature; 0 = greedy (argmax)."})
    top_p: float = field(default=0.9, metadata={"help": "Nucleus sampling: smallest token set with this much mass."})
    seed: int | None = field(default=None, metadata={"help": "Random seed for reproducible sampling."})
    repetition_penalty: float = field(
        default=DEFAULT_REPETITION_PENALTY,
        metadata={"help": "Penalty on tokens the reply already contains (CTRL/HF rule: positive logits "
                  "divided by it, negative ones multiplied); 1 = off. Small models loop without it."})
    top_k: int = field(default=0, metadata={"help": "Sample only from the k most likely tokens; 0 = off."})
    presence_penalty: float = field(
        default=0.0, metadata={"help": "OpenAI rule: subtracted from the logit of every token the reply already "
                               "contains; -2..2, 0 = off."})
    frequency_penalty: float = field(
        default=0.0, metadata={"help": "OpenAI rule: subtracted once per earlier occurrence in the reply; -2..2, "
                               "0 = off."})
    stop: tuple[str, ...] = field(
        default=(), metadata={"help": "Up to 4 strings that end the reply; the reply stops before the first one "
                              "and does not contain it (OpenAI semantics)."})

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            problems.append(f"max_new_tokens={self.max_new_tokens!r} must be a whole number >= 1")
        if not 0.0 <= float(self.temperature) <= 5.0:
            problems.append(f"temperature={self.temperature!r} must be between 0 and 5")
        if not 0.0 < float(self.top_p) <= 1.0:
            problems.append(f"top_p={self.top_p!r} must be in (0, 1]")
        if not 1.0 <= float(self.repetition_penalty) <= 2.0:
            problems.append(f"repetition_penalty={self.repetition_penalty!r} must be between 1 and 2 (1 = off)")
        problems += self._check_openai_fields()
        if problems:
            from therapeutic_moe.errors import UserError

            raise UserError("; ".join(problems))


    def _check_openai_fields(self) -> list[str]:
        problems = []
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 0:
            problems.append(f"top_k={self.top_k!r} must be a whole number >= 0 (0 = off)")
        for name in ("presence_penalty", "frequency_penalty"):
            if not -2.0 <= float(getattr(self, name)) <= 2.0:
                problems.append(f"{name}={getattr(self, name)!r} must be between -2 and 2 (0 = off)")
        self.stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())
        if len(self.stop) > MAX_STOP_STRINGS or not all(isinstance(t, str) and t for t in self.stop):
            problems.append(f"stop={list(self.stop)!r:.100} must be up to {MAX_STOP_STRINGS} non-empty strings")
        return problems

    @property
    def penalises(self) -> bool:
        return self.repetition_penalty != 1.0 or self.presence_penalty != 0.0 or self.frequency_penalty != 0.0


def apply_penalties(logits: torch.Tensor, counts: dict[int, int], repetition_penalty: float = 1.0,
                    presence_penalty: float = 0.0, frequency_penalty: float = 0.0) -> torch.Tensor:
    """Penalise the reply's earlier tokens (``counts``: token id -> times it occurred).

    repetition: CTRL/HF rule (positive logits divided, negative multiplied); presence and
    frequency: OpenAI's rule, logit - presence·[count > 0] - frequency·count.
    """
    if not counts:
        return logits
    ids = torch.tensor(list(counts), dtype=torch.long, device=logits.device)
    picked = logits[ids]
    if repetition_penalty != 1.0:
        picked = torch.where(picked > 0, picked / repetition_penalty, picked * repetition_penalty)
    if presence_penalty or frequency_penalty:
        n = torch.tensor(list(counts.values()), dtype=logits.dtype, device=logits.device)
        picked = picked - presence_penalty - frequency_penalty * n
    return logits.scatter(0, ids, picked)


def sample_next(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator | None,
                repetition_penalty: float = 1.0, seen: torch.Tensor | None = None, *, top_k: int = 0) -> int:
    """One token id from a [V] logit vector; ``seen``: ids already in the reply, penalised
    (the OpenAI penalties are applied by the caller through ``apply_penalties``)."""
    logits = logits.float()
    if repetition_penalty != 1.0 and seen is not None and seen.numel():
        logits = apply_penalties(logits, dict.fromkeys(seen.tolist(), 1), repetition_penalty)
    if temperature <= 0:
        return int(logits.argmax())
    if 0 < top_k < logits.shape[-1]:
        kth = logits.topk(top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(descending=True)
        # Keep a token while the mass BEFORE it is below top_p: the top token always stays.
        keep = (sorted_probs.cumsum(0) - sorted_probs) < top_p
        sorted_probs = sorted_probs * keep
        probs = torch.zeros_like(probs).scatter(0, order, sorted_probs)
    return int(torch.multinomial(probs / probs.sum(), 1, generator=generator))


def stop_token_ids(tokenizer, model) -> set[int]:
    """End-of-turn ids: the tokenizer's eos, the generation config's eos, and ChatML's <|im_end|>."""
    ids = set()
    for value in (getattr(tokenizer, "eos_token_id", None),
                  getattr(getattr(model.base, "generation_config", None), "eos_token_id", None)):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != getattr(tokenizer, "unk_token_id", None):
        ids.add(im_end)
    return ids


def generate_steps(model, prompt_ids: list[int], params: SamplingParams, stop_ids: set[int], *,
                   step_lock: threading.Lock | None = None,
                   should_stop: Callable[[], bool] | None = None) -> Iterator[tuple[int, torch.Tensor | None]]:
    """Yield (token id, [layers, experts] gates that produced it) until a stop token or the limit.

    The stop token itself is yielded too (callers leave it out of the text).
    """
    device = next(model.parameters()).device
    ctx = model.context
    num_layers = len(model.moe_layers)
    generator = None
    if params.seed is not None:
        generator = torch.Generator(device=device).manual_seed(int(params.seed))
    ids = torch.tensor([prompt_ids], dtype=torch.long, device=device)
    lock = step_lock or nullcontext()
    # Only the reply's own tokens: penalising the prompt would push the model away from the
    # client's words, which a therapist's reply should be free to reflect back.
    counts: dict[int, int] = {}
    past = None
    # This conversation's running means for sequence routers (moe/sequence.py): its own, handed
    # to the shared context only while its step holds the lock, so interleaved streams of a
    # server never mix their conversations.
    sequence_state: dict = {}
    for _ in range(params.max_new_tokens):
        if should_stop is not None and should_stop():
            return
        with lock, torch.inference_mode():
            trace = None
            if ctx is not None:
                ctx.trace = trace = []
                ctx.sequence_state = sequence_state
            try:
                # logits_to_keep=1: the prompt's full [T, vocab] logits would be wasted work.
                out = model(input_ids=ids, past_key_values=past, use_cache=True, logits_to_keep=1)
            finally:
                if ctx is not None:
                    ctx.trace = ctx.sequence_state = None
            past = out.past_key_values
            gates = last_position_gates(trace, num_layers) if trace else None
            logits = out.logits[0, -1].float()
            if params.penalises:
                logits = apply_penalties(logits, counts, params.repetition_penalty, params.presence_penalty,
                                         params.frequency_penalty)
            token = sample_next(logits, params.temperature, params.top_p, generator, top_k=params.top_k)
        counts[token] = counts.get(token, 0) + 1
        yield token, (gates.cpu() if gates is not None else None)
        if token in stop_ids:
            return
        ids = torch.tensor([[token]], dtype=torch.long, device=device)
