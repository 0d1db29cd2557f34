"""`data check` points at the topic map when records carry a 'topic' and no map is set."""

from __future__ import annotations

import json

import pytest

from therapeutic_moe.cli import main
from therapeutic_moe.data import check as check_module
from therapeutic_moe.data.settings import DataSettings


@pytest.fixture
def use_tiny_tokenizer(monkeypatch, tiny_tokenizer):
    monkeypatch.setattr(check_module, "load_tokenizer_for_check", lambda name: tiny_tokenizer)


def _write(path, topics):
    path.write_text("\n".join(json.dumps({"text": f"Client: q{i}\nTherapist: a{i}", "topic": topic})
                              for i, topic in enumerate(topics)), encoding="utf-8")
    return path


def test_topics_without_a_map_get_a_hint_naming_the_bundled_map(tmp_path, capsys, use_tiny_tokenizer):
    data = _write(tmp_path / "cc.jsonl", ["anxiety", "parenting", "anxiety", "weather"])
    assert main(["data", "check", str(data)]) == 0
    out = capsys.readouterr().out
    assert "domains:        none: 4" in out
    assert "hint:           4 conversations have a 'topic' but no domain" in out
    assert "The bundled map 'counselchat' labels 3 of them" in out and '"topic_to_domain": "counselchat"' in out
    assert main(["data", "check", str(data), "--topic-to-domain", "counselchat", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["hints"] == [] and report["domains"]["mental_health"] == 2


def test_topics_no_bundled_map_knows_are_listed(tmp_path, use_tiny_tokenizer):
    data = _write(tmp_path / "t.jsonl", ["weather", "weather", "sports"])
    report, _ = check_module.check_dataset(data, DataSettings())
    (hint,) = report.hints
    assert "most common topics: weather (2), sports (1)" in hint


def test_no_hint_without_topics_or_with_domains(tmp_path, use_tiny_tokenizer):
    plain = tmp_path / "p.jsonl"
    plain.write_text(json.dumps({"text": "Client: q\nTherapist: a", "domain": "psychology", "topic": "anxiety"}))
    report, _ = check_module.check_dataset(plain, DataSettings())
    assert report.hints == []


@pytest.mark.slow
@pytest.mark.real_model
def test_counsel_chat_gets_the_hint(shared_data, capsys):
    assert main(["data", "check", str(shared_data / "counselchat_train.json")]) == 0
    out = capsys.readouterr().out
    assert "The bundled map 'counselchat' labels" in out
