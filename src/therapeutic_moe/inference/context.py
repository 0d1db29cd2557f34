"""How long a context the loaded model serves, and how it gets there.

A base model handles up to its native ``max_position_embeddings`` as trained (SmolLM2: 8192).
A longer ``max_context_length`` is reached by RoPE scaling set in the model config before the
weights load (YaRN by default, linear on request, factor = wanted / native); chat, serve and
evaluate all load through :func:`load_for_inference` so they agree on it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from therapeutic_moe.errors import ConfigError, ModelDirError

DEFAULT_MAX_CONTEXT = 8192
# Beyond 16x the native range even YaRN degrades badly; refuse rather than serve nonsense.
MAX_SCALING_FACTOR = 16.0
ROPE_METHODS = ("yarn", "linear")


@dataclass
class ContextPlan:
    """The context length a model is set up for, and the RoPE scaling (if any) that gives it."""

    requested: int = field(metadata={"help": "max_context_length asked for (tokens)."})
    native: int = field(metadata={"help": "The base model's own max_position_embeddings."})
    method: str = field(metadata={"help": "'native' (no scaling), 'yarn' or 'linear' RoPE scaling."})
    factor: float = field(default=1.0, metadata={"help": "RoPE scaling factor = requested / native (1 when native)."})

    @property
    def scaled(self) -> bool:
        return self.method != "native"

    def describe(self) -> str:
        if not self.scaled:
            return (f"context: {self.requested} tokens, within the base model's native "
                    f"{self.native} positions (no RoPE scaling)")
        return (f"context: {self.requested} tokens via {self.method} RoPE scaling, factor "
                f"{self.factor:g} over the native {self.native} positions")

    def to_dict(self) -> dict:
        return {"max_context_length": self.requested, "native_positions": self.native,
                "rope_scaling": self.method, "factor": self.factor}


def _existing_scaling(config) -> dict | None:
    params = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None)
    if isinstance(params, dict) and params.get("rope_type", params.get("type", "default")) != "default":
        return params
    return None


def plan_context(config, max_context_length: int | None = DEFAULT_MAX_CONTEXT, method: str = "yarn") -> ContextPlan:
    """Decide how ``config`` reaches ``max_context_length`` (None: the native range); raises
    ConfigError when it cannot."""
    if max_context_length is None:
        native = getattr(config, "max_position_embeddings", None)
        if not native:
            raise ModelDirError("the base model config has no max_position_embeddings; pass max_context_length")
        return ContextPlan(native, native, "native")
    if method not in ROPE_METHODS:
        raise ConfigError(f"rope scaling method {method!r} is unknown; choose one of {list(ROPE_METHODS)}")
    if not isinstance(max_context_length, int) or max_context_length < 1:
        raise ConfigError(f"max_context_length={max_context_length!r} must be a positive whole number of tokens")
    native = getattr(config, "max_position_embeddings", None)
    if not native:
        raise ModelDirError("the base model config has no max_position_embeddings; cannot plan the context length")
    existing = _existing_scaling(config)
    if max_context_length <= native:
        return ContextPlan(max_context_length, native, "native")
    if existing is not None:
        raise ConfigError(
            f"max_context_length={max_context_length} exceeds the base model's {native} positions and the model "
            f"already uses {existing.get('rope_type', existing.get('type'))} RoPE scaling; "
            f"lower max_context_length to {native} or less")
    factor = max_context_length / native
    if factor > MAX_SCALING_FACTOR:
        raise ConfigError(
            f"max_context_length={max_context_length} is {factor:g}x the base model's {native} positions "
            f"(at most {MAX_SCALING_FACTOR:g}x is supported); lower max_context_length")
    return ContextPlan(max_context_length, native, method, factor)


def apply_context_plan(config, plan: ContextPlan) -> None:
    """Write the plan's RoPE scaling into a model config (before the model is built from it)."""
    if not plan.scaled:
        return
    if hasattr(config, "rope_parameters"):  # transformers >= 5: one dict holds theta and scaling
        params = dict(config.rope_parameters or {})
        params.update(rope_type=plan.method, factor=plan.factor)
        if plan.method == "yarn":
            params["original_max_position_embeddings"] = plan.native
        config.rope_parameters = params
    else:
        scaling = {"rope_type": plan.method, "type": plan.method, "factor": plan.factor}
        if plan.method == "yarn":
            scaling["original_max_position_embeddings"] = plan.native
        config.rope_scaling = scaling
    config.max_position_embeddings = plan.requested


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_for_inference(model_dir: str | Path, *, device: str | None = None, dtype=None,
                       max_context_length: int | None = DEFAULT_MAX_CONTEXT, rope_method: str = "yarn",
                       base_model: str | None = None, quiet: bool = False):
    """Load a trained directory ready to generate up to ``max_context_length`` tokens
    (None: the base model's native range, no RoPE scaling).

    Returns ``(model, tokenizer, plan)``; the plan is printed to stderr unless ``quiet``.
    """
    directory = Path(model_dir)
    if not directory.is_dir():  # before the slow imports: a typo should fail at once
        raise ModelDirError(f"{directory}: no such model directory")
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from therapeutic_moe.modeling.base_model import load_tokenizer, resolve_base_model
    from therapeutic_moe.modeling.saving import inspect_model_dir, load_trained_onto

    meta, name = inspect_model_dir(directory, base_model)
    device = device or default_device()
    if dtype is None:
        dtype = torch.bfloat16 if str(device).startswith("cuda") else torch.float32
    resolved = resolve_base_model(name)
    try:
        config = AutoConfig.from_pretrained(resolved)
    except (OSError, ValueError) as exc:
        raise ModelDirError(f"could not read the config of base model {resolved!r}: {exc}") from None
    plan = plan_context(config, max_context_length, rope_method)
    apply_context_plan(config, plan)
    try:
        base = AutoModelForCausalLM.from_pretrained(resolved, config=config, dtype=dtype)
    except (OSError, ValueError) as exc:
        raise ModelDirError(f"could not load base model {resolved!r}: {exc}") from None
    base.to(device)
    for p in base.parameters():
        p.requires_grad_(False)
    has_tokenizer = (directory / "tokenizer_config.json").is_file()
    tokenizer = load_tokenizer(str(directory) if has_tokenizer else resolved)
    model, tokenizer = load_trained_onto(base, tokenizer, directory, name)
    model.eval()
    if not quiet:
        print(plan.describe(), file=sys.stderr, flush=True)
    return model, tokenizer, plan
