"""Shared fixtures: tiny random Llama-style models on CPU, and the real-data location."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    env = os.environ.get("THERAPEUTIC_MOE_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real datasets not present ({path}); set THERAPEUTIC_MOE_SHARED_DATA")
    return path


def tiny_llama(seed: int = 0, layers: int = 2, hidden: int = 32, inter: int = 64, vocab: int = 128):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=True, attn_implementation="sdpa")
    model = LlamaForCausalLM(config)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def tiny_cfg(**overrides) -> SimpleNamespace:
    """The model-building subset of the train config, small enough for CPU tests."""
    base = dict(base_model="tiny", lora_r=4, lora_alpha=8, lora_dropout=0.0,
                lora_target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], use_moe=True,
                expert_domains=["psychology", "mental_health", "bias_detection", "general_therapeutic"],
                top_k=2, expert_r=4, expert_alpha=8, expert_dropout=0.0,
                expert_target_modules=["gate_proj", "up_proj", "down_proj"], router_init_std=0.02,
                load_balancing_weight=0.01, router_z_loss_weight=1e-3, domain_routing_weight=0.1)
    base.update(overrides)
    return SimpleNamespace(**base)


@pytest.fixture
def tiny_model_factory():
    return tiny_llama


CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def make_tiny_tokenizer():
    """A byte-level BPE-free tokenizer (one token per character) with a ChatML template.

    Built in code, offline, in milliseconds; vocab < 128 so it fits ``tiny_llama``.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders
    from transformers import PreTrainedTokenizerFast

    chars = [chr(c) for c in range(32, 127)] + ["\n"]
    specials = ["<unk>", "<|im_start|>", "<|im_end|>"]
    vocab = {tok: i for i, tok in enumerate(specials + chars)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    tok.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<|im_end|>",
                                   pad_token="<|im_end|>", bos_token="<|im_start|>")
    fast.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    fast.chat_template = CHATML_TEMPLATE
    return fast


@pytest.fixture
def tiny_tokenizer():
    return make_tiny_tokenizer()


@pytest.fixture(scope="session")
def default_tokenizer():
    """The real default model's tokenizer (converted once into the cache); skips if unavailable."""
    from therapeutic_moe.errors import ModelDirError
    from therapeutic_moe.modeling.base_model import embedded_gguf_path, load_tokenizer, resolve_base_model

    try:
        embedded_gguf_path()
    except ModelDirError as exc:
        pytest.skip(str(exc))
    return load_tokenizer(resolve_base_model("smollm2-135m-instruct"))
