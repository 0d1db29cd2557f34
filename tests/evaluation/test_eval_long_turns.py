"""Held-out data is never dropped for length: a turn longer than a window is scored in pieces."""

from __future__ import annotations

import json

from therapeutic_moe.data.chat_render import IGNORE_INDEX, encode_chat
from therapeutic_moe.data.examples import LONG_TURN_CONTEXT_FRACTION, BuildStats, conversation_examples
from therapeutic_moe.data.types import Conversation, Turn

LONG = " ".join(f"w{k}" for k in range(150))  # ~600 characters: one token each with the tiny tokenizer


def _conversation():
    return Conversation(id="c", turns=[Turn("user", "hi"), Turn("assistant", LONG), Turn("user", "ok"),
                                       Turn("assistant", "good")], source="s.json[0]")


def _scored(ids, labels):
    return [(i, tok) for i, (tok, lab) in enumerate(zip(ids, labels)) if lab != IGNORE_INDEX and i > 0]


def test_long_turn_is_scored_once_per_token_with_preceding_context(tiny_tokenizer):
    stats = BuildStats()
    examples = conversation_examples(_conversation(), tiny_tokenizer, max_seq_length=200, system_prompt=None,
                                     domain=1, stats=stats, split_long_turns=True)
    assert stats.drops["turn_too_long"] == 0 and stats.long_turns_split == 1
    assert all(len(ex) <= 200 for ex in examples) and all(ex.domain == 1 for ex in examples)
    # The long turn's windows together score exactly its labelled tokens, each once.
    messages = [{"role": t.role, "content": t.content} for t in _conversation().turns]
    ids, labels = encode_chat(tiny_tokenizer, messages[:2])
    wanted = [ids[i] for i, lab in enumerate(labels) if lab != IGNORE_INDEX]
    pieces = [ex for ex in examples if "good" not in tiny_tokenizer.decode(ex.input_ids)]
    got = [tok for ex in pieces for _, tok in _scored(ex.input_ids, ex.labels)]
    assert got == wanted and len(pieces) >= 3
    for ex in pieces:
        first = min(i for i, _ in _scored(ex.input_ids, ex.labels))
        assert first >= int(200 * LONG_TURN_CONTEXT_FRACTION) or ex.input_ids[:first] == ids[:first]
    # The short turn after it still gets its ordinary window.
    assert any("good" in tiny_tokenizer.decode(ex.input_ids) for ex in examples)


def test_training_still_drops_it(tiny_tokenizer):
    stats = BuildStats()
    examples = conversation_examples(_conversation(), tiny_tokenizer, max_seq_length=200, system_prompt=None,
                                     domain=-1, stats=stats)
    assert stats.drops["turn_too_long"] == 1 and stats.long_turns_split == 0 and len(examples) == 1


def test_eval_data_leaves_nothing_out_and_says_so(tmp_path, tiny_tokenizer):
    from therapeutic_moe.evaluation.data_source import load_eval_data

    path = tmp_path / "held_out.json"
    text = f"Client: hi\nTherapist: {LONG}\nClient: ok\nTherapist: good"
    path.write_text(json.dumps({"conversations": [{"text": text}, {"text": "Client: a\nTherapist: b"}]}))
    data = load_eval_data(path, tiny_tokenizer, [], max_seq_length=500)  # the default system prompt takes 379
    assert data.drops == {} and data.long_turns_split == 1
    line = data.coverage_line()
    assert "1 long turns scored in several windows" in line and "nothing left out" in line
    assert all(len(ex) <= 500 for ex in data.examples)
