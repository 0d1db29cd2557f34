"""Typed, whole-file-validated configuration: ``moe_training_config.json``,
``wandb_config.json`` and ``safety_config.json`` plus command-line overrides.

Every field carries its help text in ``field(metadata={"help": ...})``; invalid configs
raise one ``ConfigError`` listing every problem, suspicious ones warn (``ConfigWarning``).
"""

from therapeutic_moe.config.describe import describe_all, describe_fields, markdown_reference
from therapeutic_moe.config.overrides import parse_cli_overrides
from therapeutic_moe.config.run_config import (
    RunConfig,
    config_to_dict,
    load_run_config,
    load_saved_run_config,
    save_run_config,
)
from therapeutic_moe.config.safety_config import PII_KINDS, SafetyConfig
from therapeutic_moe.config.train_config import DEFAULT_EXPERT_DOMAINS, DEFAULT_SYSTEM_PROMPT, TrainConfig
from therapeutic_moe.config.validation import ConfigProblems, ConfigWarning
from therapeutic_moe.config.wandb_config import WandbConfig

__all__ = [
    "ConfigProblems",
    "ConfigWarning",
    "DEFAULT_EXPERT_DOMAINS",
    "DEFAULT_SYSTEM_PROMPT",
    "PII_KINDS",
    "RunConfig",
    "SafetyConfig",
    "TrainConfig",
    "WandbConfig",
    "config_to_dict",
    "describe_all",
    "describe_fields",
    "load_run_config",
    "load_saved_run_config",
    "markdown_reference",
    "parse_cli_overrides",
    "save_run_config",
]
