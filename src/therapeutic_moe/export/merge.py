"""Merge a LoRA adapter into its base model and save a plain Hugging Face model directory."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from therapeutic_moe.export.adapters import copy_tokenizer, write_adapter, write_info
from therapeutic_moe.export.source import TrainedSource

EXPERTS_DROPPED = ("the mixture of experts is NOT in this model: routers and expert deltas are dropped, only the "
                   "attention LoRA is merged (--format domain-adapters or fixed-gate keeps the experts)")


def merge_adapter_dir(resolved_base: str, adapter_dir: Path, target: Path, dtype: str = "float32") -> None:
    """PEFT's merge_and_unload of ``adapter_dir`` into the base, saved as safetensors."""
    import torch
    from peft import PeftModel

    from therapeutic_moe.modeling.base_model import load_base_model

    base = load_base_model(resolved_base, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    merged.to(getattr(torch, dtype))
    merged.config.use_cache = True  # training switches it off; a deployed model wants its KV cache
    target.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(target), safe_serialization=True)


def export_merged(source: TrainedSource, target: Path, dtype: str = "float32") -> Path:
    """Attention LoRA merged; experts dropped (said loudly: the model is not the MoE model)."""
    if source.use_moe:
        print(f"warning: {EXPERTS_DROPPED}", file=sys.stderr)
    merge_adapter_dir(source.resolved_base, source.directory, target, dtype)
    copy_tokenizer(source.directory, target)
    write_info(target, source, {"format": "merged", "dtype": dtype,
                                "experts": "dropped" if source.use_moe else "none (trained without experts)"})
    return target


def export_fixed_gate(source: TrainedSource, gates: list[list[float]], spec: str, target: Path,
                      merge: bool, dtype: str = "float32") -> Path:
    """The exact LoRA of the MoE model under ``gates``: an adapter, or merged into the base."""
    info = {"format": "fixed-gate", "gate": spec, "gates_per_layer": gates, "merged": merge}
    if not merge:
        rank = write_adapter(source, gates, target, info)
        print(f"export: {target} (fixed-gate adapter, LoRA rank {rank})", file=sys.stderr)
        return target
    with tempfile.TemporaryDirectory(prefix="fixed-gate-") as tmp:
        adapter = Path(tmp) / "adapter"
        write_adapter(source, gates, adapter, info)
        merge_adapter_dir(source.resolved_base, adapter, target, dtype)
    copy_tokenizer(source.directory, target)
    write_info(target, source, {**info, "dtype": dtype})
    print(f"export: {target} (fixed-gate, merged)", file=sys.stderr)
    return target
