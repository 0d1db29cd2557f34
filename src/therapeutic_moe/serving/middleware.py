"""Plain ASGI middleware: request metrics, API-key check and request-size limit.

Plain ASGI rather than Starlette's BaseHTTPMiddleware, which buffers and complicates
streamed (SSE) responses.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import time

OPEN_PATHS = {"/health"}
PAGE_PREFIXES = ("/static/",)
PAGE_PATHS = {"/", "/index.html", "/favicon.ico"}
KNOWN_ROUTES = ("/", "/health", "/metrics", "/v1/models", "/v1/chat/completions")


def error_body(message: str, kind: str, code: str | None = None, param: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "param": param, "code": code}}).encode()


async def send_json(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def route_label(path: str) -> str:
    """A bounded label set: a scan of random URLs must not create unbounded metric series."""
    if path in KNOWN_ROUTES:
        return path
    if path.startswith("/static/"):
        return "/static"
    return "other"


class MetricsMiddleware:
    def __init__(self, app, metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        route = route_label(scope["path"])
        status = {"code": 500}
        done = {"recorded": False}

        def record():
            if not done["recorded"]:
                done["recorded"] = True
                self.metrics.requests.labels(route, scope["method"], str(status["code"])).inc()
                self.metrics.latency.labels(route).observe(time.perf_counter() - start)

        async def wrapped_send(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                record()

        try:
            await self.app(scope, receive, wrapped_send)
        finally:
            record()  # client went away mid-stream, or the app raised


class AuthMiddleware:
    """Every route but /health needs the key: ``Bearer KEY``, or Basic auth with KEY as password
    (so a browser can open the web page: it asks once and resends the credentials)."""

    def __init__(self, app, api_key: str | None):
        self.app = app
        self.key = api_key.encode() if api_key else None

    def _authorised(self, header: bytes | None) -> bool:
        if not header:
            return False
        scheme, _, value = header.partition(b" ")
        scheme = scheme.lower()
        if scheme == b"bearer":
            return hmac.compare_digest(value.strip(), self.key)
        if scheme == b"basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True)
            except (binascii.Error, ValueError):
                return False
            _, _, password = decoded.partition(b":")
            return hmac.compare_digest(password, self.key)
        return False

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.key is None or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if self._authorised(headers.get(b"authorization")):
            return await self.app(scope, receive, send)
        page = scope["path"] in PAGE_PATHS or scope["path"].startswith(PAGE_PREFIXES)
        challenge = b'Basic realm="therapeutic-moe", charset="UTF-8"' if page else b"Bearer"
        await send_json(send, 401, error_body("missing or wrong API key: send 'Authorization: Bearer <key>'",
                                              "authentication_error", "invalid_api_key"),
                        [(b"www-authenticate", challenge)])


class BodyLimitMiddleware:
    """Refuse bodies above ``max_bytes`` with 413 before the app parses anything."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = error_body(f"request body is larger than the server's limit of {self.max_bytes} bytes",
                               "invalid_request_error", "request_too_large")
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                return await send_json(send, 400, error_body("invalid Content-Length header",
                                                             "invalid_request_error"))
            if declared > self.max_bytes:
                return await send_json(send, 413, too_large)
        # Read (at most the limit) now, so a body without Content-Length is bounded as well.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                return await send_json(send, 413, too_large)
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = {"done": False}

        async def replay():
            if not replayed["done"]:
                replayed["done"] = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # later calls wait for the disconnect, as Starlette expects

        await self.app(scope, replay, send)
