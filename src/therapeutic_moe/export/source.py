"""What an export reads from a trained directory: its settings, weights and base model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from therapeutic_moe.errors import ModelDirError


@dataclass
class TrainedSource:
    directory: Path
    meta: dict  # moe_config.json
    base_name: str  # as recorded (or overridden)
    resolved_base: str  # a local directory or hub id from_pretrained can load
    moe_state: dict[str, torch.Tensor] | None  # routers + experts; None without experts

    @property
    def use_moe(self) -> bool:
        return self.moe_state is not None

    @property
    def domains(self) -> list[str]:
        return list(self.meta.get("expert_domains") or [])

    @property
    def num_moe_layers(self) -> int:
        """MoE layers saved in moe_layers.pt (keys are ``layers.<index>.…``)."""
        return len({int(k.split(".")[1]) for k in self.moe_state})


def open_source(directory: str | Path, base_model: str | None = None, cache_dir: str | None = None) -> TrainedSource:
    from therapeutic_moe.modeling.base_model import resolve_base_model
    from therapeutic_moe.modeling.saving import MOE_WEIGHTS, inspect_model_dir, read_moe_weights

    directory = Path(directory)
    meta, name = inspect_model_dir(directory, base_model)
    state = read_moe_weights(directory / MOE_WEIGHTS) if meta.get("use_moe", True) else None
    return TrainedSource(directory, meta, name, resolve_base_model(name, cache_dir), state)


def mlp_paths(resolved_base: str, trust_remote_code: bool = False) -> list[str]:
    """Module path of every SwiGLU MLP, in the order the experts were injected (moe_layers.pt's
    layer index). Built on the meta device: no weights are read."""
    from transformers import AutoConfig, AutoModelForCausalLM

    from therapeutic_moe.moe.inject import find_mlps

    config = AutoConfig.from_pretrained(resolved_base, trust_remote_code=trust_remote_code)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    names = {id(module): name for name, module in model.named_modules()}
    return [f"{names[id(parent)]}.{attr}".lstrip(".") for parent, attr, _ in find_mlps(model)]


def checked_mlp_paths(source: TrainedSource) -> list[str]:
    paths = mlp_paths(source.resolved_base)
    if source.num_moe_layers != len(paths):
        raise ModelDirError(f"{source.directory}: moe_layers.pt has {source.num_moe_layers} MoE layers but the base "
                            f"model {source.base_name!r} has {len(paths)} MLPs; is this the right base model?")
    return paths
