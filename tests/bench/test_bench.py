"""`therapeutic-moe bench`: option parsing, FLOP accounting, batch choice, summary and a tiny
end-to-end CPU run that writes the JSON."""

from __future__ import annotations

import json

import pytest

from conftest import make_tiny_tokenizer
from therapeutic_moe.bench import report
from therapeutic_moe.bench.cli import main
from therapeutic_moe.bench.measure import choose_batch
from therapeutic_moe.bench.shapes import SHAPES, parse_shapes


def test_135m_flops_per_token_by_hand():
    shape = SHAPES["135m"]
    per_layer = 576 * 576 * 2 + 576 * 192 * 2 + 3 * 576 * 1536
    assert shape.matmul_params() == 30 * per_layer + 49152 * 576  # lm_head counted (tied or not)
    assert shape.flops_per_token(2048) == 4 * shape.matmul_params() + 6 * 30 * 2048 * 576


def test_parse_shapes_with_sequence_override():
    parsed = parse_shapes("135m, 8B@8192", 2048)
    assert [(s.name, seq) for s, seq in parsed] == [("135m", 2048), ("8b", 8192)]


@pytest.mark.parametrize("text, message", [
    ("3b", "unknown shape '3b'"),
    ("8b@long", "must be a sequence length"),
    ("tiny@4", "must be >= 8"),
    (" , ", "no shapes given"),
])
def test_parse_shapes_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        parse_shapes(text, 2048)


@pytest.mark.parametrize("peak_1, peak_2, budget, max_batch, expected", [
    (10, 12, 30, 64, 11),  # fixed 8, 2 per sequence
    (10, 12, 30, 4, 4),  # token cap
    (10, None, 30, 64, 1),  # batch 2 did not fit
    (10, 12, 9, 64, 1),  # never below 1
])
def test_choose_batch(peak_1, peak_2, budget, max_batch, expected):
    assert choose_batch(peak_1, peak_2, budget, max_batch) == expected


def _row(variant, tps, batch=8, ckpt=False, per=1.0, fixed=2.0):
    return {"shape": "1b", "seq": 2048, "variant": variant, "tokens_per_s": tps, "batch": batch,
            "checkpointing": ckpt, "memory_per_sequence_gib": per, "memory_fixed_gib": fixed}


def test_summary_targets():
    rows = [_row("plain", 100, per=4.0), _row("liger", 200, per=1.0), _row("ours", 300, per=0.8),
            _row("ours_e4", 285, per=0.9)]
    entry = report.summarize(rows)["1b@2048"]
    assert entry["best_baseline"] == {"variant": "liger", "tokens_per_s": 200}
    assert entry["speedup_vs_best_baseline"]["ours_e4"] == pytest.approx(1.425)
    assert entry["expert_overhead_ours_e4"] == pytest.approx(0.05)
    assert entry["peak_gib_at_plain_batch"]["ours_e4"] == pytest.approx(2.0 + 0.9 * 8)
    assert all(entry["targets"].values())
    rows[-1]["tokens_per_s"] = 250
    assert report.summarize(rows)["1b@2048"]["targets"]["expert overhead <= 10%"] is False


def test_bench_cpu_end_to_end_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(["--shapes", "tiny@32", "--device", "cpu", "--batch", "2", "--steps", "1", "--warmup", "0",
                 "--variants", "plain,liger,ours_e4", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    rows = {r["variant"]: r for r in result["results"]}
    assert rows["liger"]["skipped"] or "tokens_per_s" in rows["liger"]
    for name in ("plain", "ours_e4"):
        assert rows[name]["tokens_per_s"] > 0 and rows[name]["batch"] == 2 and "error" not in rows[name]
    check = rows["ours_e4"]["check"]
    assert check["ok"] and check["rel_diff"] < 1e-6
    assert "tiny@32" in result["summary"]
    assert result["environment"]["versions"]["torch"]
    assert "ours_e4" in capsys.readouterr().out  # the table is printed


@pytest.mark.parametrize("args, message", [
    (["--shapes", "3b"], "unknown shape"),
    (["--variants", "ours,fast"], "unknown variants ['fast']"),
    (["--batch", "0"], "--batch must be 'auto' or a positive integer"),
    (["--steps", "0"], "--steps must be >= 1"),
    (["--memory-fraction", "2"], "--memory-fraction must be between"),
])
def test_bench_bad_options_exit_2_with_one_line(args, message, capsys):
    assert main(["--device", "cpu", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def _write_dataset(directory):
    conversations = []
    for i in range(40):
        turns = ["Client: I feel tense before work most days.", "Therapist: That sounds tiring. What helps a little?"]
        turns += ["Client: Walking sometimes.", "Therapist: Let's build on that."] * (i % 5) * 2  # lengths vary
        conversations.append({"text": "\n".join(turns), "id": f"c{i}"})
    (directory / "train.json").write_text(json.dumps({"conversations": conversations}))


@pytest.mark.slow
def test_bench_real_data_table_on_cpu(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    _write_dataset(data)
    tokenizer_dir = tmp_path / "tokenizer"
    make_tiny_tokenizer().save_pretrained(tokenizer_dir)
    out = tmp_path / "bench.json"
    code = main(["--shapes", "tiny@32", "--device", "cpu", "--batch", "1", "--steps", "1", "--warmup", "0",
                 "--variants", "ours", "--seq", "512", "--real-data", str(data), "--real-data-shapes", "tiny",
                 "--tokenizer", str(tokenizer_dir), "--real-data-tokens", "3000", "--out", str(out)])
    assert code == 0
    real = json.loads(out.read_text())["real_data"]
    assert "skipped" not in real, real
    rows = {r["setup"].split(",")[0]: r for r in real["rows"]}
    assert rows["plain"]["slot_efficiency"] < rows["ours_e4"]["slot_efficiency"] <= 1.0
    assert rows["ours_e4"]["useful_tokens_per_s"] > 0
