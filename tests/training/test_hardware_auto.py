"""gradient_checkpointing: auto decides from the model size and the free memory (CPU, fake sizes)."""

from __future__ import annotations

import json

from therapeutic_moe.config import TrainConfig
from therapeutic_moe.training.hardware import (
    ModelSize,
    base_model_size,
    decide_checkpointing,
    model_size_from_config,
    pick_hardware,
    training_memory_bytes,
)
from tests.runtime_helpers import write_tiny_base

GIB = 2**30
SIZE_8B = ModelSize(params=8_000_000_000, layers=32, hidden=4096, vocab=128_256)
SIZE_135M = ModelSize(params=135_000_000, layers=30, hidden=576, vocab=49_152)


def test_auto_turns_on_when_the_model_does_not_fit_the_free_memory():
    cfg = TrainConfig(per_device_train_batch_size=8, max_seq_length=2048)
    big = pick_hardware(cfg, model_size=SIZE_8B, free_bytes=80 * GIB)
    small = pick_hardware(cfg, model_size=SIZE_135M, free_bytes=80 * GIB)
    assert big.gradient_checkpointing and "auto: on" in big.description
    assert not small.gradient_checkpointing and "auto: off" in small.description


def test_auto_follows_the_free_memory_for_one_model():
    cfg = TrainConfig(per_device_train_batch_size=8, max_seq_length=2048)
    assert not pick_hardware(cfg, model_size=SIZE_135M, free_bytes=200 * GIB).gradient_checkpointing
    assert pick_hardware(cfg, model_size=SIZE_135M, free_bytes=4 * GIB).gradient_checkpointing


def test_longer_sequences_need_more_memory():
    short = training_memory_bytes(SIZE_135M, tokens=8 * 512, weight_bytes=2, activation_bytes=2)
    long = training_memory_bytes(SIZE_135M, tokens=8 * 8192, weight_bytes=2, activation_bytes=2)
    assert long > 10 * short
    on, _ = decide_checkpointing(SIZE_135M, 8 * 8192, free_bytes=short * 4, weight_bytes=2, activation_bytes=2)
    off, _ = decide_checkpointing(SIZE_135M, 8 * 512, free_bytes=short * 4, weight_bytes=2, activation_bytes=2)
    assert on and not off


def test_an_explicit_setting_wins_over_the_estimate():
    forced_off = TrainConfig(gradient_checkpointing=False)
    forced_on = TrainConfig(gradient_checkpointing=True)
    assert not pick_hardware(forced_off, model_size=SIZE_8B, free_bytes=GIB).gradient_checkpointing
    assert pick_hardware(forced_on, model_size=SIZE_135M, free_bytes=1000 * GIB).gradient_checkpointing


def test_unknown_size_keeps_it_off_and_says_so():
    on, reason = decide_checkpointing(None, 4096, free_bytes=GIB, weight_bytes=2, activation_bytes=2)
    assert not on and "unknown" in reason


def test_model_size_is_read_from_the_base_models_config(tmp_path):
    base = write_tiny_base(tmp_path / "base")
    config = json.loads((base / "config.json").read_text())
    size = base_model_size(TrainConfig(base_model=str(base)))
    assert size == model_size_from_config(config)
    assert size.layers == config["num_hidden_layers"] and size.hidden == config["hidden_size"]
    from transformers import AutoModelForCausalLM

    real = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(base).parameters())
    assert abs(size.params - real) / real < 0.02


def test_the_135m_estimate_matches_its_real_parameter_count():
    smollm2 = {"hidden_size": 576, "num_hidden_layers": 30, "vocab_size": 49152, "intermediate_size": 1536,
               "num_attention_heads": 9, "num_key_value_heads": 3, "tie_word_embeddings": True}
    assert abs(model_size_from_config(smollm2).params - 134_515_008) / 134_515_008 < 0.01


def test_cpu_counts_more_activation_memory_than_cuda():
    """sdpa on CPU keeps the attention scores: the CPU estimate per token is larger (measured constant)."""
    cpu = training_memory_bytes(SIZE_135M, 2048, weight_bytes=4, activation_bytes=4, device_type="cpu")
    cuda = training_memory_bytes(SIZE_135M, 2048, weight_bytes=4, activation_bytes=4, device_type="cuda")
    assert cpu > 2 * cuda - SIZE_135M.params * 4


def test_fused_cross_entropy_takes_the_logits_out_of_the_estimate():
    tokens = 64 * 2048
    plain = training_memory_bytes(SIZE_135M, tokens, 2, 2, "cuda")
    fused = training_memory_bytes(SIZE_135M, tokens, 2, 2, "cuda", fused_logits=True)
    assert plain - fused == 2 * tokens * SIZE_135M.vocab * 4  # fp32 logits and their gradient
    # 135M at 64 x 2048 tokens on a 139 GiB GPU: on with materialised logits, off without them
    free = int(139.3 * 2**30)
    assert decide_checkpointing(SIZE_135M, tokens, free, 2, 2, "cuda")[0]
    assert not decide_checkpointing(SIZE_135M, tokens, free, 2, 2, "cuda", fused_logits=True)[0]
