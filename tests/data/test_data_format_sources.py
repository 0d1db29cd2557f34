"""ShareGPT, Alpaca and Hugging Face datasets sources (saved directories, Parquet, Arrow, hub ids)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from therapeutic_moe.data import load_conversations, prepare_datasets
from therapeutic_moe.errors import DataError

# One invented session written in every format; all must load to the same turns.
SYSTEM = "Listen first."
TURNS = [("user", "I can't sleep before exams."), ("assistant", "That sounds hard. What keeps you awake?"),
         ("user", "Worrying that I will fail."), ("assistant", "Let's look at that worry together.")]
SHAREGPT = {"id": "s1", "topic": "anxiety", "conversations": [{"from": "system", "value": SYSTEM}] + [
    {"from": "human" if role == "user" else "gpt", "value": text} for role, text in TURNS]}
MESSAGES = {"id": "s1", "topic": "anxiety", "messages": [{"role": "system", "content": SYSTEM}] + [
    {"role": role, "content": text} for role, text in TURNS]}
ALPACA = {"id": "s1", "topic": "anxiety", "system": SYSTEM, "instruction": TURNS[2][1], "input": "",
          "output": TURNS[3][1], "history": [[TURNS[0][1], TURNS[1][1]]]}


def _write(path, content):
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def _jsonl(*records):
    return "\n".join(json.dumps(r) for r in records) + "\n"


def _shape(conv):
    return conv.id, conv.topic, conv.system, [(t.role, t.content) for t in conv.turns]


EXPECTED = ("s1", "anxiety", SYSTEM, TURNS)


@pytest.mark.parametrize("name, content", [
    ("sharegpt.json", [SHAREGPT]),                 # a top-level list, as ShareGPT exports are
    ("sharegpt.jsonl", _jsonl(SHAREGPT)),
    ("sharegpt_one.json", SHAREGPT),                # a single record whose 'conversations' holds turns
    ("alpaca.json", [ALPACA]),
    ("alpaca.jsonl", _jsonl(ALPACA)),
    ("alpaca_one.json", ALPACA),
    ("messages.jsonl", _jsonl(MESSAGES)),
], ids=lambda v: v if isinstance(v, str) and len(v) < 30 else "")
def test_every_format_gives_the_same_conversation(tmp_path, name, content):
    (conv,) = load_conversations(_write(tmp_path / name, content))
    assert _shape(conv) == EXPECTED


def test_sharegpt_variants(tmp_path):
    records = [
        # LLaMA-Factory: the system prompt as a field; speaker names in any case
        {"system": SYSTEM, "conversations": [{"from": "Human", "value": "hi"}, {"from": "GPT", "value": "hello"}]},
        # ShareGPT turns under 'messages', and OpenAI turns under 'conversations'
        {"messages": [{"from": "user", "value": "hi"}, {"from": "assistant", "value": "hello"}]},
        {"conversations": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
    ]
    convs = load_conversations(_write(tmp_path / "v.jsonl", _jsonl(*records)))
    assert [c.system for c in convs] == [SYSTEM, None, None]
    assert all([(t.role, t.content) for t in c.turns] == [("user", "hi"), ("assistant", "hello")] for c in convs)


def test_alpaca_input_follows_the_instruction_after_a_blank_line(tmp_path):
    (conv,) = load_conversations(_write(tmp_path / "a.json", [
        {"instruction": "Reply to the client.", "input": "I feel alone.", "output": "Tell me more."}]))
    assert [(t.role, t.content) for t in conv.turns] == [("user", "Reply to the client.\n\nI feel alone."),
                                                          ("assistant", "Tell me more.")]
    assert conv.system is None


def _one(record):
    return _jsonl(record)


# (file name, content, fragments of the one-line message)
BAD = [
    ("from.jsonl", _one({"conversations": [{"from": "therapist", "value": "hi"}]}),
     ["from.jsonl:1.conversations[0]", "'from' 'therapist'", "'human'", "'gpt'"]),
    ("tool.jsonl", _one({"conversations": [{"from": "human", "value": "hi"}, {"from": "function_call", "value": "x"}]}),
     ["tool.jsonl:1.conversations[1]", "tool and function turns are not supported"]),
    ("value.jsonl", _one({"conversations": [{"from": "human", "value": 3}]}),
     ["value.jsonl:1.conversations[0]", "'value' must be a string, got int"]),
    ("nogpt.jsonl", _one({"conversations": [{"from": "human", "value": "hi"}]}),
     ["nogpt.jsonl:1", "no assistant message", "'gpt'"]),
    ("twosys.jsonl", _one({"system": "a", "conversations": [{"from": "system", "value": "b"},
                                                             {"from": "gpt", "value": "hi"}]}),
     ["twosys.jsonl:1", "a 'system' field and a system turn"]),
    ("lateturn.jsonl", _one({"conversations": [{"from": "human", "value": "a"}, {"from": "system", "value": "b"}]}),
     ["lateturn.jsonl:1.conversations[1]", "must come first", "conversations[0]"]),
    ("turnlist.jsonl", _one({"conversations": "hi"}), ["turnlist.jsonl:1", "'conversations' must be a list"]),
    ("noout.jsonl", _one({"instruction": "hi"}), ["noout.jsonl:1", "Alpaca field 'output'", "got missing"]),
    ("noinst.jsonl", _one({"output": "hello"}), ["noinst.jsonl:1", "Alpaca field 'instruction'", "got missing"]),
    ("outtype.jsonl", _one({"instruction": "hi", "output": ["a"]}), ["outtype.jsonl:1", "'output'", "got a list"]),
    ("emptyout.jsonl", _one({"instruction": "hi", "output": "  "}), ["emptyout.jsonl:1", "'output' is empty"]),
    ("emptyprompt.jsonl", _one({"instruction": "", "input": " ", "output": "x"}),
     ["emptyprompt.jsonl:1", "'instruction' and 'input' are both empty"]),
    ("history.jsonl", _one({"instruction": "a", "output": "b", "history": [["only one"]]}),
     ["history.jsonl:1.history[0]", "[prompt, reply] pair"]),
    ("mixed.jsonl", _one({"instruction": "a", "output": "b", "messages": [{"role": "user", "content": "x"}]}),
     ["mixed.jsonl:1", "has both 'messages' and 'instruction'", "one format per record"]),
]


@pytest.mark.parametrize("name, content, fragments", BAD, ids=[b[0] for b in BAD])
def test_bad_sharegpt_and_alpaca_records(tmp_path, name, content, fragments):
    with pytest.raises(DataError) as info:
        load_conversations(_write(tmp_path / name, content))
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from: {message}"


# ---------------------------------------------------------------- Hugging Face datasets

datasets = pytest.importorskip("datasets")


def _dataset(records):
    return datasets.Dataset.from_list(records)


def test_saved_dataset_directory(tmp_path):
    _dataset([SHAREGPT, {**SHAREGPT, "id": "s2"}]).save_to_disk(str(tmp_path / "saved"))
    convs = load_conversations(tmp_path / "saved")
    assert [_shape(c) for c in convs] == [EXPECTED, ("s2", *EXPECTED[1:])]
    assert convs[1].source == f"{tmp_path / 'saved'}[1]"


def test_saved_dataset_dict_uses_train(tmp_path):
    splits = datasets.DatasetDict(train=_dataset([MESSAGES]), validation=_dataset([{**MESSAGES, "id": "v"}]))
    splits.save_to_disk(str(tmp_path / "dd"))
    (conv,) = load_conversations(tmp_path / "dd")
    assert _shape(conv) == EXPECTED and conv.source == f"{tmp_path / 'dd'}:train[0]"
    (val,) = load_conversations(tmp_path / "dd" / "validation")  # one split's directory
    assert val.id == "v"


def test_saved_dataset_dict_without_train_is_refused(tmp_path):
    datasets.DatasetDict(a=_dataset([MESSAGES]), b=_dataset([MESSAGES])).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(DataError, match=r"splits \['a', 'b'\] and none is called 'train'.*dd/a"):
        load_conversations(tmp_path / "dd")


def test_parquet_and_arrow_files_and_a_mixed_directory(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    _dataset([ALPACA]).to_parquet(str(folder / "a.parquet"))
    _dataset([{**MESSAGES, "id": "s2"}]).save_to_disk(str(tmp_path / "saved"))
    arrow = next((tmp_path / "saved").glob("*.arrow"))
    (folder / "b.arrow").write_bytes(arrow.read_bytes())
    _write(folder / "c.jsonl", _jsonl({**SHAREGPT, "id": "s3"}))
    convs = load_conversations(folder)
    assert [c.id for c in convs] == ["s1", "s2", "s3"]
    assert all(_shape(c)[1:] == EXPECTED[1:] for c in convs)
    assert convs[0].source == f"{folder / 'a.parquet'}[0]"


def test_bad_row_in_parquet_names_the_row(tmp_path):
    path = tmp_path / "rows.parquet"
    _dataset([MESSAGES, {**MESSAGES, "messages": [{"role": "client", "content": "hi"}]}]).to_parquet(str(path))
    with pytest.raises(DataError, match=r"rows\.parquet\[1\]\.messages\[0\]: role 'client'"):
        load_conversations(path)


@pytest.mark.parametrize("name, body, fragment", [
    ("broken.parquet", b"not parquet at all", "not a readable Parquet file"),
    ("broken.arrow", b"not arrow at all", "not a readable Arrow file"),
])
def test_damaged_files(tmp_path, name, body, fragment):
    (tmp_path / name).write_bytes(body)
    with pytest.raises(DataError, match=fragment):
        load_conversations(tmp_path / name)


def test_empty_and_foreign_datasets(tmp_path):
    _dataset([{"questionText": "q", "answerText": "a"}]).to_parquet(str(tmp_path / "foreign.parquet"))
    with pytest.raises(DataError, match=r"foreign\.parquet\[0\]: missing 'text'.*answerText"):
        load_conversations(tmp_path / "foreign.parquet")
    datasets.Dataset.from_dict({"text": []}).to_parquet(str(tmp_path / "empty.parquet"))
    with pytest.raises(DataError, match=r"empty\.parquet: the dataset has no rows"):
        load_conversations(tmp_path / "empty.parquet")


def test_training_data_from_parquet_equals_json(tmp_path, tiny_tokenizer):
    records = [{**SHAREGPT, "id": f"s{i}", "conversations": SHAREGPT["conversations"] + [
        {"from": "human", "value": f"Session {i}."}, {"from": "gpt", "value": f"Noted, session {i}."}]}
        for i in range(6)]
    _dataset(records).to_parquet(str(tmp_path / "d.parquet"))
    _write(tmp_path / "d.json", records)
    prepared = [prepare_datasets(SimpleNamespace(dataset=str(tmp_path / name), validation_split=0.3), None,
                                 tiny_tokenizer) for name in ("d.parquet", "d.json")]
    ids = [[(e.conv_id, e.input_ids, e.labels) for e in p.train + p.val] for p in prepared]
    assert ids[0] == ids[1] and len(ids[0]) == 6


def test_hub_id_without_hub_access_is_one_clear_error(tmp_path):
    # Offline mode makes `datasets` fail at once instead of retrying the network.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    proc = subprocess.run([sys.executable, "-m", "therapeutic_moe", "data", "check", "someone/therapy-chats"],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "someone/therapy-chats: no such file or directory, and loading it as a Hugging Face hub dataset " \
           "failed" in proc.stderr and "save_to_disk" in proc.stderr and "Traceback" not in proc.stderr


def test_a_missing_relative_path_is_not_taken_for_a_hub_id(tmp_path):
    with pytest.raises(DataError, match="no such file or directory. Fix: check the path"):
        load_conversations(tmp_path / "data" / "train.json")
