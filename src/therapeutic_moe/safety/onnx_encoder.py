"""Runs the merged crisis encoder with ONNX Runtime on CPU.

Why: the crisis check runs before every reply, and eager PyTorch spends most of its time on
per-operator overhead for a 30-token message (about 13 ms for one text and 20 to 25 ms for a
message with its window on 2 CPU cores). ONNX Runtime fuses the graph and computes the same
embeddings (differences of about 1e-7) in a third to a half of that time.

The merged model is exported once per process into memory (about 2 s; nothing is written to
disk), and the session is checked against PyTorch on a few texts before it is used: any
difference above ``MAX_DIFFERENCE`` refuses the session and the encoder stays on PyTorch.
Without onnxruntime (or the onnx package the exporter needs) the encoder stays on PyTorch too;
``SentenceEncoder.engine`` says which one runs and why (``move_to_onnx_runtime``).
"""

from __future__ import annotations

import io
import warnings
from typing import Callable

import numpy as np

from therapeutic_moe.safety.encoder import mean_pool, token_batch

MAX_DIFFERENCE = 1e-4  # per embedding value; float rounding between the engines is ~1e-7
CHECK_TEXTS = ("hello", "i don't want to be here anymore | sorry | it's fine",
               "I have been feeling a bit low since my job ended and I keep waking up at four")


class OnnxUnavailable(RuntimeError):
    """onnxruntime cannot run this encoder here (missing package, failed export or check)."""


def _pooled_module(model):
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            return mean_pool(self.bert, input_ids, attention_mask)

    return Pooled(model).eval()


def _export(model, tokenizer) -> bytes:
    import torch

    # the eager attention exports to plain matmuls; the sdpa path traces a mask branch that
    # depends on the example's shape
    previous = model.config._attn_implementation
    model.config._attn_implementation = "eager"
    try:
        input_ids, mask = token_batch(tokenizer, list(CHECK_TEXTS[:2]))
        buffer = io.BytesIO()
        axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                "embedding": {0: "batch"}}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on branches that are constant for BERT
            torch.onnx.export(_pooled_module(model), (input_ids, mask), buffer, input_names=["input_ids", "attention_mask"],
                              output_names=["embedding"], dynamic_axes=axes, opset_version=17, dynamo=False)
        return buffer.getvalue()
    finally:
        model.config._attn_implementation = previous


def onnx_forward(model, tokenizer, threads: int | None = None) -> Callable:
    """A function (input_ids, attention_mask) -> float32 embeddings running ``model`` in ONNX
    Runtime, checked against PyTorch; OnnxUnavailable saying why when that cannot be had."""
    try:
        import onnxruntime
        import torch
    except ImportError as exc:
        raise OnnxUnavailable(f"onnxruntime is not installed ({exc.name})") from None
    if next(model.parameters()).device.type != "cpu":
        raise OnnxUnavailable("the encoder is not on the CPU")
    try:
        graph = _export(model, tokenizer)
    except Exception as exc:  # noqa: BLE001 - any exporter failure leaves PyTorch in charge
        raise OnnxUnavailable(f"the ONNX export failed: {type(exc).__name__}: {exc}"[:300]) from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()  # respects OMP_NUM_THREADS
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

    def forward(input_ids, mask) -> np.ndarray:
        feed = {"input_ids": input_ids.numpy(), "attention_mask": mask.numpy()}
        return session.run(None, feed)[0]

    input_ids, mask = token_batch(tokenizer, list(CHECK_TEXTS))
    with torch.inference_mode():
        expected = mean_pool(model, input_ids, mask).float().numpy()
    difference = float(np.abs(forward(input_ids, mask) - expected).max())
    if not difference <= MAX_DIFFERENCE:
        raise OnnxUnavailable(f"ONNX Runtime differs from PyTorch by {difference:.2e} (limit {MAX_DIFFERENCE:g})")
    return forward


def move_to_onnx_runtime(encoder) -> str:
    """Move a SentenceEncoder's forward pass to ONNX Runtime when it is installed and matches
    PyTorch on the check texts; it stays on PyTorch otherwise. Returns the engine, with the
    reason when it is torch."""
    try:
        encoder.use_forward(onnx_forward(encoder.model, encoder.tokenizer), "onnxruntime")
    except OnnxUnavailable as exc:
        encoder.use_forward(None, f"torch ({exc})")
    return encoder.engine
