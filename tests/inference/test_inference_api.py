"""The Python inference API: replies with a routing trace, streaming, history trimming, bad input."""

from __future__ import annotations

import pytest
import torch

from inference_helpers import load_assistant, make_model_dir
from therapeutic_moe.errors import UserError
from therapeutic_moe.inference import ContextTooLong, InvalidMessages, TherapistAssistant
from therapeutic_moe.inference.generation import sample_next
from therapeutic_moe.inference.messages import render_prompt_ids

HELLO = [{"role": "user", "content": "hello, I feel tense today"}]


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    return load_assistant(make_model_dir(tmp_path_factory.mktemp("api"), train_steps=2), safety=False)


def test_reply_has_text_usage_and_one_routing_entry_per_generated_token(assistant):
    reply = assistant.reply(HELLO, max_new_tokens=12, temperature=0.8, top_p=0.95, seed=1)
    produced = reply.usage.completion_tokens - (1 if reply.finish_reason == "stop" else 0)
    assert len(reply.routing) == produced > 0
    assert "".join(r.text for r in reply.routing) == reply.text
    assert reply.usage.prompt_tokens == len(render_prompt_ids(assistant.tokenizer, HELLO))
    assert reply.finish_reason in ("stop", "length") and reply.crisis is None
    for r in reply.routing:
        assert r.domain == assistant.domains[r.expert]
        assert len(r.layer_experts) == 2 and len(r.weights) == 4
        assert abs(sum(r.weights) - 1.0) < 1e-5
        assert r.expert == max(range(4), key=lambda e: r.weights[e])
    shares = reply.expert_shares(assistant.domains)
    assert set(shares) == set(assistant.domains) and abs(sum(shares.values()) - 1) < 1e-9


def test_first_token_routing_matches_a_plain_forward_of_the_prompt(assistant):
    reply = assistant.reply(HELLO, max_new_tokens=1, temperature=0)
    ids = torch.tensor([render_prompt_ids(assistant.tokenizer, HELLO)])
    model = assistant.model
    model.context.trace = []
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    trace, model.context.trace = model.context.trace, None
    gates = torch.stack([g[-1] for _, _, g in sorted(trace, key=lambda t: t[0])])  # [L, E]
    assert reply.routing[0].expert == int(gates.mean(0).argmax())
    assert reply.routing[0].layer_experts == gates.argmax(1).tolist()
    expected_token = int(logits[0, -1].argmax())
    assert assistant.tokenizer.decode([expected_token]) == reply.text or expected_token in assistant._stop_ids


def test_stream_chunks_join_to_the_same_greedy_reply(assistant):
    whole = assistant.reply(HELLO, max_new_tokens=10, temperature=0)
    chunks = list(assistant.reply(HELLO, max_new_tokens=10, temperature=0, stream=True))
    final = chunks[-1].reply
    assert final is not None and all(c.reply is None for c in chunks[:-1])
    assert "".join(c.text for c in chunks) == whole.text == final.text
    # tokens that show no text (special tokens) are not streamed, but stay in the final routing
    assert [r.expert for c in chunks for r in c.routing] == [r.expert for r in whole.routing if r.text]


def test_seeded_sampling_is_reproducible(assistant):
    a = assistant.reply(HELLO, max_new_tokens=8, temperature=1.0, seed=7)
    b = assistant.reply(HELLO, max_new_tokens=8, temperature=1.0, seed=7)
    assert a.text == b.text


def test_history_is_trimmed_from_the_oldest_turn_and_keeps_the_system_prompt(tmp_path):
    small = load_assistant(make_model_dir(tmp_path), safety=False, max_context_length=160)
    messages = [{"role": "system", "content": "Be kind."}]
    for i in range(6):
        messages += [{"role": "user", "content": f"message number {i} " * 2},
                     {"role": "assistant", "content": f"answer {i} " * 2}]
    messages.append({"role": "user", "content": "latest question"})
    reply = small.reply(messages, max_new_tokens=16, temperature=0)
    assert reply.dropped_messages > 0
    assert reply.usage.prompt_tokens <= 160 - 16
    assert reply.dropped_messages % 2 == 0  # whole user/assistant pairs: history still starts with a user
    kept = [messages[0]] + messages[1 + reply.dropped_messages:]
    assert reply.usage.prompt_tokens == len(render_prompt_ids(small.tokenizer, kept))


@pytest.mark.parametrize("budget", [60, 200, 1000, 5000])
def test_trimming_keeps_the_most_history_that_fits(assistant, budget):
    from therapeutic_moe.inference.messages import fit_messages

    messages = [{"role": "system", "content": "Be kind."}]
    for i in range(60):
        messages += [{"role": "user", "content": f"u{i} " * (1 + i % 5)}, {"role": "assistant", "content": f"a{i}"}]
    messages.append({"role": "user", "content": "now"})
    fitted = fit_messages(assistant.tokenizer, messages, budget)
    assert len(fitted.input_ids) <= budget and fitted.messages[0]["role"] == "system"
    assert fitted.messages[1]["role"] == "user" and fitted.messages[-1]["content"] == "now"
    if fitted.dropped:  # one user/assistant pair more would not have fitted
        longer = [messages[0]] + messages[1 + fitted.dropped - 2:]
        assert len(render_prompt_ids(assistant.tokenizer, longer)) > budget


def test_a_single_message_longer_than_the_context_is_a_clear_error(tmp_path):
    small = load_assistant(make_model_dir(tmp_path), safety=False, max_context_length=128)
    with pytest.raises(ContextTooLong, match="shorten the message"):
        small.reply([{"role": "user", "content": "x" * 400}], max_new_tokens=16)


@pytest.mark.parametrize("messages, match", [
    ([], "non-empty list"),
    ("hello", "non-empty list"),
    ([{"role": "bot", "content": "hi"}], r"messages\[0\]\.role"),
    ([{"role": "user", "content": 5}], r"messages\[0\]\.content must be a string"),
    ([{"role": "user"}], r"messages\[0\]\.content"),
    ([{"role": "system", "content": "x"}], "no user message"),
    ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], "must have role"),
])
def test_bad_messages_are_rejected_with_the_index_and_field(assistant, messages, match):
    with pytest.raises(InvalidMessages, match=match):
        assistant.reply(messages)


@pytest.mark.parametrize("kwargs, match", [
    ({"max_new_tokens": 0}, "max_new_tokens"),
    ({"temperature": -0.5}, "temperature"),
    ({"top_p": 0.0}, "top_p"),
    ({"repetition_penalty": 0.9}, "repetition_penalty"),
    ({"max_new_tokens": 600}, "leaves no room"),
])
def test_bad_sampling_settings_are_user_errors(assistant, kwargs, match):
    with pytest.raises(UserError, match=match):
        assistant.reply(HELLO, **kwargs)


def test_sampling_functions():
    logits = torch.tensor([0.0, 3.0, 1.0, 2.9])
    assert sample_next(logits, 0.0, 1.0, None) == 1
    g = torch.Generator().manual_seed(0)
    # top_p this small keeps only the most likely token
    assert {sample_next(logits, 1.0, 0.01, g) for _ in range(20)} == {1}
    picks = {sample_next(logits, 1.0, 1.0, g) for _ in range(200)}
    assert picks >= {1, 3}


def test_repetition_penalty_follows_the_ctrl_rule():
    logits = torch.tensor([0.0, 3.0, 1.0, 2.9])
    seen = torch.tensor([1])
    assert sample_next(logits, 0.0, 1.0, None, 1.0, seen) == 1  # 1 = off
    assert sample_next(logits, 0.0, 1.0, None, 1.1, seen) == 3  # 3.0 / 1.1 < 2.9
    negative = torch.tensor([-1.0, -0.95, -3.0])
    # a negative logit is multiplied, so a seen token drops further instead of rising
    assert sample_next(negative, 0.0, 1.0, None, 1.1, torch.tensor([0])) == 1
    assert sample_next(logits, 0.0, 1.0, None, 1.1, torch.tensor([], dtype=torch.long)) == 1


def test_penalty_changes_a_greedy_reply_only_where_it_would_repeat(assistant):
    from therapeutic_moe.inference.generation import SamplingParams, generate_steps

    prompt = render_prompt_ids(assistant.tokenizer, HELLO)

    def greedy(penalty):
        params = SamplingParams(40, 0.0, 1.0, None, penalty)
        return [t for t, _ in generate_steps(assistant.model, prompt, params, set())]

    off, on = greedy(1.0), greedy(2.0)
    first_repeat = next((i for i, t in enumerate(off) if t in off[:i]), len(off))
    # until the unpenalised reply repeats itself, every argmax is a fresh token: nothing changes
    assert on[:first_repeat] == off[:first_repeat]
    assert first_repeat < len(off), "the tiny model should loop within 40 greedy tokens"
    assert on != off and len(set(on)) > len(set(off))


def test_from_pretrained_names_the_missing_directory(tmp_path):
    from therapeutic_moe.errors import ModelDirError

    with pytest.raises(ModelDirError, match="no such model directory"):
        TherapistAssistant.from_pretrained(tmp_path / "nope", safety=False, quiet=True)


def test_attention_only_model_replies_without_routing(tmp_path):
    plain = load_assistant(make_model_dir(tmp_path, use_moe=False), safety=False)
    reply = plain.reply(HELLO, max_new_tokens=5, temperature=0)
    assert plain.domains == [] and reply.routing == [] and reply.usage.completion_tokens > 0
