"""The HTTP server on a tiny trained model: OpenAI-compatible routes, SSE, auth, limits, metrics."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient

from inference_helpers import CRISIS_TEXT, load_assistant, make_model_dir, real_safety_available
from therapeutic_moe.serving.app import create_app
from therapeutic_moe.serving.settings import ServeSettings

KEY = "test-key-123"
HELLO = {"messages": [{"role": "user", "content": "I feel tense before exams."}], "max_tokens": 8,
         "temperature": 0}


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    return load_assistant(make_model_dir(tmp_path_factory.mktemp("serve"), train_steps=2), safety=True)


@pytest.fixture(scope="module")
def client(assistant):
    app = create_app(assistant, ServeSettings(max_request_bytes=20_000, max_new_tokens_limit=64))
    with TestClient(app) as c:
        yield c


def sse_events(response) -> list:
    events = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            data = line[len("data: "):]
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def test_health_and_models(client, assistant):
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    models = client.get("/v1/models").json()
    model = models["data"][0]
    assert models["object"] == "list" and model["object"] == "model" and model["id"] == assistant.name
    assert model["experts"] == ["psychology", "mental_health", "bias_detection", "general_therapeutic"]
    assert model["max_context_length"] == 512 and model["max_new_tokens_limit"] == 64


def test_completion_has_openai_fields_and_routing(client, assistant):
    r = client.post("/v1/chat/completions", json=HELLO)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] in ("stop", "length")
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] and usage["completion_tokens"] > 0
    routing = body["routing"]
    assert "".join(r["text"] for r in routing) == choice["message"]["content"]
    assert routing and all(assistant.domains[r["expert"]] == r["domain"] for r in routing)
    assert body["crisis"] is None


def test_streaming_matches_the_plain_completion(client):
    plain = client.post("/v1/chat/completions", json=HELLO).json()
    with client.stream("POST", "/v1/chat/completions",
                       json={**HELLO, "stream": True, "stream_options": {"include_usage": True}}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == chunks[0]["id"] for c in chunks)
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert content == plain["choices"][0]["message"]["content"]
    routed = [r for c in chunks for r in c.get("routing", [])]
    assert "".join(r["text"] for r in routed) == content
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == plain["choices"][0]["finish_reason"]
    assert last["usage"] == plain["usage"]


@pytest.mark.skipif(not real_safety_available(), reason="safety layer not installed")
@pytest.mark.parametrize("stream", [False, True])
def test_crisis_message_returns_the_crisis_reply(client, stream):
    payload = {"messages": [{"role": "user", "content": CRISIS_TEXT}], "stream": stream}
    if stream:
        with client.stream("POST", "/v1/chat/completions", json=payload) as r:
            events = sse_events(r)[:-1]
        text = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
        crisis = [e["crisis"] for e in events if e.get("crisis")]
        assert crisis and crisis[0]["level"] in ("moderate", "high")
    else:
        body = client.post("/v1/chat/completions", json=payload).json()
        text = body["choices"][0]["message"]["content"]
        assert body["crisis"]["level"] in ("moderate", "high") and body["routing"] == []
        assert body["usage"]["completion_tokens"] == 0
    assert "988" in text


@pytest.mark.parametrize("payload, status, param", [
    ({}, 422, "messages"),
    ({"messages": []}, 422, "messages"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, 422, "messages.0.role"),
    ({"messages": [{"role": "user", "content": 5}]}, 422, "messages.0.content"),
    ({"messages": "hello"}, 422, "messages"),
    ({**HELLO, "temperature": 3}, 422, "temperature"),
    ({**HELLO, "top_p": 0}, 422, "top_p"),
    ({**HELLO, "max_tokens": 0}, 422, "max_tokens"),
    ({**HELLO, "max_tokens": 65}, 422, "max_tokens"),
    ({**HELLO, "n": 2}, 422, "n"),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}, 422, "messages"),
    ({"messages": [{"role": "user", "content": "x" * 600}]}, 400, "messages"),  # longer than the context
])
def test_bad_requests_get_json_errors(client, payload, status, param):
    r = client.post("/v1/chat/completions", json=payload)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["message"] and error["type"] and error["param"] == param


@pytest.mark.parametrize("body, content_type, status", [
    (b"{not json", "application/json", 400),
    (b"", "application/json", 400),
    (b"[1, 2, 3]", "application/json", 422),
    ("{\"messages\": [{\"role\": \"user\", \"content\": \"\xff\"}]}".encode("latin-1"), "application/json", 400),
])
def test_malformed_bodies_are_4xx(client, body, content_type, status):
    r = client.post("/v1/chat/completions", content=body, headers={"content-type": content_type})
    assert r.status_code == status and "error" in r.json()


def test_oversized_bodies_get_413_with_or_without_content_length(client):
    big = json.dumps({"messages": [{"role": "user", "content": "x" * 30_000}]}).encode()
    assert client.post("/v1/chat/completions", content=big,
                       headers={"content-type": "application/json"}).status_code == 413

    def chunked():
        for i in range(0, len(big), 4096):
            yield big[i:i + 4096]

    r = client.post("/v1/chat/completions", content=chunked(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"


def test_unknown_route_and_method_are_json(client):
    assert client.get("/v1/nothing").status_code == 404 and "error" in client.get("/v1/nothing").json()
    r = client.get("/v1/chat/completions")
    assert r.status_code == 405 and "error" in r.json()


def test_web_page_and_assets_are_served_without_external_resources(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="legend"' in page.text and "/static/app.js" in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        r = client.get(asset)
        assert r.status_code == 200
        assert "http://" not in r.text and "https://" not in r.text  # no CDN, works offline
    assert "http" not in page.text.replace('http-equiv', '')


def test_metrics_counters_move(client):
    def scrape():
        text = client.get("/metrics").text
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    before = scrape()
    client.post("/v1/chat/completions", json=HELLO)
    client.post("/v1/chat/completions", json={"messages": []})
    after = scrape()
    ok = 'therapeutic_moe_requests_total{method="POST",route="/v1/chat/completions",status="200"}'
    bad = 'therapeutic_moe_requests_total{method="POST",route="/v1/chat/completions",status="422"}'
    assert after[ok] == before.get(ok, 0) + 1 and after[bad] == before.get(bad, 0) + 1
    assert after["therapeutic_moe_generated_tokens_total"] > before.get("therapeutic_moe_generated_tokens_total", 0)
    count = 'therapeutic_moe_request_latency_seconds_count{route="/v1/chat/completions"}'
    assert after[count] == before.get(count, 0) + 2
    experts = [k for k in after if k.startswith("therapeutic_moe_expert_tokens_total{")]
    assert len(experts) == 4
    assert sum(after[k] for k in experts) > sum(before.get(k, 0) for k in experts)
    if real_safety_available():
        client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": CRISIS_TEXT}]})
        crisis = scrape()
        events = {k: v for k, v in crisis.items() if k.startswith("therapeutic_moe_crisis_events_total")}
        assert sum(events.values()) > sum(v for k, v in after.items() if k.startswith("therapeutic_moe_crisis_events_total"))
        assert crisis['therapeutic_moe_safety_events{name="crisis_detected"}'] >= 1


@pytest.fixture(scope="module")
def secured(assistant):
    with TestClient(create_app(assistant, ServeSettings(api_key=KEY))) as c:
        yield c


@pytest.mark.parametrize("method, path", [
    ("GET", "/"), ("GET", "/static/app.js"), ("GET", "/metrics"), ("GET", "/v1/models"),
    ("POST", "/v1/chat/completions"), ("GET", "/v1/unknown"),
])
def test_every_route_but_health_needs_the_key(secured, method, path):
    r = secured.request(method, path, json=HELLO if method == "POST" else None)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert "www-authenticate" in r.headers
    wrong = secured.request(method, path, json=HELLO if method == "POST" else None,
                            headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_health_is_open_and_the_key_works_as_bearer_or_basic(secured):
    assert secured.get("/health").status_code == 200
    assert secured.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    basic = base64.b64encode(f"anyone:{KEY}".encode()).decode()
    page = secured.get("/", headers={"Authorization": f"Basic {basic}"})
    assert page.status_code == 200
    assert secured.get("/").headers["www-authenticate"].startswith("Basic")  # browsers show a login prompt
    r = secured.post("/v1/chat/completions", json=HELLO, headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 200
