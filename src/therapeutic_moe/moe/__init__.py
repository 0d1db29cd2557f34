"""LoRA experts inside every decoder FFN: router, stacked experts, losses, injection."""

from therapeutic_moe.moe.config import MoEConfig, SEED_DOMAINS
from therapeutic_moe.moe.context import RoutingContext
from therapeutic_moe.moe.experts import StackedLoRAExperts
from therapeutic_moe.moe.inject import find_mlps, inject_experts
from therapeutic_moe.moe.layer import MoELoRAMLP
from therapeutic_moe.moe.losses import domain_routing_loss, load_balancing_loss, router_z_loss
from therapeutic_moe.moe.router import TopKRouter
from therapeutic_moe.moe.stats import RoutingStats

__all__ = [
    "MoEConfig", "SEED_DOMAINS", "RoutingContext", "StackedLoRAExperts", "find_mlps", "inject_experts",
    "MoELoRAMLP", "domain_routing_loss", "load_balancing_loss", "router_z_loss", "TopKRouter", "RoutingStats",
]
