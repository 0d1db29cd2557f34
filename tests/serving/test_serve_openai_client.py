"""The official `openai` client against the real server (uvicorn on 127.0.0.1): sampling fields,
stop, streaming, refused fields; and on the real default model, how the output screen changes
a streamed reply's chunks and time to first visible text against unscreened streaming."""

from __future__ import annotations

import time

import pytest

from conftest import tiny_cfg
from inference_helpers import load_assistant, make_model_dir
from test_serve_uvicorn import ServerThread
from therapeutic_moe.serving.app import create_app
from therapeutic_moe.serving.settings import ServeSettings

openai = pytest.importorskip("openai")
MESSAGES = [{"role": "user", "content": "I feel tense before exams."}]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    assistant = load_assistant(make_model_dir(tmp_path_factory.mktemp("oa"), train_steps=2), safety=True)
    with ServerThread(create_app(assistant, ServeSettings(max_new_tokens_limit=64))) as running:
        yield running


def client_for(server) -> "openai.OpenAI":
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=60)


def test_stop_top_k_and_penalties_through_the_openai_client(server):
    client = client_for(server)
    whole = client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=24, temperature=0)
    text = whole.choices[0].message.content
    assert len(text) > 6
    stop = text[4:6]
    cut = client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=24, temperature=0, stop=[stop],
                                         presence_penalty=0.0, frequency_penalty=0.0)
    assert cut.choices[0].message.content == text[:text.index(stop)]
    assert cut.choices[0].finish_reason == "stop"
    greedy_by_top_k = client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=24, temperature=1.0,
                                                     seed=7, extra_body={"top_k": 1})
    assert greedy_by_top_k.choices[0].message.content == text
    assert whole.model_extra["routing"], "the per-token routing extension reaches the client"


def test_streaming_through_the_openai_client_matches_the_plain_reply(server):
    client = client_for(server)
    whole = client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=24, temperature=0, stop=["z"])
    stream = client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=24, temperature=0, stop=["z"],
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_fields_the_server_cannot_honour_are_refused_by_name(server):
    client = client_for(server)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=4, logit_bias={"5": 10})
    assert caught.value.body["param"] == "logit_bias"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=4, stop=["a", "b", "c", "d", "e"])


def stream_once(server, max_tokens: int) -> dict:
    client = client_for(server)
    start = time.perf_counter()
    first, chunks, text = None, 0, ""
    for chunk in client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=max_tokens,
                                                temperature=0, stream=True,
                                                stream_options={"include_usage": True}):
        piece = chunk.choices[0].delta.content if chunk.choices else None
        if piece:
            chunks += 1
            text += piece
            first = first or time.perf_counter() - start
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    return {"chunks": chunks, "first_s": first, "total_s": time.perf_counter() - start, "text": text, "tokens": tokens}


@pytest.mark.real_model
@pytest.mark.slow
def test_screened_stream_on_the_real_model_arrives_token_by_token(tmp_path_factory):
    """A 30-token reply of the real default model: screened streaming against unscreened."""
    from therapeutic_moe.errors import ModelDirError
    from therapeutic_moe.inference import TherapistAssistant
    from therapeutic_moe.modeling import save_trained, wrap_model
    from therapeutic_moe.modeling.base_model import (DEFAULT_MODEL, embedded_gguf_path, load_base_model,
                                                     load_tokenizer, resolve_base_model)

    try:
        embedded_gguf_path()
    except ModelDirError as exc:
        pytest.skip(str(exc))
    resolved = resolve_base_model(DEFAULT_MODEL)
    model_dir = tmp_path_factory.mktemp("oa-real") / "model"
    save_trained(wrap_model(load_base_model(resolved), tiny_cfg(base_model=DEFAULT_MODEL), DEFAULT_MODEL),
                 load_tokenizer(resolved), model_dir)
    servers = {screened: ServerThread(create_app(TherapistAssistant.from_pretrained(
        model_dir, device="cpu", quiet=True, safety=screened), ServeSettings())) for screened in (False, True)}
    runs: dict[bool, list[dict]] = {False: [], True: []}
    with servers[False], servers[True]:
        for screened in (False, True):
            stream_once(servers[screened], 4)  # warm-up
        for _ in range(2):  # alternate, so a busy machine slows both alike; keep the faster run
            for screened in (False, True):
                runs[screened].append(stream_once(servers[screened], 30))
    plain, screened = (min(runs[s], key=lambda r: r["total_s"]) for s in (False, True))
    print(f"\nreal model, 30-token reply: unscreened {plain['chunks']} chunks, first text {plain['first_s']:.3f} s; "
          f"screened {screened['chunks']} chunks, first text {screened['first_s']:.3f} s "
          f"(total {plain['total_s']:.2f} / {screened['total_s']:.2f} s)")
    assert screened["text"] == plain["text"]
    assert screened["chunks"] >= plain["chunks"] * 0.5, results
    # the first words show within a few tokens, not after ~240 characters
    assert screened["first_s"] <= plain["first_s"] + 8 * plain["total_s"] / plain["tokens"], results
