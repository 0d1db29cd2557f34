"""The HTTP server under garbage and load, on a tiny trained model.

- Fuzz: hypothesis-generated requests (random routes and methods, random bytes, random JSON,
  chat bodies with every field mutated) against the app in-process: never a 5xx, and a
  streamed reply never carries an in-band server error. (The app serves no OpenAPI schema and
  the chat route reads its raw body, so a schema-driven fuzzer would have nothing to work from.)
- Load: the real ``therapeutic-moe serve`` (uvicorn) in a subprocess on a free 127.0.0.1 port,
  200 concurrent chat requests (plain, streamed, and clients hanging up mid-stream) from an
  httpx AsyncClient: each is answered or cleanly refused with 429/503, the server stays up,
  every slot is freed, and its memory (RSS from /proc) stays bounded over a second round.
- Access: with an API key every route but /health refuses requests without it or with a wrong
  one, on the real server.
Only loopback addresses; bounded request counts and time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("therapeutic_moe.serving.app")

from therapeutic_moe.serving.app import create_app  # noqa: E402
from therapeutic_moe.serving.settings import ServeSettings  # noqa: E402

from . import tally  # noqa: E402

pytestmark = pytest.mark.slow
KEY = "reliability-key-7f3a"
CHAT = "/v1/chat/completions"
HELLO = {"messages": [{"role": "user", "content": "I feel tense before exams."}], "max_tokens": 6}


@pytest.fixture(scope="module")
def assistant(trained_model):
    from therapeutic_moe.inference import TherapistAssistant

    return TherapistAssistant.from_pretrained(trained_model, device="cpu", max_context_length=512, quiet=True,
                                              system_prompt="")


@pytest.fixture(scope="module")
def client(assistant):
    from fastapi.testclient import TestClient

    app = create_app(assistant, ServeSettings(max_request_bytes=20_000, max_new_tokens_limit=8,
                                              default_max_new_tokens=4, max_messages=16))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


# --- fuzz ------------------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats() | st.text(max_size=20)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=8), inner, max_size=3), max_leaves=8)
parts = st.lists(st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", ""]) | json_values},
                                       optional={"text": st.text(max_size=20) | json_values}), max_size=3)
messages = st.fixed_dictionaries({}, optional={
    "role": st.sampled_from(["system", "user", "assistant", "tool", "developer", ""]) | json_values,
    "content": st.text(max_size=60) | parts | json_values,
    "name": st.text(max_size=5),
})
chat_bodies = st.fixed_dictionaries(
    {"messages": st.lists(messages, max_size=4) | json_values},
    optional={"max_tokens": st.integers(-3, 12) | json_values, "max_completion_tokens": st.integers(-3, 12),
              "temperature": st.floats(-1, 3) | json_values, "top_p": st.floats(-0.5, 1.5) | json_values,
              "stream": st.booleans() | json_values, "seed": st.integers(-2**70, 2**70) | json_values,
              "stream_options": st.fixed_dictionaries({}, optional={"include_usage": st.booleans() | json_values})
              | json_values, "n": st.integers(-1, 3), "model": json_values, "tools": json_values},
)
routes = st.sampled_from([
    ("POST", CHAT), ("POST", CHAT), ("POST", CHAT), ("GET", CHAT), ("PUT", CHAT), ("GET", "/health"),
    ("POST", "/health"), ("GET", "/metrics"), ("GET", "/v1/models"), ("DELETE", "/v1/models"), ("GET", "/"),
    ("GET", "/static/app.js"), ("GET", "/static/../settings.py"), ("GET", "/static/%2e%2e/app.py"),
    ("OPTIONS", CHAT), ("HEAD", "/health"),
]) | st.tuples(st.sampled_from(["GET", "POST"]), st.text(st.characters(min_codepoint=33, max_codepoint=126),
                                                                max_size=20).map(lambda p: "/" + p.lstrip("/")))
bodies = st.one_of(chat_bodies.map(json.dumps), json_values.map(json.dumps), st.binary(max_size=200),
                   st.text(max_size=100))
content_types = st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", None])


@settings(max_examples=250, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(route=routes, body=bodies, content_type=content_types)
def test_fuzzed_requests_never_get_a_5xx(client, route, body, content_type):
    method, path = route
    headers = {"content-type": content_type} if content_type else {}
    content = body if method in ("POST", "PUT", "DELETE") else None
    response = client.request(method, path, content=content, headers=headers)
    assert response.status_code < 500, (method, path, body[:200] if body else body, response.text[:500])
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        assert "server_error" not in response.text, response.text[-500:]
    tally.add("server fuzz: requests", 1)


@pytest.mark.parametrize("body", ["[" * 10_000, '{"messages": ' + "[" * 10_000])
def test_deeply_nested_json_body_is_a_4xx(client, body):
    response = client.post(CHAT, content=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.status_code


def test_an_empty_api_key_flag_is_refused_not_ignored(monkeypatch, trained_model):
    import uvicorn

    from therapeutic_moe.cli import main
    from therapeutic_moe.serving import cli as serve_cli

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.setdefault("app", app))
    monkeypatch.setattr("therapeutic_moe.inference.cli.load_assistant", lambda args, quiet=False: FakeAssistant())
    monkeypatch.delenv(serve_cli.API_KEY_ENV, raising=False)
    code = main(["serve", str(trained_model), "--api-key", "", "--port", "0"])
    assert code == 2 or served["app"].state.settings.api_key, "started without authentication"


class FakeAssistant:
    name, domains, max_context_length, plan, safety = "fake", [], 512, None, None


# --- the real server -------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def server(trained_model, tmp_path_factory):
    """`therapeutic-moe serve` in a subprocess on 127.0.0.1, with an API key."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "therapeutic_moe", "serve", str(trained_model), "--host", "127.0.0.1",
             "--port", str(port), "--api-key", KEY, "--device", "cpu", "--max-context-length", "512",
             "--max-concurrent", "2", "--max-queue", "16", "--queue-timeout", "5", "--max-new-tokens-limit", "16",
             "--default-max-new-tokens", "6", "--max-request-bytes", "50000", "--log-level", "warning"],
            stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "server did not come up:\n" + log.read_text()[-3000:]
        time.sleep(0.2)
    yield proc, url, log
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


AUTH = {"Authorization": f"Bearer {KEY}"}
PROTECTED = [("GET", "/v1/models"), ("GET", "/metrics"), ("GET", "/"), ("GET", "/static/app.js"),
             ("POST", CHAT), ("GET", "/nowhere"), ("OPTIONS", CHAT), ("GET", "/health/"), ("GET", "//v1/models"),
             ("GET", "/HEALTH"), ("GET", "/health%2F")]
WRONG = {
    "no header": {},
    "wrong bearer": {"Authorization": "Bearer not-the-key"},
    "key prefix": {"Authorization": f"Bearer {KEY[:-1]}"},
    "key plus suffix": {"Authorization": f"Bearer {KEY}x"},
    "empty bearer": {"Authorization": "Bearer"},
    "key without scheme": {"Authorization": KEY},
    "wrong basic": {"Authorization": "Basic " + base64.b64encode(b"user:nope").decode()},
    "basic key as user": {"Authorization": "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()},
    "broken basic": {"Authorization": "Basic %%%"},
    "key in query": {},  # sent as ?api_key=KEY below
    "key in other header": {"X-API-Key": KEY},
}


def test_every_route_but_health_needs_the_key(server):
    proc, url, _ = server
    refused = 0
    with httpx.Client(base_url=url, timeout=30) as c:
        assert c.get("/health").status_code == 200
        for method, path in PROTECTED:
            for label, headers in WRONG.items():
                params = {"api_key": KEY} if label == "key in query" else None
                r = c.request(method, path, headers=headers, params=params,
                              json=HELLO if method == "POST" else None)
                assert r.status_code == 401, (method, path, label, r.status_code, r.text[:300])
                refused += 1
        # and the right key opens them (the odd paths are just not found)
        assert c.get("/v1/models", headers=AUTH).status_code == 200
        assert c.post(CHAT, headers=AUTH, json=HELLO).status_code == 200
        basic = {"Authorization": "Basic " + base64.b64encode(f"anyone:{KEY}".encode()).decode()}
        assert c.get("/", headers=basic).status_code == 200
    tally.add("auth: requests refused without a valid key", refused)
    tally.summary_line("auth", protected_routes=len(PROTECTED), bad_credentials=len(WRONG), refused=refused)


async def one_request(client: httpx.AsyncClient, i: int) -> str:
    """One client of the load: plain, streamed, or hanging up after the first streamed line."""
    body = {**HELLO, "messages": [{"role": "user", "content": f"Request {i}: I could not sleep again."}],
            "seed": i, "max_tokens": 4 + i % 5}
    kind = ("plain", "stream", "hang-up")[i % 3]
    try:
        if kind == "plain":
            r = await client.post(CHAT, json=body)
            if r.status_code == 200:
                assert r.json()["choices"][0]["message"]["role"] == "assistant"
            return str(r.status_code)
        async with client.stream("POST", CHAT, json={**body, "stream": True}) as r:
            if r.status_code != 200:
                await r.aread()
                return str(r.status_code)
            lines = []
            async for line in r.aiter_lines():
                if line:
                    lines.append(line)
                    if kind == "hang-up":
                        return "hung up"
            assert lines[-1] == "data: [DONE]", lines[-3:]
            assert not any("server_error" in line for line in lines), lines
            return "200"
    except httpx.HTTPError as exc:  # would be a dropped or unanswered request
        return f"client error {type(exc).__name__}"


async def load_round(url: str, n: int) -> Counter:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=60, limits=limits) as client:
        return Counter(await asyncio.gather(*(one_request(client, i) for i in range(n))))


def wait_idle(url: str, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        in_flight = httpx.get(f"{url}/health", timeout=10).json()["in_flight"]
        if in_flight == 0 or time.monotonic() > deadline:
            return in_flight
        time.sleep(0.1)


def test_200_concurrent_requests_then_still_healthy_and_bounded(server):
    proc, url, log = server
    rss_start = rss_mb(proc.pid)
    rounds = []
    for _ in range(2):
        outcome = asyncio.run(load_round(url, 200))
        rounds.append((outcome, rss_mb(proc.pid)))
        assert proc.poll() is None, "server died under load:\n" + log.read_text()[-3000:]
        assert wait_idle(url) == 0, "generation slots were not all freed"
    for outcome, _ in rounds:
        unexpected = {k: v for k, v in outcome.items() if k not in ("200", "429", "503", "hung up")}
        assert not unexpected, f"requests neither answered nor cleanly refused: {unexpected}"
        assert outcome["200"] >= 2, outcome
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as c:
        assert c.get("/health").json()["status"] == "ok"
        assert c.post(CHAT, json=HELLO).status_code == 200
    (first, rss_1), (second, rss_2) = rounds
    assert rss_2 - rss_1 < 64, f"RSS grew {rss_2 - rss_1:.0f} MB in the second round: a leak"
    assert rss_2 - rss_start < 400, f"RSS grew {rss_2 - rss_start:.0f} MB under load"
    assert "Traceback" not in log.read_text()
    for outcome, _ in rounds:
        tally.add("load: requests sent", sum(outcome.values()))
        tally.add("load: answered 200", outcome["200"])
        tally.add("load: refused 429/503", outcome["429"] + outcome["503"])
        tally.add("load: clients hung up mid-stream", outcome["hung up"])
    tally.summary_line("load", rounds=2, concurrent=200, round1=dict(first), round2=dict(second),
                       rss_mb=f"{rss_start:.0f}->{rss_1:.0f}->{rss_2:.0f}")
