"""Settings a trained directory carries for inference: its system prompt and safety policy.

Training saves its resolved config files next to the weights; replies must use the same
system prompt the model was trained with, and the same safety policy unless told otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path

from therapeutic_moe.errors import ConfigError

TRAIN_CONFIG_FILE = "moe_training_config.json"
SAFETY_CONFIG_FILE = "safety_config.json"
SAVED_CONFIG_DIRS = ("run_config", ".")  # the trainer writes run_config/; a hand-made directory may not


def saved_config_path(model_dir: str | Path, name: str) -> Path | None:
    """Where a trained directory keeps the config file ``name``, or None."""
    for sub in SAVED_CONFIG_DIRS:
        path = Path(model_dir) / sub / name
        if path.is_file():
            return path
    return None


def saved_system_prompt(model_dir: str | Path) -> str | None:
    """The training system prompt: from the saved train config, else the package default.

    An empty saved prompt means "no system message" and gives None.
    """
    path = saved_config_path(model_dir, TRAIN_CONFIG_FILE)
    if path is not None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: cannot be read as JSON ({exc}); fix or remove the file") from None
        if isinstance(data, dict) and "system_prompt" in data:
            return data["system_prompt"] or None
    try:
        from therapeutic_moe.config import DEFAULT_SYSTEM_PROMPT
    except ImportError:
        return None
    return DEFAULT_SYSTEM_PROMPT or None


def load_safety_config(path: str | Path | None = None, model_dir: str | Path | None = None):
    """A SafetyConfig from ``path``, else the model directory's saved one, else None (defaults)."""
    if path is None and model_dir is not None:
        path = saved_config_path(model_dir, SAFETY_CONFIG_FILE)
    if path is None:
        return None
    from therapeutic_moe.config import SafetyConfig
    from therapeutic_moe.config.files import load_config_object

    data, duplicates = load_config_object(Path(path))  # JSON or YAML
    if duplicates:
        raise ConfigError(f"{path}: key {duplicates[0]!r} appears more than once; keep one")
    data.pop("_version", None)
    known = {f for f in SafetyConfig.__dataclass_fields__}
    unknown = sorted(set(data) - known)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{path}: unknown key {unknown[0]!r}.{hint} Known keys: {', '.join(sorted(known))}")
    try:
        return SafetyConfig(**data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
