"""`therapeutic-moe evaluate`: report file, plots, table and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import shared_data_dir
from inference_helpers import make_model_dir
from therapeutic_moe.cli import main

# Invented sessions (no real data in the project).
TURNS = [
    ("Client", "I keep lying awake before every exam and my chest feels tight."),
    ("Therapist", "That sounds exhausting. What goes through your mind while you lie awake?"),
    ("Client", "Mostly that I will fail and let my family down."),
    ("Therapist", "So the worry is about disappointing people you care about. Tell me more about that."),
]


def write_dataset(path: Path) -> Path:
    conversations = []
    for i in range(6):
        text = "\n".join(f"{who}: {what}" for who, what in TURNS * (1 + 3 * (i == 0)))
        record = {"text": text, "id": f"s{i}"}
        if i % 2 == 0:
            record["domain"] = ["psychology", "mental_health", "general_therapeutic"][i // 2]
        conversations.append(record)
    path.write_text(json.dumps({"conversations": conversations}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = make_model_dir(tmp_path_factory.mktemp("eval"), train_steps=2)
    # As the trainer saves it; a short prompt suits the one-char-per-token test tokenizer.
    (path / "run_config").mkdir()
    (path / "run_config" / "moe_training_config.json").write_text(json.dumps({"system_prompt": "Be kind."}))
    return path


def test_evaluate_writes_report_plots_and_table(model_dir, tmp_path, capsys):
    data = write_dataset(tmp_path / "heldout.json")
    out = tmp_path / "report"
    rc = main(["evaluate", str(model_dir), "--dataset", str(data), "--context-lengths", "64,256,100000",
               "--max-seq-length", "300", "--out", str(out), "--device", "cpu"])
    assert rc == 0
    printed = capsys.readouterr().out
    for text in ("Guide targets", "perplexity", "Expert share overall", "Domain-routing accuracy",
                 "Perplexity by context length", "evaluation_report.json"):
        assert text in printed
    assert "PASS" in printed or "MISS" in printed
    report = json.loads((out / "evaluation_report.json").read_text())
    assert report["conversations"] == 6 and report["labelled_conversations"] == 3
    assert report["adapted"]["tokens"] == report["base"]["tokens"] > 0
    assert report["routing"]["labelled_samples"] >= 3 and "domain_confusion" in report["routing"]
    rows = {r["length"]: r for r in report["by_context_length"]}
    assert rows[64]["windows"] > 0 and rows[100000]["windows"] == 0
    assert report["context"]["rope_scaling"] == "native"  # 256 < the tiny model's 512 positions
    assert [t["metric"] for t in report["targets"]][:2] == ["loss", "perplexity"]
    try:
        import therapeutic_moe.training.plots  # noqa: F401
    except ImportError:
        return
    for name in ("expert_usage_heatmap.png", "domain_confusion.png", "ppl_by_context_length.png"):
        assert (out / name).stat().st_size > 1000, name


def test_evaluate_json_and_base_only(model_dir, tmp_path, capsys):
    data = write_dataset(tmp_path / "heldout.json")
    rc = main(["evaluate", str(model_dir), "--dataset", str(data), "--base-only", "--context-lengths", "none",
               "--json", "--no-plots", "--out", str(tmp_path / "r"), "--device", "cpu"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["adapted"] is None and report["base"]["loss"] > 0 and report["targets_for"] == "base"
    assert "by_context_length" not in report


@pytest.mark.parametrize("args, message", [
    (["--context-lengths", "512,abc"], "not a token count"),
    (["--context-lengths", "1"], "not a token count"),
    (["--max-windows", "0"], "--max-windows must be >= 1"),
    (["--dataset", "missing.json"], "no such file"),
])
def test_evaluate_bad_flags_are_one_line_errors(model_dir, tmp_path, capsys, args, message):
    data = write_dataset(tmp_path / "d.json")
    argv = ["evaluate", str(model_dir), "--dataset", str(data), *args]
    if "--dataset" in args:
        argv = ["evaluate", str(model_dir), *args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_real_long_sessions_give_windows_at_every_length(model_dir, tmp_path):
    """AnnoMI sessions reach ~11 k tokens of the real tokenizer; with the one-char-per-token test
    tokenizer they are longer still, so every length up to 8192 must get windows."""
    path = shared_data_dir() / "annomi_high.json"
    if not path.is_file():
        pytest.skip(f"real datasets not present ({path}); set THERAPEUTIC_MOE_SHARED_DATA")
    from therapeutic_moe.evaluation.data_source import load_eval_data
    from therapeutic_moe.evaluation.long_context import context_windows
    from conftest import make_tiny_tokenizer

    data = load_eval_data(path, make_tiny_tokenizer(), ["a", "b"], max_seq_length=2048)
    assert data.conversations == 110 and len(data.whole) == 110
    assert all(len(e.input_ids) <= 2048 for e in data.examples)
    for length in (512, 2048, 8192):
        assert len(context_windows(data.whole, length, 4)) == 4
