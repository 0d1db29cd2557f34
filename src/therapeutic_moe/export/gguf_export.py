"""The merged model as one GGUF file (llama.cpp, Ollama), written with llama.cpp's own Python
package ``gguf`` (PyPI), which holds the format writer, the tensor-name map and the special-
token reader. Its HF-to-GGUF conversion script is not on PyPI, so the few steps it takes for a
Llama-family model are done here the same way: llama.cpp's Q/K row order for rotary
embeddings, the GPT-2 style BPE vocabulary, and the hyper-parameters. Checked by loading the
file back with transformers' GGUF reader (tests/export/test_export_gguf.py).

Scope: Llama-architecture models (Llama, SmolLM, Mistral without sliding window) with a
byte-level BPE tokenizer; anything else is refused with a message.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from therapeutic_moe.errors import UserError
from therapeutic_moe.export.merge import export_merged
from therapeutic_moe.export.source import TrainedSource

SUPPORTED_MODEL_TYPES = ("llama", "mistral")
# llama.cpp picks its pre-tokenizer by this name; the embedded default model's own GGUF says "smollm".
DEFAULT_MODEL_PRE = "smollm"


def _permute(weights: np.ndarray, n_head: int, n_head_kv: int | None = None) -> np.ndarray:
    """llama.cpp's rotary row order for q/k (convert_hf_to_gguf.py's LlamaModel.permute)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _check_supported(config, tokenizer_json: Path) -> None:
    if config.model_type not in SUPPORTED_MODEL_TYPES:
        raise UserError(f"--format gguf supports Llama-architecture models ({', '.join(SUPPORTED_MODEL_TYPES)}); this "
                        f"base is {config.model_type!r}. Export --format merged and convert it with llama.cpp's "
                        "convert_hf_to_gguf.py")
    if getattr(config, "sliding_window", None):
        raise UserError("--format gguf: models with a sliding attention window are not supported; export --format merged")
    model = json.loads(tokenizer_json.read_text(encoding="utf-8")).get("model", {}) if tokenizer_json.is_file() else {}
    if model.get("type") != "BPE":
        raise UserError("--format gguf needs a byte-level BPE tokenizer (tokenizer.json with a BPE model); export "
                        "--format merged and convert it with llama.cpp's convert_hf_to_gguf.py")


def _add_hparams(writer, config, name: str) -> None:
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    writer.add_name(name)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    rope = getattr(config, "rope_parameters", None) or {}
    writer.add_rope_freq_base(float(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0))))
    writer.add_vocab_size(config.vocab_size)


def _add_vocab(writer, model_dir: Path, vocab_size: int, pre: str) -> None:
    """GPT-2 style BPE vocabulary, as convert_hf_to_gguf.py's _set_vocab_gpt2 writes it."""
    import gguf
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    by_id = {i: t for t, i in tokenizer.get_vocab().items()}
    added = tokenizer.get_added_vocab()
    tokens, types = [], []
    for i in range(vocab_size):
        token = by_id.get(i)
        if token is None:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif token in added:
            special = tokenizer.added_tokens_decoder[i].special
            tokens.append(token)
            types.append(gguf.TokenType.CONTROL if special else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(token)
            types.append(gguf.TokenType.NORMAL)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=vocab_size).add_to_gguf(writer)


def _add_tensors(writer, merged_dir: Path, config, dtype: str) -> None:
    import gguf
    from safetensors.numpy import load_file

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    for file in sorted(merged_dir.glob("*.safetensors")):
        for hf_name, array in load_file(str(file)).items():
            if hf_name == "lm_head.weight" and config.tie_word_embeddings:
                continue  # llama.cpp reuses token_embd
            name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
            if name is None:
                raise UserError(f"--format gguf: no GGUF name for tensor {hf_name!r}; export --format merged instead")
            if hf_name.endswith("q_proj.weight"):
                array = _permute(array, config.num_attention_heads)
            elif hf_name.endswith("k_proj.weight"):
                array = _permute(array, config.num_attention_heads, config.num_key_value_heads)
            half = dtype != "float32" and array.ndim > 1  # norms stay f32, as llama.cpp writes them
            writer.add_tensor(name, np.ascontiguousarray(array.astype(np.float16 if half else np.float32)))


def export_gguf(source: TrainedSource, target: Path, dtype: str = "float16") -> Path:
    """Merged model (attention LoRA, experts dropped) -> one GGUF file at ``target``."""
    import gguf
    from transformers import AutoConfig

    if target.suffix != ".gguf":
        raise UserError(f"--output {target}: a GGUF file name must end in .gguf")
    dtype = "float16" if dtype == "bfloat16" else dtype  # GGUF f16 keeps bf16's range for these weights
    with tempfile.TemporaryDirectory(prefix="gguf-") as tmp:
        merged = export_merged(source, Path(tmp) / "merged", "float32")
        config = AutoConfig.from_pretrained(merged)
        _check_supported(config, merged / "tokenizer.json")
        pre = DEFAULT_MODEL_PRE if "smollm2" in source.base_name.lower() else "default"
        if pre == "default":
            print("warning: GGUF pre-tokenizer written as 'default'; llama.cpp may split digits and spaces "
                  "differently from the Hugging Face tokenizer of this base model", file=sys.stderr)
        target.parent.mkdir(parents=True, exist_ok=True)
        writer = gguf.GGUFWriter(str(target), "llama")
        _add_hparams(writer, config, source.directory.resolve().name)
        writer.add_file_type(gguf.LlamaFileType.ALL_F32 if dtype == "float32" else gguf.LlamaFileType.MOSTLY_F16)
        _add_vocab(writer, merged, config.vocab_size, pre)
        _add_tensors(writer, merged, config, dtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    print(f"export: {target} (GGUF, {dtype}; experts dropped as in --format merged)", file=sys.stderr)
    return target
