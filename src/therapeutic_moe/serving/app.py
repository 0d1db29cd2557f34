"""The HTTP server: OpenAI-compatible chat completions (plain and SSE), models, health,
Prometheus metrics and the web chat page.

Generation runs in worker threads, at most ``max_concurrent`` at a time (their forward steps
interleave on the one model); up to ``max_queue`` more wait, and anything beyond gets 429.
Every error is a JSON body ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
import uuid
import weakref
from functools import partial
from pathlib import Path

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from therapeutic_moe import __version__
from therapeutic_moe.errors import UserError
from therapeutic_moe.inference.messages import ContextTooLong, InvalidMessages
from therapeutic_moe.serving.metrics import ServerMetrics
from therapeutic_moe.serving.middleware import AuthMiddleware, BodyLimitMiddleware, MetricsMiddleware, error_body
from therapeutic_moe.serving.schemas import ChatCompletionRequest, unsupported_field
from therapeutic_moe.serving.settings import ServeSettings

WEB_DIR = Path(__file__).with_name("web")
DISCONNECT_POLL_S = 0.25
log = logging.getLogger("therapeutic_moe.serving")


class Rejected(Exception):
    def __init__(self, status: int, message: str, code: str):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class Admission:
    """At most ``max_concurrent`` replies run; ``max_queue`` more may wait up to ``timeout`` s."""

    def __init__(self, max_concurrent: int, max_queue: int, timeout: float):
        self.max_concurrent, self.max_queue, self.timeout = max_concurrent, max_queue, timeout
        self.count = 0  # running + waiting
        self._slots: asyncio.Semaphore | None = None

    async def enter(self) -> None:
        if self._slots is None:  # created lazily inside the server's event loop
            self._slots = asyncio.Semaphore(self.max_concurrent)
        if self.count >= self.max_concurrent + self.max_queue:
            raise Rejected(429, f"server is at capacity ({self.max_concurrent} running, {self.max_queue} waiting); "
                           "retry shortly", "rate_limit_exceeded")
        self.count += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.timeout)
        except (asyncio.TimeoutError, TimeoutError):
            self.count -= 1
            raise Rejected(503, f"no generation slot became free within {self.timeout:g} s; retry later",
                           "server_busy") from None
        except BaseException:
            self.count -= 1
            raise

    def leave(self) -> None:
        self._slots.release()
        self.count -= 1


def _error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
           param: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(json.loads(error_body(message, kind, code, param)), status_code=status, headers=headers)


def _routing_json(entries) -> list[dict]:
    return [{"text": r.text, "expert": r.expert, "domain": r.domain, "weights": [round(w, 3) for w in r.weights]}
            for r in entries]


def _crisis_json(assessment) -> dict | None:
    if assessment is None:
        return None
    if hasattr(assessment, "to_dict"):
        return assessment.to_dict()
    return {"level": str(getattr(assessment, "level", "unknown"))}


def _finish_reason(reason: str) -> str:
    # OpenAI clients know stop / length / content_filter; a crisis reply is a normal stop
    # (the extension field "crisis" says why).
    return reason if reason in ("stop", "length", "content_filter") else "stop"


# pydantic adds the union member it tried ("str", "list[TextPart]") to an error's location;
# the client needs the field path only.
_TYPE_TAG = re.compile(r"^(str|int|float|bool|list\[.*\]|dict\[.*\])$")


def _validation_message(exc: ValidationError) -> tuple[str, str | None]:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if not (isinstance(p, str) and _TYPE_TAG.match(p)))
    return f"{where}: {first.get('msg')}" if where else str(first.get("msg")), where or None


def create_app(assistant, settings: ServeSettings | None = None) -> FastAPI:
    """The ASGI app serving ``assistant`` (a TherapistAssistant or anything with its interface)."""
    settings = settings or ServeSettings()
    safety = getattr(assistant, "safety", None)
    metrics = ServerMetrics(safety_counters=(lambda: safety.counters) if safety is not None else None)
    admission = Admission(settings.max_concurrent, settings.max_queue, settings.queue_timeout_s)
    domains = list(assistant.domains)
    model_id = assistant.name
    created = int(time.time())

    app = FastAPI(title="therapeutic-moe", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.metrics, app.state.admission, app.state.settings = metrics, admission, settings

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return _error(exc.status_code, str(exc.detail), kind, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return _error(500, "internal error while handling the request; see the server log", "server_error")

    @app.get("/health")
    async def health():
        # which crisis detectors run ("rules only" when the sentence-encoder package is missing)
        detectors = getattr(getattr(safety, "layer", safety), "detector_status", None)
        return {"status": "ok", "model": model_id, "in_flight": admission.count, "crisis_detectors": detectors}

    @app.get("/metrics")
    async def prometheus():
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        metrics.in_flight.set(admission.count)
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
    async def models():
        plan = assistant.plan.to_dict() if getattr(assistant, "plan", None) is not None else None
        return {"object": "list", "data": [{
            "id": model_id, "object": "model", "created": created, "owned_by": "therapeutic-moe",
            "experts": domains, "max_context_length": assistant.max_context_length, "context": plan,
            "max_new_tokens_limit": settings.max_new_tokens_limit}]}

    @app.get("/")
    async def page():
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        raw = await request.body()
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, f"request body is not valid JSON: {exc}", code="invalid_json")
        except RecursionError:  # json recurses per nesting level: a small body can exhaust the stack
            return _error(400, "request body is not valid JSON: nested too deeply", code="invalid_json")
        unsupported = unsupported_field(data) if isinstance(data, dict) else None
        if unsupported:
            return _error(400, f"{unsupported} is not supported by this server; leave it out", code="unsupported_parameter",
                          param=unsupported)
        try:
            req = ChatCompletionRequest.model_validate(data)
        except ValidationError as exc:
            message, param = _validation_message(exc)
            return _error(422, message, code="invalid_value", param=param)
        stop_problem = req.stop_problem()
        if stop_problem:
            return _error(400, stop_problem, code="invalid_value", param="stop")
        max_new = req.max_completion_tokens or req.max_tokens or settings.default_max_new_tokens
        if max_new > settings.max_new_tokens_limit:
            return _error(422, f"max_tokens={max_new} is above this server's limit of "
                          f"{settings.max_new_tokens_limit}", code="invalid_value", param="max_tokens")
        if len(req.messages) > settings.max_messages:
            return _error(422, f"{len(req.messages)} messages is above this server's limit of "
                          f"{settings.max_messages}", code="invalid_value", param="messages")
        messages = [{"role": m.role, "content": m.text()} for m in req.messages]
        try:
            await admission.enter()
        except Rejected as exc:
            metrics.rejected.labels(exc.code).inc()
            return _error(exc.status, exc.message, "rate_limit_error" if exc.status == 429 else "server_error",
                          exc.code, headers={"Retry-After": "1"})
        stop = threading.Event()
        kwargs = dict(max_new_tokens=max_new, temperature=req.temperature, top_p=req.top_p, seed=req.seed,
                      repetition_penalty=req.repetition_penalty, should_stop=stop.is_set, top_k=max(req.top_k, 0),
                      presence_penalty=req.presence_penalty, frequency_penalty=req.frequency_penalty,
                      stop=req.stop_strings())
        started = False
        try:
            if not req.stream:
                reply = await anyio.to_thread.run_sync(partial(assistant.reply, messages, **kwargs))
                metrics.record_reply(reply, domains)
                return _completion_json(reply, model_id)
            chunks = await anyio.to_thread.run_sync(partial(assistant.stream, messages, **kwargs))
            started = True
            include_usage = bool(req.stream_options and req.stream_options.include_usage)
            release = _ReleaseOnce(stop, chunks, admission)
            events = _sse_events(request, chunks, release, metrics, domains, model_id, include_usage)
            # A client gone before the first byte never starts the generator, so its finally
            # would never run: the finalizer frees the slot then.
            weakref.finalize(events, release)
            return StreamingResponse(events, media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        except ContextTooLong as exc:
            return _error(400, str(exc), code="context_length_exceeded", param="messages")
        except InvalidMessages as exc:
            return _error(422, str(exc), code="invalid_value", param="messages")
        except UserError as exc:
            return _error(400, str(exc), code="invalid_request")
        finally:
            if not started:  # a started stream releases its slot when it ends
                admission.leave()

    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(AuthMiddleware, api_key=settings.api_key)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # added last = outermost: counts 401/413 too
    return app


def _completion_json(reply, model_id: str) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
        "model": model_id,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text},
                     "finish_reason": _finish_reason(reply.finish_reason)}],
        "usage": reply.usage.to_dict(),
        "routing": _routing_json(reply.routing),
        "crisis": _crisis_json(reply.crisis),
    }


def _sse(payload: dict | str) -> str:
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n"


class _ReleaseOnce:
    """Stop generation, close the chunk iterator and free the slot, exactly once."""

    def __init__(self, stop: threading.Event, chunks, admission: Admission):
        self.stop, self.chunks, self.admission = stop, chunks, admission
        self.done = False

    def __call__(self) -> None:
        if self.done:
            return
        self.done = True
        self.stop.set()
        close = getattr(self.chunks, "close", None)
        if close is not None:
            try:
                close()
            except ValueError:  # still running in a worker thread: the stop flag ends it
                pass
        self.admission.leave()


async def _sse_events(request: Request, chunks, release: _ReleaseOnce, metrics: ServerMetrics, domains: list[str],
                      model_id: str, include_usage: bool):
    """SSE stream: a role chunk, content chunks with their routing, a final chunk, [DONE]."""
    ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def event(delta: dict, finish: str | None = None, **extra) -> str:
        body = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model_id,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        body.update(extra)
        return _sse(body)

    sentinel = object()
    pending: asyncio.Future | None = None
    try:
        yield event({"role": "assistant", "content": ""})
        final = None
        while True:
            if pending is None:
                pending = asyncio.ensure_future(
                    anyio.to_thread.run_sync(next, chunks, sentinel, abandon_on_cancel=True))
            # A chunk can take many tokens (the output screen holds text back), so the client
            # is checked while waiting: hanging up must stop generation now, not at the end.
            done, _ = await asyncio.wait({pending}, timeout=DISCONNECT_POLL_S)
            if not done:
                if await request.is_disconnected():
                    return
                continue
            chunk, pending = pending.result(), None
            if chunk is sentinel:
                break
            if chunk.text or chunk.routing:
                crisis = _crisis_json(chunk.reply.crisis) if chunk.reply is not None else None
                extra = {"routing": _routing_json(chunk.routing)}
                if crisis is not None:
                    extra["crisis"] = crisis
                yield event({"content": chunk.text}, **extra)
            if chunk.reply is not None:
                final = chunk.reply
        if final is not None:
            metrics.record_reply(final, domains)
            extra = {"crisis": _crisis_json(final.crisis)}
            if include_usage:
                extra["usage"] = final.usage.to_dict()
            yield event({}, _finish_reason(final.finish_reason), **extra)
        yield _sse("[DONE]")
    except Exception:  # headers are sent: report in-band, never crash the connection silently
        log.exception("error while streaming a reply")
        yield _sse(json.loads(error_body("internal error while generating; see the server log", "server_error")))
        yield _sse("[DONE]")
    finally:
        release()  # sets the stop flag first, so an abandoned worker thread ends after its step
        if pending is not None and not pending.done():
            pending.cancel()
