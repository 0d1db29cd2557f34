"""The endpoint judge against a real local HTTP server speaking the OpenAI chat-completions shape."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from therapeutic_moe.errors import ConfigError
from therapeutic_moe.evaluation.replies.judges import EndpointJudge, JudgeError, JudgeSettings, completions_url
from therapeutic_moe.evaluation.replies.questions import Question
from therapeutic_moe.evaluation.replies.scoring import JudgeRun, pairwise_verdicts, rubric_scores

RATING = {"overall": 4, "empathy": 4, "specificity": 2, "medical_advice": "no", "factual_consistency": "n/a",
          "toxicity": 1, "rationale": "kind, generic"}


class FakeJudgeServer:
    """A stdlib HTTP server: rates replies containing 'sorry' 1, others from RATING; in pairwise
    prompts always picks the first reply (a judge with a pure position bias)."""

    def __init__(self, status: int = 200, malformed_every: int = 0):
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                outer.headers.append(dict(self.headers))
                if self.path != "/v1/chat/completions" or status != 200:
                    self.send_response(404 if status == 200 else status)
                    self.end_headers()
                    self.wfile.write(b'{"error": "nope"}')
                    return
                prompt = body["messages"][-1]["content"]
                if "Reply A:" in prompt:
                    content = '{"better": "A", "reason": "first"}'
                elif malformed_every and len(outer.requests) % malformed_every == 0:
                    content = "I would rather not give numbers."
                elif "sorry" in prompt.split("Reply to rate:")[1]:
                    content = json.dumps({**RATING, "overall": 1})
                else:
                    content = "Here you go: " + json.dumps(RATING)
                payload = {"id": "x", "object": "chat.completion", "model": body["model"],
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                        "finish_reason": "stop"}]}
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


QUESTIONS = [Question("q1", [{"role": "user", "content": "I feel lost since my move."}]),
             Question("q2", [{"role": "user", "content": "How can I talk to my dad?"}])]
REPLIES = {"tuned": {"q1": {"reply": "Moving is a big change. What do you miss most?", "finish_reason": "stop"},
                     "q2": {"reply": "I'm sorry, I cannot help.", "finish_reason": "stop"}},
           "base": {"q1": {"reply": "Try to relax.", "finish_reason": "stop"},
                    "q2": {"reply": "Please call 988.", "finish_reason": "crisis"}}}


def test_rubric_and_pairwise_through_a_real_http_endpoint(monkeypatch):
    monkeypatch.setenv("JUDGE_KEY_FOR_TEST", "s3cret")
    with FakeJudgeServer() as server:
        judge = EndpointJudge.from_args(server.url, "judge-7b", JudgeSettings(max_new_tokens=50), "JUDGE_KEY_FOR_TEST")
        run = JudgeRun(judge)
        scores = rubric_scores(run, QUESTIONS, REPLIES)
        verdicts = pairwise_verdicts(run, QUESTIONS, REPLIES, "tuned", "base")
    assert scores["tuned"]["q1"]["status"] == "ok" and scores["tuned"]["q1"]["scores"]["overall"] == 4
    assert scores["tuned"]["q2"]["scores"]["overall"] == 1  # the server saw the reply text
    assert scores["base"]["q2"]["status"] == "skipped"      # a crisis reply is the safety layer's, not rated
    assert len(server.requests) == 3 + 4
    first = server.requests[0]
    assert first["model"] == "judge-7b" and first["max_tokens"] == 50 and first["temperature"] == 0.0
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert server.headers[0]["Authorization"] == "Bearer s3cret"
    # The server always picks the first reply: both orders disagree, so no model wins.
    assert [v["result"] for v in verdicts] == ["inconsistent", "inconsistent"]
    kinds = [r["kind"] for r in run.raw]
    assert kinds == ["rubric"] * 3 + ["pairwise"] * 4 and all(r["answer"] for r in run.raw)
    assert [r["A"] for r in run.raw[3:5]] == ["tuned", "base"]


def test_unparsable_answers_are_kept_raw_and_counted():
    with FakeJudgeServer(malformed_every=2) as server:
        run = JudgeRun(EndpointJudge(server.url, "m", JudgeSettings()))
        scores = rubric_scores(run, QUESTIONS, {"tuned": REPLIES["tuned"]})
    assert [scores["tuned"][q]["status"] for q in ("q1", "q2")] == ["ok", "unparsable"]
    assert run.raw[1]["answer"] == "I would rather not give numbers." and run.raw[1]["status"] == "unparsable"


def test_endpoint_errors_are_clear():
    with FakeJudgeServer(status=500) as server:
        judge = EndpointJudge(server.url, "m", JudgeSettings())
        with pytest.raises(JudgeError, match="HTTP 500"):
            JudgeRun(judge).ask([{"role": "user", "content": "hi"}], {})
    with FakeJudgeServer() as server:
        wrong_path = EndpointJudge(server.url.replace("/v1", "/v2"), "m", JudgeSettings())
        with pytest.raises(JudgeError, match="HTTP 404"):
            wrong_path.answer([{"role": "user", "content": "hi"}])
    port = server.server.server_port  # closed now: nothing listens there
    with pytest.raises(JudgeError, match="cannot be reached"):
        EndpointJudge(f"http://127.0.0.1:{port}/v1", "m", JudgeSettings(timeout_s=2)).answer([])


def test_endpoint_settings_are_checked():
    assert completions_url("http://h:1/v1/") == "http://h:1/v1/chat/completions"
    assert completions_url("http://h:1/v1/chat/completions") == "http://h:1/v1/chat/completions"
    with pytest.raises(ConfigError, match="not an http"):
        completions_url("127.0.0.1:8080")
    with pytest.raises(ConfigError, match="--judge-model"):
        EndpointJudge.from_args("http://h/v1", None, JudgeSettings(), None)
    with pytest.raises(ConfigError, match="NOT_SET_FOR_TEST"):
        EndpointJudge.from_args("http://h/v1", "m", JudgeSettings(), "NOT_SET_FOR_TEST")
