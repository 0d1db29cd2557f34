"""OpenAI sampling fields end to end: stop strings, top_k, presence/frequency penalties, and
the server's refusal of fields it does not implement."""

from __future__ import annotations

import pytest
import torch
from fastapi.testclient import TestClient

from conftest import make_tiny_tokenizer
from inference_helpers import load_assistant, make_model_dir
from therapeutic_moe.errors import UserError
from therapeutic_moe.inference.generation import SamplingParams, apply_penalties, sample_next
from therapeutic_moe.inference.text_stream import IncrementalDecoder, held_suffix_length
from therapeutic_moe.serving.app import create_app
from therapeutic_moe.serving.settings import ServeSettings

HELLO = [{"role": "user", "content": "hello, I feel tense today"}]


def decode_pieces(text: str, stop) -> tuple[list[str], IncrementalDecoder]:
    tok = make_tiny_tokenizer()
    decoder = IncrementalDecoder(tok, stop)
    pieces = [decoder.add(i) for i in tok.encode(text, add_special_tokens=False)]
    if not decoder.stopped:
        pieces.append(decoder.flush())
    return pieces, decoder


def test_stop_string_spanning_tokens_ends_the_text_before_it():
    pieces, decoder = decode_pieces("I hear you. Tell me more. Okay", ["e mo", "XYZ"])
    assert decoder.stopped
    assert "".join(pieces) == decoder.text == "I hear you. Tell m"
    # only text that could still start a stop string was ever held back
    assert pieces[:3] == ["I", " ", "h"] and max(len(p) for p in pieces) <= len("e mo")


def test_first_of_several_stop_strings_wins_and_unfinished_stop_is_released_at_the_end():
    _, decoder = decode_pieces("one. two! three", [".", "!"])
    assert decoder.text == "one"
    pieces, decoder = decode_pieces("calm and ste", ["steady"])
    assert not decoder.stopped and "".join(pieces) == decoder.text == "calm and ste"
    assert held_suffix_length("calm and ste", ["steady"]) == 3


def test_top_k_limits_sampling_to_the_k_best():
    logits = torch.tensor([0.0, 3.0, 2.9, 2.8, -1.0])
    g = torch.Generator().manual_seed(0)
    assert {sample_next(logits, 1.0, 1.0, g, top_k=1) for _ in range(50)} == {1}
    assert {sample_next(logits, 1.0, 1.0, g, top_k=2) for _ in range(200)} == {1, 2}


def test_presence_and_frequency_penalties_follow_openai_formula():
    logits = torch.tensor([1.0, 2.0, 3.0])
    out = apply_penalties(logits, {2: 3, 0: 1}, presence_penalty=0.5, frequency_penalty=0.25)
    torch.testing.assert_close(out, torch.tensor([1.0 - 0.5 - 0.25, 2.0, 3.0 - 0.5 - 0.75]))
    assert torch.equal(apply_penalties(logits, {}, 1.0, 2.0, 2.0), logits)


@pytest.mark.parametrize("field,value,needle", [("top_k", -1, "top_k"), ("presence_penalty", 2.5, "presence_penalty"),
                                                ("stop", ["a"] * 5, "up to 4"), ("stop", [""], "non-empty")])
def test_bad_sampling_values_are_user_errors(field, value, needle):
    with pytest.raises(UserError, match=needle):
        SamplingParams(**{field: value})


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    return load_assistant(make_model_dir(tmp_path_factory.mktemp("params"), train_steps=2), safety=False)


def test_reply_stops_before_the_stop_string_and_penalties_change_the_reply(assistant):
    whole = assistant.reply(HELLO, max_new_tokens=24, temperature=0)
    assert len(whole.text) > 6, whole.text
    stop = whole.text[3:5]
    cut = assistant.reply(HELLO, max_new_tokens=24, temperature=0, stop=[stop])
    assert cut.text == whole.text[:whole.text.index(stop)] and cut.finish_reason == "stop"
    assert "".join(r.text for r in cut.routing) == cut.text
    streamed = list(assistant.reply(HELLO, max_new_tokens=24, temperature=0, stop=[stop], stream=True))
    assert "".join(c.text for c in streamed) == cut.text
    penalised = assistant.reply(HELLO, max_new_tokens=24, temperature=0, repetition_penalty=1.0,
                                frequency_penalty=2.0)
    plain = assistant.reply(HELLO, max_new_tokens=24, temperature=0, repetition_penalty=1.0)
    assert penalised.text != plain.text


@pytest.fixture(scope="module")
def client(assistant):
    with TestClient(create_app(assistant, ServeSettings(max_new_tokens_limit=64))) as c:
        yield c


def post(client, **fields):
    body = {"messages": HELLO, "max_tokens": 24, "temperature": 0, **fields}
    return client.post("/v1/chat/completions", json=body)


def test_server_honours_stop_top_k_and_penalties(client):
    whole = post(client).json()["choices"][0]["message"]["content"]
    stop = whole[3:5]
    r = post(client, stop=stop)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == whole[:whole.index(stop)]
    assert r.json()["choices"][0]["finish_reason"] == "stop"
    # top_k=1 leaves one candidate: sampling at temperature 1 gives the greedy reply, whatever the seed
    for seed in (3, 4):
        assert post(client, top_k=1, temperature=1.0, seed=seed).json()["choices"][0]["message"]["content"] == whole
    assert post(client, frequency_penalty=2.0, repetition_penalty=1.0).json() != \
        post(client, repetition_penalty=1.0).json()


@pytest.mark.parametrize("fields,status,param", [
    ({"logit_bias": {"5": 10}}, 400, "logit_bias"), ({"logprobs": True}, 400, "logprobs"),
    ({"tools": [{"type": "function", "function": {"name": "f"}}]}, 400, "tools"),
    ({"response_format": {"type": "json_object"}}, 400, "response_format"),
    ({"stop": ["a", "b", "c", "d", "e"]}, 400, "stop"), ({"stop": [""]}, 400, "stop"),
    ({"presence_penalty": 3}, 422, "presence_penalty"), ({"frequency_penalty": -2.5}, 422, "frequency_penalty"),
    ({"top_k": -2}, 422, "top_k")])
def test_server_refuses_what_it_cannot_honour_naming_the_field(client, fields, status, param):
    r = post(client, **fields)
    assert r.status_code == status, r.text
    assert r.json()["error"]["param"] == param and param in r.json()["error"]["message"]


def test_neutral_values_of_unsupported_fields_are_accepted(client):
    assert post(client, logprobs=False, logit_bias={}, tools=None, response_format={"type": "text"}).status_code == 200
