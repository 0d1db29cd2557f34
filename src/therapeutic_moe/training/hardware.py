"""Pick device, precision, loader settings and gradient checkpointing once, and say what was picked."""

from __future__ import annotations

import json
import os
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch

# Activation values kept for the backward pass per token, per layer, per hidden unit.
# CUDA: 34 bytes at 16 bits with a fused attention (Korthikanti et al. 2022, "Reducing
# Activation Recomputation in Large Transformer Models", without the attention-score term);
# the H100 bench measured 0.55-0.8x of this estimate with the logits (bench/results).
# CPU: 182 bytes at fp32, from the peak RSS of one 2048-token step of SmolLM2-135M with 4 experts
# (docs/performance.md gives the command; on the safe side): sdpa on CPU keeps the attention
# scores, so the count is larger.
ACTIVATION_VALUES_PER_TOKEN_LAYER_HIDDEN = {"cuda": 34 / 2, "cpu": 182 / 4}
# Share of the free memory the estimate may use: the rest absorbs fragmentation, workspaces
# and the estimate's own error.
MEMORY_HEADROOM = 0.8


@dataclass(frozen=True)
class ModelSize:
    """What the memory estimate needs to know about the base model."""

    params: int
    layers: int
    hidden: int
    vocab: int


@dataclass
class Hardware:
    device: torch.device
    base_dtype: torch.dtype  # dtype of the frozen base weights
    autocast_dtype: torch.dtype | None  # mixed precision for the forward, None = off
    optim: str
    gradient_checkpointing: bool
    num_workers: int
    pin_memory: bool
    description: str
    checkpointing_reason: str = ""  # why gradient checkpointing is on or off (auto's decision)

    def autocast(self):
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)


def _auto(value, default):
    return default if value == "auto" else value


def model_size_from_config(config: dict) -> ModelSize | None:
    """Parameter count and shape of a Llama-style decoder from its ``config.json`` (no weights loaded)."""
    try:
        h, layers, vocab = int(config["hidden_size"]), int(config["num_hidden_layers"]), int(config["vocab_size"])
        ff = int(config.get("intermediate_size") or 4 * h)
        heads = int(config.get("num_attention_heads") or 1)
        kv_heads = int(config.get("num_key_value_heads") or heads)
    except (KeyError, TypeError, ValueError):
        return None
    head_dim = int(config.get("head_dim") or h // heads)
    attention = h * heads * head_dim * 2 + h * kv_heads * head_dim * 2  # q, o + k, v
    per_layer = attention + 3 * h * ff + 2 * h  # gate/up/down + two norms
    embeddings = vocab * h * (1 if config.get("tie_word_embeddings", False) else 2)
    return ModelSize(layers * per_layer + embeddings + h, layers, h, vocab)


def base_model_size(cfg) -> ModelSize | None:
    """The base model's size from its config.json, or None when it cannot be read without a download."""
    from therapeutic_moe.modeling.base_model import resolve_base_model

    try:
        resolved = Path(resolve_base_model(cfg.base_model, getattr(cfg, "model_cache_dir", None)))
        return model_size_from_config(json.loads((resolved / "config.json").read_text()))
    except (OSError, ValueError, RuntimeError):
        return None  # a hub id not downloaded yet: the loader will report it


def free_memory_bytes(device: torch.device) -> int:
    """Memory a training run can still take: free GPU memory, or available host RAM on CPU."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def training_memory_bytes(size: ModelSize, tokens: int, weight_bytes: float, activation_bytes: int,
                          device_type: str = "cuda", fused_logits: bool = False) -> int:
    """Peak memory of a step without checkpointing: frozen weights, the activations of ``tokens``
    tokens kept for backward, and the fp32 logits of those tokens (and their gradient) unless
    ``fused_logits`` (Liger's fused linear cross-entropy computes them chunk by chunk)."""
    values = ACTIVATION_VALUES_PER_TOKEN_LAYER_HIDDEN["cpu" if device_type == "cpu" else "cuda"]
    activations = size.layers * tokens * size.hidden * values * activation_bytes
    logits = 0 if fused_logits else 2 * tokens * size.vocab * 4
    return int(size.params * weight_bytes + activations + logits)


def decide_checkpointing(size: ModelSize | None, tokens: int, free_bytes: int, weight_bytes: float,
                         activation_bytes: int, device_type: str = "cuda",
                         fused_logits: bool = False) -> tuple[bool, str]:
    """``gradient_checkpointing: auto``: on when a micro-batch's estimated training memory would not fit."""
    if size is None:
        return False, "auto: off (model size unknown)"
    need = training_memory_bytes(size, tokens, weight_bytes, activation_bytes, device_type, fused_logits)
    fits = need <= MEMORY_HEADROOM * free_bytes
    return (not fits), (f"auto: {'off' if fits else 'on'} (estimated {need / 2**30:.1f} GiB for {tokens} tokens "
                        f"per micro-batch, {free_bytes / 2**30:.1f} GiB free)")


def pick_hardware(cfg, model_size: ModelSize | None = None, free_bytes: int | None = None) -> Hardware:
    """``model_size`` and ``free_bytes`` default to the base model's config.json and the device's
    free memory; tests pass them to exercise the decision."""
    cuda = torch.cuda.is_available()
    if cuda:
        device = torch.device("cuda")
        bf16 = _auto(cfg.bf16, torch.cuda.is_bf16_supported())
        base_dtype = torch.bfloat16 if bf16 else torch.float32
        autocast_dtype = torch.bfloat16 if bf16 else None
        optim = _auto(cfg.optim, "adamw_torch_fused")
        workers = _auto(cfg.dataloader_num_workers, min(4, max(0, (os.cpu_count() or 1) - 1)))
        pin = _auto(cfg.dataloader_pin_memory, True)
        name = torch.cuda.get_device_name(0)
    else:
        if cfg.bf16 is True:
            print("warning: bf16=true was asked for, but there is no CUDA device; using fp32")
        device, base_dtype, autocast_dtype = torch.device("cpu"), torch.float32, None
        optim = "adamw_torch" if cfg.optim in ("auto", "adamw_torch_fused") else cfg.optim
        workers = _auto(cfg.dataloader_num_workers, 0)
        pin = False  # pinning only speeds up copies to a GPU
        name = "CPU"
    gc, reason = _checkpointing(cfg, device, base_dtype, autocast_dtype, model_size, free_bytes)
    precision = f"{'bf16 autocast' if autocast_dtype is not None else 'fp32'} (trainable weights fp32)"
    desc = (f"Device: {device.type} ({name}) | precision: {precision} | optimizer: {optim} | "
            f"gradient checkpointing: {'on' if gc else 'off'}{f' [{reason}]' if reason else ''} | "
            f"dataloader workers: {workers}{' | pin memory' if pin else ''}")
    return Hardware(device, base_dtype, autocast_dtype, optim, bool(gc), int(workers), bool(pin), desc, reason)


def _checkpointing(cfg, device, base_dtype, autocast_dtype, model_size, free_bytes) -> tuple[bool, str]:
    if cfg.gradient_checkpointing != "auto":
        return bool(cfg.gradient_checkpointing), ""
    size = model_size if model_size is not None else base_model_size(cfg)
    free = free_bytes if free_bytes is not None else free_memory_bytes(device)
    tokens = cfg.per_device_train_batch_size * cfg.max_seq_length
    activation_bytes = 2 if autocast_dtype is not None else 4
    weight_bytes = 0.5 if getattr(cfg, "load_in_4bit", False) else torch.finfo(base_dtype).bits // 8
    return decide_checkpointing(size, tokens, free, weight_bytes, activation_bytes, device.type,
                                fused_logits=_fused_logits(cfg, device))


def _fused_logits(cfg, device) -> bool:
    """Whether the trainer will apply Liger's fused linear cross-entropy (CUDA, Liger installed)."""
    if device.type != "cuda" or getattr(cfg, "use_liger_kernel", None) is False:
        return False
    from therapeutic_moe.kernels import liger_available

    return liger_available()
