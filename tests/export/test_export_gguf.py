"""--format gguf: the file written with llama.cpp's `gguf` package loads back through
transformers' GGUF reader with the merged model's logits and the same tokenizer."""

from __future__ import annotations

import pytest
import torch

from conftest import CHATML_TEMPLATE, tiny_cfg, tiny_llama
from therapeutic_moe.cli import main
from therapeutic_moe.modeling import save_trained, wrap_model

pytest.importorskip("gguf")
TEXT = ["I hear you. It sounds like the evenings are hard.", "What helps you feel a little calmer?",
        "Let's slow down and notice what happens in your body.", "You are not alone in this."] * 20


def tiny_bpe_tokenizer():
    """A byte-level BPE tokenizer trained in code on a few sentences (offline, milliseconds)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(TEXT, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", bos_token="<|im_start|>",
                                   pad_token="<|im_end|>", unk_token="<|endoftext|>")
    fast.chat_template = CHATML_TEMPLATE
    return fast


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gguf")
    tokenizer = tiny_bpe_tokenizer()
    base = tiny_llama(vocab=len(tokenizer), hidden=64, inter=128)
    base.config.tie_word_embeddings = True
    base.save_pretrained(tmp / "base")
    tokenizer.save_pretrained(tmp / "base")
    model = wrap_model(base, tiny_cfg(), str(tmp / "base"))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name or "expert_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    save_trained(model.eval(), tokenizer, tmp / "model")
    return tmp, tokenizer


@pytest.mark.parametrize("dtype,atol", [("float32", 1e-4), ("float16", 2e-2)])
def test_gguf_loads_back_with_the_merged_logits_and_tokenizer(trained, dtype, atol, capsys):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp, tokenizer = trained
    merged = tmp / f"merged-{dtype}"
    assert main(["export", str(tmp / "model"), "--format", "merged", "-o", str(merged)]) == 0
    out = tmp / f"model-{dtype}.gguf"
    assert main(["export", str(tmp / "model"), "--format", "gguf", "--dtype", dtype, "-o", str(out)]) == 0
    assert "NOT in this model" in capsys.readouterr().err
    ids = torch.tensor([tokenizer.encode(TEXT[0])])
    with torch.no_grad():
        expected = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32)(input_ids=ids).logits
        back = AutoModelForCausalLM.from_pretrained(tmp, gguf_file=out.name, dtype=torch.float32)
        got = back(input_ids=ids).logits
    torch.testing.assert_close(got, expected, atol=atol, rtol=0)
    reread = AutoTokenizer.from_pretrained(tmp, gguf_file=out.name)
    for text in TEXT[:4]:
        assert reread.encode(text, add_special_tokens=False) == tokenizer.encode(text, add_special_tokens=False)


def test_gguf_needs_a_gguf_file_name(trained, capsys):
    tmp, _ = trained
    assert main(["export", str(tmp / "model"), "--format", "gguf", "-o", str(tmp / "model.bin")]) == 2
    assert "must end in .gguf" in capsys.readouterr().err
