"""Chat-template rendering, assistant-only labels, and windows over long sessions."""

from __future__ import annotations

import pytest

from therapeutic_moe.data.chat_render import (
    IGNORE_INDEX, _layout_from_prefixes, _layout_from_probe, encode_chat, render)
from therapeutic_moe.data.examples import BuildStats, Window, conversation_examples, plan_windows
from therapeutic_moe.data.types import Conversation, Turn
from therapeutic_moe.errors import DataError

ZEPHYR_TEMPLATE = (
    "{% for m in messages %}{{ '<|' + m['role'] + '|>\\n' + m['content'] + '</s>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)
MESSAGES = [
    {"role": "system", "content": "Be kind."},
    {"role": "assistant", "content": "Welcome back."},
    {"role": "user", "content": "Thanks. Rough week."},
    {"role": "assistant", "content": "Tell me more."},
]


def _trained_text(tokenizer, ids, labels):
    """The trained tokens, joined, with a '§' wherever the trained run is interrupted."""
    out, previous = [], False
    for token, label in zip(tokenizer.convert_ids_to_tokens(ids), labels):
        trained = label != IGNORE_INDEX
        if trained and out and not previous:
            out.append("§")
        if trained:
            out.append(token)
        previous = trained
    return "".join(out)


def test_chatml_trains_only_assistant_content_and_end_of_turn(tiny_tokenizer):
    ids, labels = encode_chat(tiny_tokenizer, MESSAGES)
    assert tiny_tokenizer.decode(ids) == render(tiny_tokenizer, MESSAGES)
    assert _trained_text(tiny_tokenizer, ids, labels) == "Welcome back.<|im_end|>§Tell me more.<|im_end|>"
    # pad == eos here, yet the assistant's end-of-turn is a target: labels never come from pad ids.
    eos = tiny_tokenizer.eos_token_id
    assert tiny_tokenizer.pad_token_id == eos
    assert sum(1 for i, label in zip(ids, labels) if label == eos) == 2
    assert all(label in (IGNORE_INDEX, i) for i, label in zip(ids, labels))


def test_train_from_masks_earlier_assistant_turns(tiny_tokenizer):
    ids, labels = encode_chat(tiny_tokenizer, MESSAGES, train_from=3)
    assert _trained_text(tiny_tokenizer, ids, labels) == "Tell me more.<|im_end|>"


def test_other_template(tiny_tokenizer):
    tiny_tokenizer.chat_template = ZEPHYR_TEMPLATE
    ids, labels = encode_chat(tiny_tokenizer, MESSAGES)
    assert tiny_tokenizer.decode(ids).startswith("<|system|>\nBe kind.</s>\n<|assistant|>\nWelcome back.")
    assert _trained_text(tiny_tokenizer, ids, labels) == "Welcome back.</s>§Tell me more.</s>"


def test_tokenizer_without_template_uses_plain_fallback(tiny_tokenizer):
    tiny_tokenizer.chat_template = None
    ids, labels = encode_chat(tiny_tokenizer, MESSAGES)
    assert tiny_tokenizer.decode(ids) == ("system: Be kind.\nassistant: Welcome back.\n<|im_end|>user: Thanks. "
                                          "Rough week.\nassistant: Tell me more.\n<|im_end|>")
    assert _trained_text(tiny_tokenizer, ids, labels) == "Welcome back.\n<|im_end|>§Tell me more.\n<|im_end|>"


@pytest.mark.parametrize("template", [None, ZEPHYR_TEMPLATE, "chatml"])
def test_fast_layout_matches_prefix_rendering(tiny_tokenizer, template):
    if template != "chatml":
        tiny_tokenizer.chat_template = template
    for messages in (MESSAGES, MESSAGES[1:], MESSAGES[2:], MESSAGES[:3]):
        full = render(tiny_tokenizer, messages)
        fast = _layout_from_probe(tiny_tokenizer, messages, full)
        assert fast is not None
        assert fast == _layout_from_prefixes(tiny_tokenizer, messages, full, "")


def test_position_dependent_template_still_labels_exactly(tiny_tokenizer):
    # Numbers each turn: the probe cannot describe it, so every prefix is rendered instead.
    tiny_tokenizer.chat_template = ("{% for m in messages %}{{ loop.index|string + m['role'] + ':' + m['content'] "
                                    "+ '<|im_end|>' }}{% endfor %}")
    ids, labels = encode_chat(tiny_tokenizer, MESSAGES)
    assert _trained_text(tiny_tokenizer, ids, labels) == "Welcome back.<|im_end|>§Tell me more.<|im_end|>"


def test_template_that_rewrites_history_is_refused(tiny_tokenizer):
    tiny_tokenizer.chat_template = "{{ messages|length }}{% for m in messages %}{{ m['content'] }}{% endfor %}"
    with pytest.raises(DataError, match="renders earlier turns differently"):
        encode_chat(tiny_tokenizer, MESSAGES, where="x.json[3]")


def test_template_error_becomes_data_error(tiny_tokenizer):
    tiny_tokenizer.chat_template = "{{ raise_exception('Conversation roles must alternate') }}"
    with pytest.raises(DataError, match="x.json\\[3\\]: the tokenizer's chat template refused it: "
                                        "Conversation roles must alternate"):
        encode_chat(tiny_tokenizer, MESSAGES, where="x.json[3]")


@pytest.mark.parametrize("roles, lengths, budget, windows, too_long", [
    (["user", "assistant"], [5, 5], 100, [Window(0, 0, 1)], 0),
    (["user", "assistant"] * 5, [10] * 10, 45, [Window(0, 0, 3), Window(2, 4, 5), Window(4, 6, 7), Window(6, 8, 9)], 0),
    (["assistant", "user"] * 3, [10] * 6, 25, [Window(0, 0, 0), Window(1, 1, 2), Window(3, 3, 4)], 0),
    (["user", "assistant", "user", "assistant"], [10, 50, 10, 10], 45, [Window(2, 2, 3)], 1),
    (["user", "assistant", "user"], [10, 10, 10], 100, [Window(0, 0, 1)], 0),  # trailing user turn unused
    (["user", "assistant"], [60, 10], 50, [], 1),
])
def test_plan_windows(roles, lengths, budget, windows, too_long):
    planned, turns_too_long = plan_windows(roles, lengths, budget)
    assert (planned, len(turns_too_long)) == (windows, too_long)


def _session(n_exchanges, words=8):
    turns = []
    for k in range(n_exchanges):
        turns.append(Turn("user", f"client line {k} " + "so " * words))
        turns.append(Turn("assistant", f"reply {k} " + "ok " * words))
    return Conversation(id="long", turns=turns, source="s.json[0]")


def test_long_session_windows_cover_every_reply_once(tiny_tokenizer):
    conv = _session(30)
    stats = BuildStats()
    examples = conversation_examples(conv, tiny_tokenizer, max_seq_length=400, system_prompt="Be kind.",
                                     domain=2, stats=stats)
    assert len(examples) > 3 and stats.multi_window_conversations == 1
    trained_replies = []
    for ex in examples:
        assert len(ex) <= 400 and ex.domain == 2 and ex.conv_id == "long"
        assert ex.labels[0] == IGNORE_INDEX
        assert ex.labels[-2] == tiny_tokenizer.eos_token_id  # ends on an assistant turn ("...<|im_end|>\n")
        text = _trained_text(tiny_tokenizer, ex.input_ids, ex.labels)
        trained_replies += [part.split(" ")[1] for part in text.split("§")]
        assert tiny_tokenizer.decode(ex.input_ids).startswith("<|im_start|>system\nBe kind.")
    assert trained_replies == [str(k) for k in range(30)]
    assert [ex.window for ex in examples] == list(range(len(examples)))
    # later windows carry earlier turns as (masked) context
    assert "client line" in tiny_tokenizer.decode(examples[1].input_ids[:examples[1].labels.index(
        next(label for label in examples[1].labels if label != IGNORE_INDEX))])


def test_turn_longer_than_window_is_dropped_and_counted_not_truncated(tiny_tokenizer):
    conv = Conversation(id="c", turns=[Turn("user", "hi"), Turn("assistant", "x" * 500), Turn("user", "ok"),
                                       Turn("assistant", "good")], source="s.json[0]")
    stats = BuildStats()
    examples = conversation_examples(conv, tiny_tokenizer, max_seq_length=200, system_prompt=None, domain=-1,
                                     stats=stats)
    assert stats.drops["turn_too_long"] == 1
    assert len(examples) == 1
    assert _trained_text(tiny_tokenizer, examples[0].input_ids, examples[0].labels) == "good<|im_end|>"


def test_window_without_targets_is_dropped(tiny_tokenizer):
    tiny_tokenizer.chat_template = ("{% for m in messages %}{% if m['role'] != 'assistant' %}{{ m['content'] + '\\n' }}"
                                    "{% endif %}{% endfor %}")
    stats = BuildStats()
    conv = Conversation(id="c", turns=[Turn("user", "hi"), Turn("assistant", "hello")], source="s.json[0]")
    assert conversation_examples(conv, tiny_tokenizer, max_seq_length=100, system_prompt=None, domain=-1,
                                 stats=stats) == []
    assert stats.drops["no_trained_tokens"] == 1


def test_control_token_text_in_turns_is_removed(tiny_tokenizer):
    stats = BuildStats()
    conv = Conversation(id="c", turns=[Turn("user", "hi <|im_end|> there"), Turn("assistant", "ok")],
                        source="s.json[0]")
    (example,) = conversation_examples(conv, tiny_tokenizer, max_seq_length=200, system_prompt=None, domain=-1,
                                       stats=stats)
    assert stats.special_text_removed == 1
    assert example.input_ids.count(tiny_tokenizer.eos_token_id) == 2


def test_system_prompt_longer_than_window_is_a_config_error(tiny_tokenizer):
    from therapeutic_moe.errors import ConfigError

    conv = Conversation(id="c", turns=[Turn("user", "hi"), Turn("assistant", "ok")], source="s.json[0]")
    with pytest.raises(ConfigError, match="system prompt alone takes"):
        conversation_examples(conv, tiny_tokenizer, max_seq_length=20, system_prompt="x" * 50, domain=-1,
                              stats=BuildStats())


@pytest.mark.slow
@pytest.mark.real_model
def test_real_smollm2_template_labels(tmp_path):
    from therapeutic_moe.data.check import load_tokenizer_for_check

    try:
        tokenizer = load_tokenizer_for_check("smollm2-135m-instruct")
    except Exception as exc:  # the package with the GGUF is optional
        pytest.skip(str(exc))
    ids, labels = encode_chat(tokenizer, MESSAGES)
    assert tokenizer.pad_token_id == tokenizer.eos_token_id
    trained = [i for i, label in zip(ids, labels) if label != IGNORE_INDEX]
    assert tokenizer.decode(trained) == "Welcome back.<|im_end|>Tell me more.<|im_end|>"
    assert ids == list(tokenizer.apply_chat_template(MESSAGES, tokenize=True, return_dict=True)["input_ids"])
