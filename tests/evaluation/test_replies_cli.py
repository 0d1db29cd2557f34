"""`therapeutic-moe replies`: the whole run with the tiny random model as generator and judge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import make_tiny_tokenizer
from inference_helpers import CRISIS_TEXT, make_model_dir, real_safety_available
from therapeutic_moe.cli import main

# Invented questions (no real data in the project); the third is about medication.
QUESTIONS = ["I keep lying awake before every exam.", "My sister and I stopped talking after an argument.",
             "Should I stop taking my sertraline now that I feel better?", CRISIS_TEXT]


def write_questions(path: Path) -> Path:
    conversations = [{"text": f"Client: {q}\nTherapist: Tell me more.", "topic": "test"} for q in QUESTIONS]
    conversations.append(dict(conversations[0]))  # a repeated question counts once
    path.write_text(json.dumps({"conversations": conversations}), encoding="utf-8")
    return path


def make_judge_dir(root: Path) -> Path:
    """A tiny random chat model as a plain HF directory, long enough for the rubric prompt
    (the test tokenizer spends one token per character)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(3)
    config = LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(root / "judge")
    make_tiny_tokenizer().save_pretrained(root / "judge")
    return root / "judge"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("replies")
    model_dir = make_model_dir(root, train_steps=2)
    (model_dir / "run_config").mkdir()
    (model_dir / "run_config" / "moe_training_config.json").write_text(json.dumps({"system_prompt": "Be kind."}))
    return model_dir, write_questions(root / "questions.json"), make_judge_dir(root)


def run(args: list[str]) -> int:
    return main(["replies", *args, "--max-context-length", "512", "--device", "cpu"])


def test_generate_check_judge_and_report(setup, tmp_path, capsys):
    model_dir, data, judge_dir = setup
    out = tmp_path / "eval"
    rc = run([str(model_dir), f"base:{model_dir}", "--dataset", str(data), "--labels", "tuned,base",
              "--max-new-tokens", "12", "--judge-local", str(judge_dir), "--judge-max-new-tokens", "6",
              "--pairwise", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "## Automatic checks" in printed and "## Rubric" in printed and "## Pairwise: tuned vs base" in printed
    report = json.loads((out / "replies_report.json").read_text())
    assert report["questions"] == 4 and report["models"] == ["tuned", "base"]
    assert set(report["files"]) == {"json", "markdown", "judge_answers", "plot"}
    assert (out / "reply_scores.png").stat().st_size > 1000
    assert not any(q in (out / "replies_report.json").read_text() for q in QUESTIONS)  # numbers, no text
    crisis = 1 if real_safety_available() else 0
    for model in ("tuned", "base"):
        auto = report["automatic"][model]
        assert auto["replies"] == 4 and auto["crisis_replies"] == crisis and auto["generated"] == 4 - crisis
        assert auto["medication_questions"] == 1
        records = [json.loads(line) for line in (out / f"replies_{model}.jsonl").read_text().splitlines()]
        assert [r["messages"][-1]["content"] for r in records] == QUESTIONS
        assert all(r["completion_tokens"] <= 12 for r in records) and records[0]["seed"] == 0
        rubric = report["rubric"][model]
        # A random model cannot write the JSON: every answer is counted, none is guessed.
        assert rubric["answers"] == 4 - crisis == rubric["ok"] + rubric["partial"] + rubric["unparsable"]
        assert rubric["skipped_crisis"] == crisis
    tuned = [json.loads(line) for line in (out / "replies_tuned.jsonl").read_text().splitlines()]
    base = [json.loads(line) for line in (out / "replies_base.jsonl").read_text().splitlines()]
    assert [r["reply"] for r in tuned] != [r["reply"] for r in base]  # adapters off really changes the model
    raw = [json.loads(line) for line in (out / "judge_answers.jsonl").read_text().splitlines()]
    asked_pairs = 4 - crisis
    assert len(raw) == 2 * (4 - crisis) + 2 * asked_pairs and all(isinstance(r["answer"], str) for r in raw)
    pair = report["pairwise"]
    assert pair["answers"] == 2 * asked_pairs and pair["skipped_crisis"] == crisis
    page = (out / "replies_report.md").read_text()
    assert QUESTIONS[1] in page and "| reply |" in page and "replies_report" not in page


def test_saved_replies_are_scored_again_without_a_model(setup, tmp_path):
    model_dir, data, _ = setup
    first = tmp_path / "first"
    assert run([str(model_dir), "--dataset", str(data), "--max-new-tokens", "8", "--out", str(first)]) == 0
    saved = first / f"replies_{model_dir.resolve().name}.jsonl"
    again = tmp_path / "again"
    assert run([str(saved), "--out", str(again), "--no-plots"]) == 0
    a = json.loads((first / "replies_report.json").read_text())
    b = json.loads((again / "replies_report.json").read_text())
    assert a["automatic"] == b["automatic"] and b["files"] == {"json": "replies_report.json",
                                                                 "markdown": "replies_report.md"}


@pytest.mark.parametrize("args, message", [
    (["no/such/dir", "--dataset", "{data}"], "no such model directory or replies .jsonl"),
    (["{model}", "--dataset", "missing.json"], "--dataset missing.json: no such file"),
    (["{model}"], "--dataset PATH is required"),
    (["{model}", "--dataset", "{data}", "--pairwise", "--judge-endpoint", "http://127.0.0.1:9/v1",
      "--judge-model", "m"], "exactly two MODELs"),
    (["{model}", "base:{model}", "--dataset", "{data}", "--pairwise"], "need a judge"),
    (["{model}", "--dataset", "{data}", "--labels", "a,b"], "one per MODEL"),
    (["{model}", "--dataset", "{data}", "--temperature", "9"], "temperature"),
    (["{model}", "--dataset", "{data}", "--judge-endpoint", "http://127.0.0.1:9/v1"], "--judge-model"),
    (["{bad}"], "bad.jsonl:2: invalid JSON"),
])
def test_bad_input_is_one_clear_error(setup, tmp_path, capsys, args, message):
    model_dir, data, _ = setup
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question_id": "q", "messages": [], "reply": "", "finish_reason": "stop"}\n{oops\n')
    args = [a.format(model=model_dir, data=data, bad=bad) for a in args]
    assert run(args + ["--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_unreachable_judge_endpoint_stops_with_exit_2(setup, tmp_path, capsys):
    model_dir, data, _ = setup
    rc = run([str(model_dir), "--dataset", str(data), "--max-questions", "1", "--max-new-tokens", "4",
              "--judge-endpoint", "http://127.0.0.1:9/v1", "--judge-model", "m", "--out", str(tmp_path / "o")])
    assert rc == 2 and "cannot be reached" in capsys.readouterr().err


def test_questions_are_pii_scrubbed_as_in_training(setup, tmp_path):
    model_dir, _, _ = setup
    data = tmp_path / "pii.json"
    data.write_text(json.dumps({"conversations": [
        {"text": "Client: Write to me at jane.doe@example.com, I feel low.\nTherapist: I hear you."}]}))
    out = tmp_path / "o"
    assert run([str(model_dir), "--dataset", str(data), "--max-new-tokens", "2", "--out", str(out), "--no-plots"]) == 0
    written = (out / f"replies_{model_dir.resolve().name}.jsonl").read_text()
    assert "jane.doe@example.com" not in written and "I feel low" in written


def test_endpoint_judge_from_the_command_line(setup, tmp_path, monkeypatch):
    from test_replies_endpoint import FakeJudgeServer

    model_dir, data, _ = setup
    monkeypatch.setenv("REPLIES_TEST_KEY", "k")
    out = tmp_path / "o"
    with FakeJudgeServer() as server:
        rc = run([str(model_dir), f"base:{model_dir}", "--dataset", str(data), "--max-new-tokens", "6",
                  "--judge-endpoint", server.url, "--judge-model", "judge", "--judge-api-key-env", "REPLIES_TEST_KEY",
                  "--pairwise", "--out", str(out), "--no-plots"])
    assert rc == 0
    report = json.loads((out / "replies_report.json").read_text())
    generated = 4 - report["automatic"]["base"]["crisis_replies"]
    assert report["rubric"]["base"]["ok"] == generated and report["rubric"]["base"]["dimensions"]["empathy"]["mean"] == 4
    assert report["pairwise"]["inconsistent"] == generated and report["pairwise"]["first_position_pick_share"] == 1.0
    assert len(server.requests) == 2 * generated + 2 * generated
    assert {h["Authorization"] for h in server.headers} == {"Bearer k"}
