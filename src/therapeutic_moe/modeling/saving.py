"""Save and load a trained model directory.

Layout (also the core of every checkpoint; ``export_atomically`` publishes it at the end of training):
  adapter_config.json, adapter_model.safetensors   PEFT LoRA on attention (stock PEFT loads it)
  moe_layers.pt                                     routers + experts, tensors only
  moe_config.json                                   experts, domains, top_k, ranks, base model, versions
  tokenizer files
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from therapeutic_moe import __version__
from therapeutic_moe.errors import ModelDirError
from therapeutic_moe.moe import MoEConfig

MOE_WEIGHTS, MOE_CONFIG = "moe_layers.pt", "moe_config.json"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
DAMAGED = ("the directory is damaged: re-export the model from its training run or load one of its "
           "checkpoint-N directories instead")


def library_versions() -> dict:
    import peft
    import transformers

    return {"therapeutic_moe": __version__, "torch": torch.__version__,
            "transformers": transformers.__version__, "peft": peft.__version__}


def save_model_files(model, directory: Path, full: dict | None = None) -> list[str]:
    """Adapter + MoE weights + moe_config.json into ``directory`` (which must exist).

    ``full``: whole tensors by id(parameter) for a sharded (FSDP) model, whose own parameters
    hold only this rank's shard (see training.distributed.full_tensors).
    """
    directory = Path(directory)
    adapter_state = None
    if full is not None:
        adapter_state = {name: full[id(p)] for name, p in model.peft_model.named_parameters() if id(p) in full}
    model.peft_model.save_pretrained(directory, safe_serialization=True, state_dict=adapter_state)
    written = list(ADAPTER_FILES)
    meta = {
        "base_model": model.base_model_name,
        "use_moe": model.moe_config is not None,
        "lora": {k: v for k, v in model.peft_model.peft_config["default"].to_dict().items()
                 if k in ("r", "lora_alpha", "lora_dropout", "target_modules")},
        "versions": library_versions(),
    }
    if model.moe_config is not None:
        meta.update(model.moe_config.to_dict())
        state = {k: v.detach().cpu().contiguous() for k, v in model.moe_state_dict(full).items()}
        torch.save(state, directory / MOE_WEIGHTS)
        written.append(MOE_WEIGHTS)
    meta["lora"]["target_modules"] = sorted(meta["lora"]["target_modules"])
    (directory / MOE_CONFIG).write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    written.append(MOE_CONFIG)
    return written


def save_trained(model, tokenizer, directory: str | Path, full: dict | None = None) -> list[str]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = save_model_files(model, directory, full)
    tokenizer.save_pretrained(directory)
    return written


def export_atomically(model, tokenizer, out_dir: Path, full: dict | None = None,
                      model_files_from: Path | None = None) -> None:
    """The trained model into ``out_dir``: written into a temporary folder, then each file moved
    into place, the moe_config.json last, so a crash never leaves the weights of two different
    steps side by side (it leaves the previous export, or this one without its final moe_config.json).

    ``model_files_from``: copy the weights from this checkpoint instead of the model (how the best
    checkpoint is exported: its model files are this same format); ``full``: whole tensors of a
    sharded model."""
    import os
    import shutil

    out_dir = Path(out_dir)
    tmp = out_dir / ".export.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    if model_files_from is None:
        save_trained(model, tokenizer, tmp, full)
    else:
        tmp.mkdir(parents=True)
        for name in [*ADAPTER_FILES, MOE_WEIGHTS, MOE_CONFIG, "README.md"]:  # what save_model_files wrote
            if (Path(model_files_from) / name).is_file():
                shutil.copyfile(Path(model_files_from) / name, tmp / name)
        tokenizer.save_pretrained(tmp)
    names = sorted(p.name for p in tmp.iterdir() if p.name != MOE_CONFIG) + [MOE_CONFIG]
    for name in names:
        os.replace(tmp / name, out_dir / name)
    shutil.rmtree(tmp, ignore_errors=True)


def read_moe_weights(path: Path) -> dict[str, torch.Tensor]:
    """Load moe_layers.pt refusing anything but tensors: a pickled object is never executed."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelDirError(f"{path}: missing; the directory is incomplete") from None
    except Exception as exc:  # weights_only unpickler raises UnpicklingError/RuntimeError on objects
        raise ModelDirError(f"{path}: refused to load (not a plain tensor file or corrupt): {exc}") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ModelDirError(f"{path}: expected a dict of name -> tensor")
    return state


def read_meta(directory: Path) -> dict:
    path = directory / MOE_CONFIG
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ModelDirError(f"{path}: expected a JSON object, found {type(meta).__name__}; {DAMAGED}")
        return meta
    except FileNotFoundError:
        raise ModelDirError(f"{directory}: no {MOE_CONFIG}; is this a directory written by therapeutic-moe?") from None
    except json.JSONDecodeError as exc:
        raise ModelDirError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:  # json recurses per nesting level; thousands of [ exhaust the stack
        raise ModelDirError(f"{path}: invalid JSON: nested too deeply; {DAMAGED}") from None


def inspect_model_dir(directory: Path, base_model: str | None = None) -> tuple[dict, str]:
    """Check a saved directory is complete; return its moe_config.json and the base model name
    (``base_model`` overrides the recorded one)."""
    if not directory.is_dir():
        raise ModelDirError(f"{directory}: no such model directory")
    meta = read_meta(directory)
    for name in ADAPTER_FILES:
        if not (directory / name).is_file():
            raise ModelDirError(f"{directory / name}: missing; the directory is incomplete")
    name = base_model or meta.get("base_model")
    if not name:
        raise ModelDirError(f"{directory / MOE_CONFIG}: no base_model recorded; pass a base model explicitly")
    return meta, name


def load_trained(directory: str | Path, *, device="cpu", dtype=torch.float32, base_model: str | None = None,
                 cache_dir: str | None = None):
    """Rebuild base + LoRA + experts from a saved directory. Returns (model, tokenizer)."""

    from therapeutic_moe.modeling.base_model import load_base_model, load_tokenizer, resolve_base_model

    directory = Path(directory)
    meta, name = inspect_model_dir(directory, base_model)
    resolved = resolve_base_model(name, cache_dir)
    base = load_base_model(resolved, dtype=dtype, device=device)
    tokenizer = load_tokenizer(str(directory) if (directory / "tokenizer_config.json").is_file() else resolved)
    return _attach(base, tokenizer, directory, meta, name, device)


def _load_adapter(peft_model_cls, base, directory: Path):
    """PeftModel.from_pretrained, with a damaged adapter (what a crash during an export or a
    hand edit leaves) reported as one ModelDirError instead of a traceback from deep inside PEFT."""
    from safetensors import SafetensorError

    config_path = directory / ADAPTER_FILES[0]
    # PEFT would raise a bare JSONDecodeError without naming the file; check it here first.
    try:
        adapter_config = json.loads(config_path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ModelDirError(f"{config_path}: not valid JSON ({exc}); {DAMAGED}") from None
    if not isinstance(adapter_config, dict):
        raise ModelDirError(f"{config_path}: expected a JSON object, got {type(adapter_config).__name__}; "
                            f"{DAMAGED}") from None
    try:
        return peft_model_cls.from_pretrained(base, str(directory), is_trainable=False)
    except (SafetensorError, RuntimeError, ValueError, KeyError, TypeError, OSError) as exc:
        # SafetensorError: truncated weights; RuntimeError: size mismatch, i.e. the rank in
        # adapter_config.json does not fit the saved weights; the others: bad config fields.
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
        mismatch = next((line for line in lines if "size mismatch" in line), None)
        if mismatch:  # the torch message's first line says nothing; the mismatch line names the shapes
            reason = f"the rank r in {config_path.name} does not fit the saved weights: {mismatch[:300]}"
        else:
            reason = f"{type(exc).__name__}: {lines[0][:300]}"
        raise ModelDirError(f"{directory / ADAPTER_FILES[1]} does not load with {config_path.name} "
                            f"({reason}); {DAMAGED}") from None


def _attach(base, tokenizer, directory: Path, meta: dict, name: str, device):
    from peft import PeftModel

    from therapeutic_moe.modeling.wrapper import TherapeuticMoEModel
    from therapeutic_moe.moe import inject_experts

    peft_model = _load_adapter(PeftModel, base, directory)
    layers, context, moe_config = [], None, None
    if meta.get("use_moe", True):
        moe_config = MoEConfig.from_dict(meta, source=str(directory / MOE_CONFIG))
        state = read_moe_weights(directory / MOE_WEIGHTS)
        layers, context = inject_experts(peft_model.get_base_model(), moe_config)
        model = TherapeuticMoEModel(peft_model, moe_config, layers, context, name)
        try:
            model.load_moe_state_dict(state)
        except (KeyError, ValueError) as exc:
            raise ModelDirError(
                f"{directory / MOE_WEIGHTS} does not fit {MOE_CONFIG} ({moe_config.num_experts} experts, "
                f"r={moe_config.expert_r}, {len(layers)} layers): {exc}") from None
    else:
        model = TherapeuticMoEModel(peft_model, None, [], None, name)
    model.to(device)
    model.eval()
    return model, tokenizer


def load_trained_onto(base, tokenizer, directory: str | Path, name: str = "custom"):
    """Like ``load_trained`` but onto an already-loaded base model (tests, custom setups)."""
    directory = Path(directory)
    return _attach(base, tokenizer, directory, read_meta(directory), name, next(base.parameters()).device)
