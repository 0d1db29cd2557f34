"""prepare_datasets end to end on small files and on the bundled sample, with a tiny tokenizer."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from therapeutic_moe.data import bundled_sample_path, load_conversations, prepare_datasets
from therapeutic_moe.data.settings import DataSettings, settings_from_config_file
from therapeutic_moe.errors import ConfigError, DataError

DOMAINS = ["psychology", "mental_health", "bias_detection", "general_therapeutic"]


def _cfg(**kw):
    base = dict(max_seq_length=2048, system_prompt="Be kind.", validation_split=0.1, seed=42,
                expert_domains=DOMAINS)
    base.update(kw)
    return SimpleNamespace(**base)


def _file(tmp_path, records, name="d.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"conversations": records}), encoding="utf-8")
    return path


def _record(i, **kw):
    return {"text": f"Client: question number {i}\nTherapist: answer number {i}", "id": f"r{i}", **kw}


def test_bundled_sample_is_the_default_and_is_complete(tmp_path, monkeypatch, tiny_tokenizer):
    monkeypatch.chdir(tmp_path)  # no ./training_dataset.json here
    data = prepare_datasets(_cfg(dataset=None), SimpleNamespace(pii_scrubbing=True), tiny_tokenizer)
    report = data.report
    assert report.files == [str(bundled_sample_path())]
    assert report.conversations == 60 and report.duplicates_removed == 0
    assert report.train_conversations + report.val_conversations == 60 and report.val_conversations >= 3
    assert set(report.domains) == set(DOMAINS) and min(report.domains.values()) >= 10
    assert report.pii == {"email": 2, "phone": 2, "address": 1, "date_of_birth": 1, "name": 8}
    assert report.multi_window_conversations >= 1 and report.dropped == 0
    assert len(data.train) == report.train_examples and data.val
    assert all(len(ex) <= 2048 and -1 <= ex.domain < 4 for ex in data.train + data.val)
    assert {ex.conv_id for ex in data.train}.isdisjoint({ex.conv_id for ex in data.val})
    assert 0 < report.packing_efficiency <= 1 and 0 < report.padding_efficiency <= 1
    text = "".join(tiny_tokenizer.decode(ex.input_ids) for ex in data.train + data.val)
    assert "@example" not in text and "[EMAIL]" in text


def test_sample_has_long_multi_turn_and_pii_conversations():
    convs = load_conversations(bundled_sample_path())
    assert len(convs) == 60 and len({c.id for c in convs}) == 60
    assert sum(len(c.turns) >= 6 for c in convs) >= 10
    assert sum(sum(len(t.content) for t in c.turns) > 5000 for c in convs) >= 3  # ~1500+ tokens each


def test_local_training_dataset_wins_over_the_sample(tmp_path, monkeypatch, tiny_tokenizer):
    monkeypatch.chdir(tmp_path)
    _file(tmp_path, [_record(i) for i in range(5)], name="training_dataset.json")
    data = prepare_datasets(_cfg(dataset=None), None, tiny_tokenizer)
    assert data.report.files == ["training_dataset.json"] and data.report.conversations == 5


def test_same_config_gives_the_same_examples(tmp_path, tiny_tokenizer):
    path = _file(tmp_path, [_record(i) for i in range(40)])
    first = prepare_datasets(_cfg(dataset=str(path)), None, tiny_tokenizer)
    second = prepare_datasets(_cfg(dataset=str(path)), None, tiny_tokenizer)
    assert first.train == second.train and first.val == second.val


def test_duplicates_removed_and_validation_file_never_leaks(tmp_path, tiny_tokenizer):
    train = _file(tmp_path, [_record(1), _record(1) | {"id": "copy"}, _record(2), _record(3)], "train.json")
    val = _file(tmp_path, [_record(3) | {"id": "v3"}, _record(4)], "val.json")
    data = prepare_datasets(_cfg(dataset=str(train), validation_dataset=str(val)), None, tiny_tokenizer)
    assert data.report.duplicates_removed == 2  # one exact copy, one copy of a validation conversation
    assert sorted(ex.conv_id for ex in data.train) == ["r1", "r2"]
    assert sorted(ex.conv_id for ex in data.val) == ["r4", "v3"]
    kept = prepare_datasets(_cfg(dataset=str(train), validation_split=0.0, dedupe=False), None, tiny_tokenizer)
    assert len(kept.train) == 4 and kept.report.duplicates_removed == 0


@pytest.mark.parametrize("topic_map", [
    {"anxiety": "mental_health", "Parenting": "general_therapeutic"},
    "counselchat",
    "file",
])
def test_topics_map_to_domains(tmp_path, tiny_tokenizer, topic_map):
    if topic_map == "file":
        topic_map = str(tmp_path / "map.json")
        (tmp_path / "map.json").write_text(json.dumps({"anxiety": "mental_health", "parenting": "general_therapeutic"}))
    path = _file(tmp_path, [_record(1, topic="anxiety"), _record(2, topic="PARENTING"), _record(3, topic="weather"),
                            _record(4, topic="weather; anxiety"), _record(5, domain="psychology", topic="anxiety")])
    data = prepare_datasets(_cfg(dataset=str(path), validation_split=0, topic_to_domain=topic_map), None,
                            tiny_tokenizer)
    assert {ex.conv_id: ex.domain for ex in data.train} == {"r1": 1, "r2": 3, "r3": -1, "r4": 1, "r5": 0}
    assert data.report.domains == {"psychology": 1, "mental_health": 2, "general_therapeutic": 1, "none": 1}


@pytest.mark.parametrize("topic_map, message", [
    ({"anxiety": "mental-health"}, "maps to unknown domain 'mental-health'.*Did you mean 'mental_health'"),
    ("no_such_map", "neither a bundled map \\['counselchat'\\] nor an existing JSON file"),
    ({"anxiety": 3}, "must map topic strings to domain strings"),
])
def test_bad_topic_maps(tmp_path, tiny_tokenizer, topic_map, message):
    path = _file(tmp_path, [_record(1)])
    with pytest.raises(ConfigError, match=message):
        prepare_datasets(_cfg(dataset=str(path), topic_to_domain=topic_map), None, tiny_tokenizer)


def test_too_many_drops_is_an_error_with_counts_and_fix(tmp_path, tiny_tokenizer):
    records = [_record(i) for i in range(8)] + [
        {"text": f"Client: hi {i}\nTherapist: " + "long " * 100, "id": f"long{i}"} for i in range(2)]
    path = _file(tmp_path, records)
    with pytest.raises(DataError) as info:
        prepare_datasets(_cfg(dataset=str(path), max_seq_length=200, max_drop_fraction=0.1, system_prompt=None),
                         None, tiny_tokenizer)
    message = str(info.value)
    for piece in ["2 of 10 samples", "turn_too_long: 2", "max_drop_fraction=0.1", "raise max_seq_length"]:
        assert piece in message
    ok = prepare_datasets(_cfg(dataset=str(path), max_seq_length=200, max_drop_fraction=0.3, system_prompt=None),
                          None, tiny_tokenizer)
    assert ok.report.drops == {"turn_too_long": 2}


def test_pii_switches(tmp_path, tiny_tokenizer):
    path = _file(tmp_path, [{"text": "Client: mail me at a.b@example.com, Maria\nTherapist: Sure, Maria."}])
    cfg = _cfg(dataset=str(path), validation_split=0)

    def text(safety):
        data = prepare_datasets(cfg, safety, tiny_tokenizer)
        return tiny_tokenizer.decode(data.train[0].input_ids), data.report.pii

    assert text(None) == (text(None)[0], {"email": 1, "name": 2})
    assert "[EMAIL]" in text(None)[0] and "[NAME]" in text(None)[0]
    assert "a.b@example.com" in text(SimpleNamespace(pii_scrubbing=False))[0]
    only_email, counts = text(SimpleNamespace(pii_scrubbing=True, pii_kinds=["email"]))
    assert "Maria" in only_email and counts == {"email": 1}


def test_settings_validation_reports_every_problem(tmp_path):
    with pytest.raises(ConfigError) as info:
        DataSettings(max_seq_length=0, validation_split=1.5, user_speakers=[])
    message = str(info.value)
    assert "max_seq_length" in message and "validation_split" in message and "user_speakers" in message
    config = tmp_path / "moe_training_config.json"
    config.write_text(json.dumps({"learning_rate": 3e-4, "max_seq_length": 512, "topic_to_domain": "counselchat"}))
    settings = settings_from_config_file(config, max_seq_length=None)
    assert settings.max_seq_length == 512 and settings.topic_to_domain == "counselchat"
    assert settings_from_config_file(config, max_seq_length=1024).max_seq_length == 1024
    config.write_text("{oops")
    with pytest.raises(ConfigError, match="moe_training_config.json: line 1, column 2: Expecting property name"):
        settings_from_config_file(config)
