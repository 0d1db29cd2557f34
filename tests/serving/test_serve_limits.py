"""Overload and robustness: 429 beyond the queue, 503 after the queue timeout, slots freed when a
stream is abandoned, and no request body can make the server answer 5xx."""

from __future__ import annotations

import json
import threading
import time

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings, strategies as st

from therapeutic_moe.inference.assistant import Reply, ReplyChunk, Usage
from therapeutic_moe.inference.messages import validate_messages
from therapeutic_moe.inference.routing import TokenRouting
from therapeutic_moe.serving.app import create_app
from therapeutic_moe.serving.settings import ServeSettings

HELLO = {"messages": [{"role": "user", "content": "hi"}]}


class SlowAssistant:
    """Replies 'ok' token by token, each token waiting until ``release`` is set (or stopped)."""

    domains = ["a", "b"]
    name = "slow"
    plan = None
    safety = None
    max_context_length = 128

    def __init__(self):
        self.release = threading.Event()
        self.started = threading.Semaphore(0)
        self.stopped = threading.Event()

    def _tokens(self, should_stop):
        self.started.release()
        routing = []
        for piece in ("o", "k"):
            while not self.release.wait(0.01):
                if should_stop():
                    self.stopped.set()
                    return
            entry = TokenRouting(text=piece, expert=len(routing), domain=self.domains[len(routing)])
            routing.append(entry)
            yield ReplyChunk(text=piece, routing=[entry])
        yield ReplyChunk(reply=Reply(text="ok", routing=routing, usage=Usage(3, 2)))

    def stream(self, messages, max_new_tokens=16, temperature=0.7, top_p=0.9, *, seed=None, repetition_penalty=1.1,
               should_stop=None, **sampling):
        validate_messages(messages)
        return self._tokens(should_stop)

    def reply(self, messages, max_new_tokens=16, temperature=0.7, top_p=0.9, stream=False, *, seed=None,
              repetition_penalty=1.1, should_stop=None, **sampling):
        final = None
        for chunk in self.stream(messages, max_new_tokens, temperature, top_p, seed=seed, should_stop=should_stop):
            final = chunk.reply or final
        return final


def in_thread(fn):
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", fn()), daemon=True)
    thread.start()
    return thread, result


def test_beyond_running_and_waiting_requests_get_429():
    slow = SlowAssistant()
    with TestClient(create_app(slow, ServeSettings(max_concurrent=1, max_queue=0))) as client:
        thread, first = in_thread(lambda: client.post("/v1/chat/completions", json=HELLO))
        assert slow.started.acquire(timeout=10)
        busy = client.post("/v1/chat/completions", json=HELLO)
        assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
        assert busy.json()["error"]["type"] == "rate_limit_error"
        assert client.get("/health").json()["in_flight"] == 1
        slow.release.set()
        thread.join(10)
        assert first["value"].status_code == 200 and first["value"].json()["choices"][0]["message"]["content"] == "ok"
        metrics = client.get("/metrics").text
        assert 'therapeutic_moe_rejected_requests_total{reason="rate_limit_exceeded"} 1.0' in metrics


def test_a_queued_request_that_waits_too_long_gets_503():
    slow = SlowAssistant()
    settings_ = ServeSettings(max_concurrent=1, max_queue=1, queue_timeout_s=0.3)
    with TestClient(create_app(slow, settings_)) as client:
        thread, _ = in_thread(lambda: client.post("/v1/chat/completions", json=HELLO))
        assert slow.started.acquire(timeout=10)
        start = time.monotonic()
        r = client.post("/v1/chat/completions", json=HELLO)
        assert r.status_code == 503 and time.monotonic() - start >= 0.3
        assert r.json()["error"]["code"] == "server_busy"
        slow.release.set()
        thread.join(10)
        assert client.post("/v1/chat/completions", json=HELLO).status_code == 200  # slot was given back


def test_stream_slot_is_released_after_the_stream_ends_and_errors_do_not_leak_slots():
    slow = SlowAssistant()
    slow.release.set()
    with TestClient(create_app(slow, ServeSettings(max_concurrent=1, max_queue=0))) as client:
        for _ in range(3):  # one slot: each request must have returned it
            with client.stream("POST", "/v1/chat/completions", json={**HELLO, "stream": True}) as r:
                lines = [line for line in r.iter_lines() if line.startswith("data: ")]
            assert lines[-1] == "data: [DONE]"
            bad = client.post("/v1/chat/completions", json={"messages": [{"role": "assistant", "content": "x"}]})
            assert bad.status_code == 422
        assert client.get("/health").json()["in_flight"] == 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
payloads = st.fixed_dictionaries({}, optional={
    "messages": st.one_of(json_values, st.lists(st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "system", "tool", 3]), "content": json_values}), max_size=3)),
    "max_tokens": json_values, "temperature": json_values, "top_p": json_values, "stream": json_values,
    "n": json_values, "seed": json_values, "model": json_values,
})


@pytest.fixture(scope="module")
def fast_client():
    slow = SlowAssistant()
    slow.release.set()
    with TestClient(create_app(slow, ServeSettings())) as client:
        yield client


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=payloads)
def test_no_payload_makes_the_server_fail(fast_client, payload):
    r = fast_client.post("/v1/chat/completions", content=json.dumps(payload),
                         headers={"content-type": "application/json"})
    assert r.status_code in (200, 400, 413, 422), (payload, r.status_code, r.text)
    if r.status_code != 200:
        assert r.json()["error"]["message"]
