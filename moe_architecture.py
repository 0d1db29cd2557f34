"""The guide's `moe_architecture.py`: the MoE building blocks, re-exported from the package."""

from therapeutic_moe.moe import *  # noqa: F401,F403
from therapeutic_moe.moe import MoEConfig, MoELoRAMLP, TopKRouter, StackedLoRAExperts, inject_experts  # noqa: F401
