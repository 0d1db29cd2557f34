"""Model shapes the benchmark builds with random weights (no download), and their FLOPs."""

from __future__ import annotations

from dataclasses import dataclass, field

H100_BF16_PEAK_FLOPS = 989e12  # dense bf16, the MFU denominator


@dataclass(frozen=True)
class ModelShape:
    """A Llama-style decoder, by its sizes only."""

    name: str = field(metadata={"help": "Short name used on the command line (e.g. 135m)."})
    hidden: int = field(metadata={"help": "Hidden size d."})
    intermediate: int = field(metadata={"help": "FFN intermediate size."})
    layers: int = field(metadata={"help": "Decoder layers L."})
    heads: int = field(metadata={"help": "Attention (query) heads."})
    kv_heads: int = field(metadata={"help": "Key/value heads (grouped-query attention)."})
    vocab: int = field(metadata={"help": "Vocabulary size."})
    tied: bool = field(metadata={"help": "LM head shares the embedding matrix."})
    baseline_checkpointing: bool = field(
        default=False, metadata={"help": "Baselines run with gradient checkpointing (as users must at 8B)."})
    like: str = field(default="", metadata={"help": "The public model with this shape."})

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def llama_config(self, attn_implementation: str = "sdpa", max_positions: int = 8192):
        from transformers import LlamaConfig

        config = LlamaConfig(
            vocab_size=self.vocab, hidden_size=self.hidden, intermediate_size=self.intermediate,
            num_hidden_layers=self.layers, num_attention_heads=self.heads, num_key_value_heads=self.kv_heads,
            max_position_embeddings=max(max_positions, 2048), tie_word_embeddings=self.tied, rope_theta=10000.0,
            use_cache=False,
        )
        config._attn_implementation = attn_implementation
        return config

    def matmul_params(self) -> int:
        """Parameters in every matmul of the base model, the LM head included."""
        d, kv = self.hidden, self.kv_heads * self.head_dim
        per_layer = d * d * 2 + d * kv * 2 + 3 * d * self.intermediate
        return self.layers * per_layer + self.vocab * d

    def flops_per_token(self, seq: int) -> float:
        """LoRA training FLOPs per token: 4·N_matmul (frozen weights need no weight gradients:
        forward 2N + input-gradient 2N) + 6·L·seq·d_attn for attention."""
        return 4.0 * self.matmul_params() + 6.0 * self.layers * seq * self.heads * self.head_dim


SHAPES: dict[str, ModelShape] = {
    "tiny": ModelShape("tiny", 64, 128, 2, 4, 2, 256, True, like="CPU smoke test"),
    "135m": ModelShape("135m", 576, 1536, 30, 9, 3, 49152, True, like="SmolLM2-135M"),
    "1b": ModelShape("1b", 2048, 8192, 16, 32, 8, 128256, True, like="Llama-3.2-1B"),
    "8b": ModelShape("8b", 4096, 14336, 32, 32, 8, 128256, False, baseline_checkpointing=True, like="Llama-3-8B"),
}


def parse_shapes(text: str, default_seq: int) -> list[tuple[ModelShape, int]]:
    """'135m,1b,8b@8192' -> [(shape, seq), ...]; an unknown name raises ValueError naming the known ones."""
    out = []
    for item in [part.strip() for part in text.split(",") if part.strip()]:
        name, _, seq_text = item.partition("@")
        key = name.lower()
        if key not in SHAPES:
            raise ValueError(f"unknown shape {name!r}; known: {', '.join(SHAPES)} (optionally NAME@SEQ, e.g. 8b@8192)")
        try:
            seq = int(seq_text) if seq_text else default_seq
        except ValueError:
            raise ValueError(f"shape {item!r}: the part after @ must be a sequence length, e.g. 8b@8192") from None
        if seq < 8:
            raise ValueError(f"shape {item!r}: sequence length must be >= 8")
        out.append((SHAPES[key], seq))
    if not out:
        raise ValueError("no shapes given; e.g. --shapes 135m,1b,8b")
    return out
