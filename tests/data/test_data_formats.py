"""Loading every accepted input shape, and one clear DataError for every kind of bad input."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from therapeutic_moe.data import load_conversations, prepare_datasets
from therapeutic_moe.errors import DataError

SEED = {"conversations": [{"text": "Therapist: Hello.\nClient: Hi there.\nTherapist: How are you?", "id": "a"}]}


def _write(path, content):
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def _jsonl(*records):
    return "\n".join(json.dumps(r) for r in records) + "\n"


def _conv(**record):
    return {"conversations": [record]}


# (file name, content, substrings the one-line message must contain)
BAD_INPUTS = [
    ("syntax.json", '{"conversations": [\n  {"text": "Client: hi"\n]}', ["syntax.json:3:1", "invalid JSON", "Fix"]),
    ("trailing.json", '{"conversations": [{"text": "Therapist: hi",}]}', ["trailing.json:1:", "invalid JSON"]),
    ("lines.jsonl", '{"text": "Therapist: hi"}\n{"text": oops}\n', ["lines.jsonl:2:10", "invalid JSON"]),
    ("latin1.json", b'{"conversations": [{"text": "Therapist: caf\xe9"}]}', ["latin1.json:1:44", "not UTF-8",
                                                                              "0xe9", "iconv"]),
    ("latin1_line3.jsonl", b'\n{"text": "Therapist: ok"}\n{"text": "Client: \xff"}', ["latin1_line3.jsonl:3:19",
                                                                                      "not UTF-8"]),
    ("empty.json", "", ["empty.json", "empty file"]),
    ("blank.jsonl", "  \n\n", ["blank.jsonl", "empty file"]),
    ("nokey.json", {"items": []}, ["nokey.json", "missing the 'conversations' list", "items"]),
    ("scalar.json", "42", ["scalar.json", "missing the 'conversations' list"]),
    ("notlist.json", {"conversations": {"text": "Therapist: hi"}}, ["notlist.json", "'conversations' must be a list"]),
    ("nothing.json", {"conversations": []}, ["nothing.json", "'conversations' is empty"]),
    ("notobj.json", {"conversations": ["Therapist: hi"]}, ["notobj.json[0]", "expected a conversation object, got str"]),
    ("notext.json", _conv(body="Therapist: hi"), ["notext.json[0]", "missing 'text', 'messages', 'conversations' or 'instruction'", "body"]),
    ("both.json", _conv(text="Therapist: hi", messages=[]), ["both.json[0]", "both 'text' and 'messages'"]),
    ("texttype.json", _conv(text=["Therapist: hi"]), ["texttype.json[0]", "'text' must be a string, got list"]),
    ("idtype.json", _conv(text="Therapist: hi", id=[1]), ["idtype.json[0]", "'id' must be a string or integer"]),
    ("domaintype.json", _conv(text="Therapist: hi", domain=3), ["domaintype.json[0]", "'domain' must be a string"]),
    ("emptytext.json", _conv(text="   "), ["emptytext.json[0]", "empty conversation"]),
    ("onlylabels.json", _conv(text="Therapist:\nClient:  "), ["onlylabels.json[0]", "empty conversation"]),
    ("emptymsgs.jsonl", _jsonl({"messages": []}), ["emptymsgs.jsonl:1", "empty conversation"]),
    ("msgtype.jsonl", _jsonl({"messages": "hi"}), ["msgtype.jsonl:1", "'messages' must be a list"]),
    ("msgitem.jsonl", _jsonl({"messages": ["hi"]}), ["msgitem.jsonl:1.messages[0]",
                                                      "expected an object"]),
    ("role.jsonl", _jsonl({"messages": [{"role": "therapist", "content": "hi"}]}),
     ["role.jsonl:1.messages[0]", "role 'therapist'", "'system', 'user', 'assistant'"]),
    ("content.jsonl", _jsonl({"messages": [{"role": "user", "content": None}]}),
     ["content.jsonl:1.messages[0]", "'content' must be a string, got NoneType"]),
    ("twosys.jsonl", _jsonl({"messages": [{"role": "system", "content": "a"}, {"role": "system", "content": "b"},
                                          {"role": "assistant", "content": "hi"}]}),
     ["twosys.jsonl:1.messages[1]", "second system message"]),
    ("latesys.jsonl", _jsonl({"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]}),
     ["latesys.jsonl:1.messages[1]", "must come first"]),
    ("noassistant.jsonl", _jsonl({"messages": [{"role": "user", "content": "a"}]}),
     ["noassistant.jsonl:1", "no assistant message"]),
    ("notherapist.json", _conv(text="Client: hello?\nClient: anyone there?"),
     ["notherapist.json[0]", "no therapist turn", "assistant_speakers"]),
    ("speakers.json", _conv(text="Therapist: hi\nMother: he lies\nClient: no\nFather: stop it\nMother: see?"),
     ["speakers.json[0]", "unknown speaker label(s) 'Mother' (line 2), 'Father' (line 4)", "user_speakers",
      "assistant_speakers"]),
    ("nolabel.json", _conv(text="hello there\nTherapist: hi"), ["nolabel.json[0]", "line 1", "before any speaker label"]),
    ("second.json", {"conversations": [SEED["conversations"][0], {"text": "Client: only me"}]},
     ["second.json[1]", "no therapist turn"]),
]


@pytest.mark.parametrize("name, content, expected", BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_gives_one_clear_error(tmp_path, name, content, expected):
    path = _write(tmp_path / name, content)
    with pytest.raises(DataError) as info:
        load_conversations(path)
    message = str(info.value)
    assert "\n" not in message
    for piece in expected:
        assert piece in message, f"{piece!r} missing from: {message}"


@pytest.mark.parametrize("make, expected", [
    (lambda tmp: tmp / "missing.json", ["missing.json", "no such file or directory"]),
    (lambda tmp: (tmp / "docs").mkdir() or _write(tmp / "docs" / "notes.txt", "x").parent,
     ["docs", "has no *.json, *.jsonl, *.parquet or *.arrow files"]),
])
def test_bad_paths(tmp_path, make, expected):
    with pytest.raises(DataError) as info:
        load_conversations(make(tmp_path))
    for piece in expected:
        assert piece in str(info.value)


def test_unknown_domain_names_known_ones_and_suggests(tmp_path, tiny_tokenizer):
    path = _write(tmp_path / "dom.json", _conv(text="Client: hi\nTherapist: hello", domain="mental-health"))
    cfg = SimpleNamespace(dataset=str(path), expert_domains=["psychology", "mental_health"])
    with pytest.raises(DataError) as info:
        prepare_datasets(cfg, None, tiny_tokenizer)
    message = str(info.value)
    for piece in ["dom.json[0]", "'domain'", "'mental-health'", "['psychology', 'mental_health']",
                  "Did you mean 'mental_health'?"]:
        assert piece in message


def _turns(conv):
    return [(t.role, t.content) for t in conv.turns]


def test_seed_format(tmp_path):
    path = _write(tmp_path / "seed.json", {"conversations": [
        {"text": "Therapist: Hello.\nHow was the week?\nClient: Fine.\nClient: Mostly.\nTherapist: Good.",
         "domain": "psychology", "topic": "week", "id": 7},
        {"text": "THERAPIST: hi\nclient: yo"},
    ]})
    first, second = load_conversations(path)
    assert _turns(first) == [("assistant", "Hello.\nHow was the week?"), ("user", "Fine.\nMostly."),
                             ("assistant", "Good.")]
    assert (first.id, first.domain, first.topic, first.source) == ("7", "psychology", "week", f"{path}[0]")
    assert _turns(second) == [("assistant", "hi"), ("user", "yo")]
    assert second.id == f"{path}[1]"


def test_jsonl_chat_and_transcript_lines(tmp_path):
    path = _write(tmp_path / "mix.jsonl", _jsonl(
        {"messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "hi"},
                      {"role": "user", "content": "again"}, {"role": "assistant", "content": "hello"}]},
        {"text": "Client: a\nTherapist: b"},
    ).replace("\n", "\n\n", 1))
    chat, transcript = load_conversations(path)
    assert chat.system == "Be kind."
    assert _turns(chat) == [("user", "hi\nagain"), ("assistant", "hello")]
    assert chat.source == f"{path}:1"
    assert transcript.source == f"{path}:3"


def test_chat_inside_conversations_top_level_list_and_json_that_is_jsonl(tmp_path):
    chat = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    assert _turns(load_conversations(_write(tmp_path / "c.json", {"conversations": [chat]}))[0]) == \
        [("user", "q"), ("assistant", "a")]
    assert len(load_conversations(_write(tmp_path / "l.json", [chat, chat]))) == 2
    assert len(load_conversations(_write(tmp_path / "j.json", _jsonl(chat, chat, chat)))) == 3
    assert len(load_conversations(_write(tmp_path / "one.json", chat))) == 1


def test_directory_reads_json_and_jsonl_in_name_order(tmp_path):
    _write(tmp_path / "b.jsonl", _jsonl({"text": "Therapist: from b", "id": "b"}))
    _write(tmp_path / "a.json", {"conversations": [{"text": "Therapist: from a", "id": "a"}]})
    _write(tmp_path / "notes.txt", "ignored")
    assert [c.id for c in load_conversations(tmp_path)] == ["a", "b"]


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(SEED).encode())
    assert load_conversations(path)[0].id == "a"
