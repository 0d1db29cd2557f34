"""`TherapistAssistant`: the Python API for replies, with routing, safety and history trimming.

    assistant = TherapistAssistant.from_pretrained("therapeutic_moe_model")
    reply = assistant.reply([{"role": "user", "content": "I can't sleep before exams."}])
    print(reply.text, reply.routing[0].domain)
    for chunk in assistant.reply(messages, stream=True):
        print(chunk.text, end="", flush=True)

Order of work for every reply: validate -> crisis check on the user's messages (a crisis gets
the configured crisis reply and no generation at all) -> trim history to the context limit
-> generate -> screen the output (streamed text through the stream screen).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

from therapeutic_moe.inference.context import DEFAULT_MAX_CONTEXT, ContextPlan
from therapeutic_moe.inference.generation import (
    DEFAULT_REPETITION_PENALTY,
    SamplingParams,
    generate_steps,
    stop_token_ids,
)
from therapeutic_moe.inference.messages import fit_messages, validate_messages
from therapeutic_moe.inference.replies import Reply, ReplyChunk, Usage  # noqa: F401 (public names here too)
from therapeutic_moe.inference.routing import TokenRouting, routing_for
from therapeutic_moe.inference.safety_bridge import SafetyBridge
from therapeutic_moe.inference.text_stream import IncrementalDecoder


class TherapistAssistant:
    def __init__(self, model, tokenizer, *, max_context_length: int = DEFAULT_MAX_CONTEXT,
                 safety: SafetyBridge | None = None, plan: ContextPlan | None = None,
                 system_prompt: str | None = None, name: str = "therapeutic-moe"):
        self.model = model
        self.tokenizer = tokenizer
        self.max_context_length = max_context_length
        self.safety = safety
        self.plan = plan
        self.system_prompt = system_prompt
        self.name = name
        self.domains = list(model.moe_config.expert_domains) if model.moe_config is not None else []
        self._stop_ids = stop_token_ids(tokenizer, model)
        # One forward step at a time: the routing trace lives on the shared model context.
        self._step_lock = threading.Lock()

    @classmethod
    def from_pretrained(cls, model_dir, device: str | None = None, max_context_length: int = DEFAULT_MAX_CONTEXT,
                        safety_cfg=None, *, safety: bool = True, rope_method: str = "yarn", dtype=None,
                        system_prompt: str | None = None, quiet: bool = False, event_sink=None) -> "TherapistAssistant":
        """Load a trained directory.

        ``safety_cfg``: a SafetyConfig; None uses the directory's saved safety_config.json, else
        the defaults. ``safety=False`` turns the safety layer off (research and tests only).
        ``system_prompt``: None uses the prompt the model was trained with; "" sends none.
        """
        from pathlib import Path

        from therapeutic_moe.inference.context import load_for_inference
        from therapeutic_moe.inference.model_settings import load_safety_config, saved_system_prompt

        model, tokenizer, plan = load_for_inference(model_dir, device=device, dtype=dtype,
                                                    max_context_length=max_context_length,
                                                    rope_method=rope_method, quiet=quiet)
        bridge = None
        if safety:
            cfg = safety_cfg if safety_cfg is not None else load_safety_config(None, model_dir)
            bridge = SafetyBridge.create(cfg, event_sink=event_sink)
        prompt = saved_system_prompt(model_dir) if system_prompt is None else (system_prompt or None)
        return cls(model, tokenizer, max_context_length=max_context_length, safety=bridge, plan=plan,
                   system_prompt=prompt, name=Path(model_dir).resolve().name)

    # --- replies ---------------------------------------------------------------------------
    def reply(self, messages, max_new_tokens: int = 256, temperature: float = 0.7, top_p: float = 0.9,
              stream: bool = False, *, seed: int | None = None, repetition_penalty: float = DEFAULT_REPETITION_PENALTY,
              should_stop: Callable[[], bool] | None = None, **sampling) -> Reply | Iterator[ReplyChunk]:
        """Answer the last user message. ``stream=True`` returns an iterator of ReplyChunk.
        ``sampling``: more SamplingParams fields (top_k, presence_penalty, frequency_penalty, stop)."""
        chunks = self.stream(messages, max_new_tokens, temperature, top_p, seed=seed,
                             repetition_penalty=repetition_penalty, should_stop=should_stop, **sampling)
        if stream:
            return chunks
        final = None
        for chunk in chunks:
            final = chunk.reply or final
        return final

    def stream(self, messages, max_new_tokens: int = 256, temperature: float = 0.7, top_p: float = 0.9, *,
               seed: int | None = None, repetition_penalty: float = DEFAULT_REPETITION_PENALTY,
               should_stop: Callable[[], bool] | None = None, **sampling) -> Iterator[ReplyChunk]:
        # Everything that can reject the request runs now, before the first chunk is asked for,
        # so a caller (the server) can still answer with an error status.
        start = time.perf_counter()
        params = SamplingParams(max_new_tokens, temperature, top_p, seed, repetition_penalty, **sampling)
        messages = validate_messages(messages)
        if self.system_prompt and not any(m["role"] == "system" for m in messages):
            messages = [{"role": "system", "content": self.system_prompt}] + messages
        if self.safety is not None:
            assessment = self.safety.check(messages)
            if assessment is not None:
                return iter([self._crisis_chunk(assessment, start)])
        budget = self.max_context_length - params.max_new_tokens
        if budget < 1:
            from therapeutic_moe.errors import UserError

            raise UserError(f"max_new_tokens={params.max_new_tokens} leaves no room for the prompt in the "
                            f"{self.max_context_length}-token context")
        prompt = fit_messages(self.tokenizer, messages, budget)
        return self._generate(prompt, params, start, should_stop)

    def _crisis_chunk(self, assessment, start: float) -> ReplyChunk:
        text = self.safety.crisis_reply(assessment)
        reply = Reply(text=text, crisis=assessment, finish_reason="crisis", seconds=time.perf_counter() - start)
        return ReplyChunk(text=text, reply=reply)

    def _generate(self, prompt, params: SamplingParams, start: float,
                  should_stop: Callable[[], bool] | None) -> Iterator[ReplyChunk]:
        decoder = IncrementalDecoder(self.tokenizer, params.stop)
        screen = self.safety.stream_screen() if self.safety is not None else None
        routing: list[TokenRouting] = []
        finish = "length"
        n_generated = 0
        for token, gates in generate_steps(self.model, prompt.input_ids, params, self._stop_ids,
                                           step_lock=self._step_lock, should_stop=should_stop):
            n_generated += 1
            if token in self._stop_ids:
                finish = "stop"
                break
            piece = decoder.add(token)
            entry = routing_for(gates, self.domains, piece)
            if entry is not None:
                routing.append(entry)
            if screen is None:
                if piece:  # a token that completes no character yet has nothing to show
                    yield ReplyChunk(text=piece, routing=[entry] if entry is not None else [])
            else:
                yield from screen.feed(piece, entry)
                if screen.blocked:
                    finish = "content_filter"
                    break
            if decoder.stopped:  # a stop string: the reply ends before it
                finish = "stop"
                break
        else:
            if should_stop is not None and should_stop():
                finish = "cancelled"
        tail = decoder.flush()
        raw_text = decoder.text
        if tail and routing:
            routing[-1].text += tail
        text, reasons = raw_text, []
        if screen is None:
            if tail:
                yield ReplyChunk(text=tail, routing=[replace(routing[-1], text=tail)] if routing else [])
        else:
            if tail and not screen.blocked:
                yield from screen.feed(tail, None)
            yield from screen.finish()
            text, reasons = screen.text, screen.reasons
            if screen.blocked:
                finish = "content_filter"
            if text != raw_text:
                routing = screen.routing  # what was really shown, piece by piece
        reply = Reply(text=text, routing=routing, usage=Usage(len(prompt.input_ids), n_generated),
                      finish_reason=finish, dropped_messages=prompt.dropped, screen_reasons=reasons,
                      seconds=time.perf_counter() - start)
        yield ReplyChunk(reply=reply)
