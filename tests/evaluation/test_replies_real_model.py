"""`replies` on the real default model: chat template, shared seeds, the default model as judge."""

from __future__ import annotations

import json

import pytest

from inference_helpers import real_model_dir  # noqa: F401 (fixture)
from therapeutic_moe.cli import main

pytestmark = [pytest.mark.real_model, pytest.mark.slow]


def test_untrained_adapters_reply_like_the_base_model_and_the_judge_answers(real_model_dir, tmp_path):  # noqa: F811
    data = tmp_path / "q.json"
    data.write_text(json.dumps({"conversations": [
        {"text": "Client: I get tense before exams. What could help?\nTherapist: Tell me more."}]}))
    out = tmp_path / "out"
    rc = main(["replies", str(real_model_dir), f"base:{real_model_dir}", "--dataset", str(data), "--labels", "a,b",
               "--max-new-tokens", "16", "--judge-local", "smollm2-135m-instruct", "--judge-max-new-tokens", "24",
               "--device", "cpu", "--out", str(out), "--no-plots"])
    assert rc == 0
    a, b = ([json.loads(line) for line in (out / f"replies_{m}.jsonl").read_text().splitlines()] for m in "ab")
    # Every expert's B and the LoRA B start at zero: the wrapped model is the base model, so
    # with the same seed per question both must write exactly the same reply.
    assert a[0]["reply"] == b[0]["reply"] and a[0]["completion_tokens"] == b[0]["completion_tokens"] > 0
    raw = [json.loads(line) for line in (out / "judge_answers.jsonl").read_text().splitlines()]
    assert len(raw) == 2 and all(isinstance(r["answer"], str) and r["answer"] for r in raw)
    rubric = json.loads((out / "replies_report.json").read_text())["rubric"]["a"]
    assert rubric["ok"] + rubric["partial"] + rubric["unparsable"] == 1
