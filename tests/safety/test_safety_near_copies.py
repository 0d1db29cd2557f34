"""scripts/drop_near_copies.py: training items near a blind set's turns are found turn by turn."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from drop_near_copies import near_copy_flags, rewrite  # noqa: E402


class BagOfWords:
    """A stand-in encoder: unit bag-of-words vectors, so similarity is word overlap."""

    def encode(self, texts):
        vocab = sorted({w for t in texts for w in t.lower().split()} | {"pad"})
        rows = np.array([[t.lower().split().count(w) for w in vocab] for t in texts], dtype=float)
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


def test_a_near_copy_inside_a_conversation_is_found_and_others_stay():
    encoder = BagOfWords()
    blind = ["the bridge near work after my shift", "ok"]
    train = [("hi there", "the bridge near work after my shift"),  # the blind turn inside a conversation
             ("I like the bridge in spring",), ("ok",)]  # one-word replies are written by everyone
    # the stand-in needs one vocabulary: score all texts together
    flags = near_copy_flags(_Joint(encoder, blind + [t for turns in train for t in turns]), train, blind)
    assert flags == [True, False, False]


class _Joint:
    def __init__(self, encoder, texts):
        self.vectors = dict(zip(texts, encoder.encode(texts)))

    def encode(self, texts):
        return np.stack([self.vectors[t] for t in texts])


def test_rewrite_keeps_the_layout_and_drops_only_the_flagged(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"about": "x",\n "items": [\n  {"group": "ordinary", "text": "a"},\n'
                    '  {"group": "ordinary", "text": "b"}\n ]}\n', encoding="utf-8")
    rewrite(path, [False, True])
    assert json.loads(path.read_text()) == {"about": "x", "items": [{"group": "ordinary", "text": "b"}]}
    assert path.read_text() == '{"about": "x",\n "items": [\n  {"group": "ordinary", "text": "b"}\n ]}\n'
