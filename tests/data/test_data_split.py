"""De-duplication and the deterministic split by conversation."""

from __future__ import annotations

from therapeutic_moe.data import Conversation, Turn, dedupe, split_conversations


def _conv(i, text="hello"):
    return Conversation(id=f"id{i}", turns=[Turn("user", text), Turn("assistant", f"reply {i}")])


def test_dedupe_ignores_case_and_whitespace_and_keeps_first():
    a = Conversation("a", [Turn("user", "I feel  sad"), Turn("assistant", "Tell me more.")])
    b = Conversation("b", [Turn("user", "i feel sad"), Turn("assistant", "tell me\nmore.")])
    c = Conversation("c", [Turn("assistant", "i feel sad"), Turn("user", "tell me more.")])  # roles differ
    kept, removed = dedupe([a, b, c])
    assert [x.id for x in kept] == ["a", "c"] and removed == 1
    kept, removed = dedupe([b, c], seen={a.normalized_text()})
    assert [x.id for x in kept] == ["c"] and removed == 1


def test_split_is_deterministic_disjoint_and_near_the_fraction():
    convs = [_conv(i) for i in range(1000)]
    train, val = split_conversations(convs, 0.1, seed=42)
    assert (train, val) == split_conversations(list(convs), 0.1, seed=42)
    assert {c.id for c in train}.isdisjoint({c.id for c in val})
    assert len(train) + len(val) == 1000
    assert 70 <= len(val) <= 130
    # membership depends on the id, not on the position or the rest of the data
    _, val_half = split_conversations(convs[:500], 0.1, seed=42)
    assert {c.id for c in val_half} == {c.id for c in val if int(c.id[2:]) < 500}
    _, other = split_conversations(convs, 0.1, seed=7)
    assert {c.id for c in other} != {c.id for c in val}


def test_tiny_datasets_keep_both_sides_non_empty():
    for n in (2, 3, 5):
        train, val = split_conversations([_conv(i) for i in range(n)], 0.1, seed=0)
        assert train and val
    train, val = split_conversations([_conv(i) for i in range(3)], 0.99, seed=0)
    assert train and val
    assert split_conversations([_conv(0)], 0.5, seed=0) == ([_conv(0)], [])
    assert split_conversations([_conv(i) for i in range(4)], 0.0, seed=0)[1] == []
