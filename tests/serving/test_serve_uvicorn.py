"""The real uvicorn stack on a loopback port: SSE over a socket, and a client that hangs up
mid-stream stops generation and frees its slot."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import uvicorn

from test_serve_limits import HELLO, SlowAssistant
from therapeutic_moe.serving.app import create_app
from therapeutic_moe.serving.settings import ServeSettings


class ServerThread:
    """uvicorn on a socket bound to a free loopback port, in a daemon thread."""

    def __init__(self, app):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def test_hanging_up_mid_stream_stops_generation_and_frees_the_slot():
    slow = SlowAssistant()  # never released: only a stop request ends its generation
    app = create_app(slow, ServeSettings(max_concurrent=1, max_queue=0))
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        with client.stream("POST", "/v1/chat/completions", json={**HELLO, "stream": True}) as r:
            assert r.status_code == 200
            first = next(r.iter_lines())
            assert json.loads(first[len("data: "):])["choices"][0]["delta"]["role"] == "assistant"
            # hang up mid-generation: on a loaded machine the worker thread can start after a quick
            # hang-up, and then generation never runs at all (nothing to tell to stop)
            assert slow.started.acquire(timeout=30), "generation never started"
        # the response is closed here, before generation finished
        assert slow.stopped.wait(10), "generation was not told to stop"
        deadline = time.monotonic() + 10
        while client.get("/health").json()["in_flight"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.get("/health").json()["in_flight"] == 0
        slow.release.set()
        r = client.post("/v1/chat/completions", json=HELLO)
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "ok"
