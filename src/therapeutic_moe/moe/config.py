"""The mixture-of-experts settings that travel with a trained model (``moe_config.json``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
import warnings

from therapeutic_moe.config.train_config import DEFAULT_EXPERT_DOMAINS as SEED_DOMAINS  # the one domain list
from therapeutic_moe.errors import ModelDirError

FORMAT_VERSION = 1
EXPERT_INITS = ("zero", "compensated")
EXPERT_STRUCTURES = ("independent", "shared_a")
BALANCING_MODES = ("loss", "aux_free")
ROUTER_INPUTS = ("token", "sequence")
# The routing-recipe settings (issue: routing that learns); same names in the train config.
ROUTING_RECIPE_FIELDS = ("expert_init", "expert_init_std", "expert_structure", "shared_expert", "shared_expert_r", "balancing",
                         "aux_free_bias_rate", "load_balancing_warmup_steps", "dense_routing_steps", "router_input")


@dataclass
class MoEConfig:
    """Shape and routing of the LoRA experts injected into every decoder FFN."""

    expert_domains: list[str] = field(
        default_factory=lambda: list(SEED_DOMAINS),
        metadata={"help": "Expert names, in expert-index order: expert i is the expert of domain i."},
    )
    top_k: int = field(default=2, metadata={"help": "Experts chosen per token (gates renormalised over them)."})
    expert_r: int = field(default=4, metadata={"help": "LoRA rank of each expert's delta on gate/up/down."})
    expert_alpha: int = field(default=16, metadata={"help": "LoRA alpha of the experts (scale = alpha / r; "
                                                    "the top-k gates sum to 1, so a chosen expert gets about scale / k)."})
    expert_dropout: float = field(default=0.0, metadata={"help": "Dropout on the expert input (train only)."})
    target_modules: list[str] = field(
        default_factory=lambda: ["gate_proj", "up_proj", "down_proj"],
        metadata={"help": "MLP projections that get expert deltas (SwiGLU gate/up/down)."},
    )
    router_init_std: float = field(default=0.02, metadata={"help": "Std of the router's normal init."})
    load_balancing_weight: float = field(default=0.01, metadata={"help": "Coefficient of E·Σ f_e·P_e."})
    router_z_loss_weight: float = field(default=1e-3, metadata={"help": "Coefficient of mean(logsumexp²)."})
    domain_routing_weight: float = field(
        default=0.1, metadata={"help": "Coefficient of the supervised domain-routing cross-entropy."}
    )
    expert_init: str = field(default="zero", metadata={"help": (
        "zero: B = 0 (LoRA init; the router gets no LM gradient at step 0). compensated: B ~ N(0, "
        "expert_init_std) and a frozen copy of the initial experts, fed the detached gates, is "
        "subtracted, so the output at step 0 equals the base model's exactly while the router gets "
        "the experts' (different) outputs as signal from step 0.")})
    expert_init_std: float = field(default=0.02, metadata={"help": "Std of B for expert_init=compensated."})
    expert_structure: str = field(default="independent", metadata={"help": (
        "independent: each expert has its own A and B. shared_a: one A per projection shared by all "
        "experts, one B each (HydraLoRA); raise expert_r to spend the same parameters.")})
    shared_expert: bool = field(default=False, metadata={"help": (
        "Add one always-on expert (gate 1) per projection beside the routed ones (its own B, and its "
        "own A unless expert_structure=shared_a); it adds one expert's parameters.")})
    shared_expert_r: int = field(default=0, metadata={"help": (
        "Rank of the always-on expert; 0 = expert_r. A multiple of expert_r (needs shared_expert and "
        "independent A): a wide shared expert with narrow routed ones keeps more rank per token within "
        "the same parameters. Every block has the scale expert_alpha / expert_r.")})
    balancing: str = field(default="loss", metadata={"help": (
        "loss: the load-balancing loss only. aux_free: also a per-expert bias added to the router "
        "logits for selection only (gates stay the softmax of the logits), moved after every "
        "optimizer step by aux_free_bias_rate toward equal load (DeepSeek-V3); saved with the model.")})
    aux_free_bias_rate: float = field(default=1e-3, metadata={"help": "Bias step per optimizer step (aux_free)."})
    load_balancing_warmup_steps: int = field(default=0, metadata={"help": (
        "Ramp the balance loss's gradient linearly from 0 to full over this many optimizer steps "
        "(its logged value stays the unscaled loss); 0 = full from the start.")})
    dense_routing_steps: int = field(default=0, metadata={"help": (
        "For this many optimizer steps every expert runs with its softmax probability as gate "
        "(dense soft routing, every router weight gets LM gradient), then top-k.")})
    router_input: str = field(default="token", metadata={"help": (
        "token: each token is routed by its own hidden state. sequence: by the running mean of the "
        "layer input over its conversation so far (causal; moe/sequence.py), so a conversation's "
        "tokens share slowly changing experts.")})
    format_version: int = FORMAT_VERSION

    @property
    def num_experts(self) -> int:
        return len(self.expert_domains)

    @property
    def scaling(self) -> float:
        return self.expert_alpha / self.expert_r

    @property
    def domain_to_expert(self) -> dict[str, int]:
        return {d: i for i, d in enumerate(self.expert_domains)}

    def __post_init__(self) -> None:
        # Types first: moe_config.json is hand-editable and a float rank (4.5) or a string would
        # otherwise pass the range checks below (or fail them with a message naming no field)
        # and crash model building much later.
        problems = [f"{name}={value!r} must be an integer" for name, value in
                    (("top_k", self.top_k), ("expert_r", self.expert_r), ("expert_alpha", self.expert_alpha))
                    if not isinstance(value, int) or isinstance(value, bool)]
        if not isinstance(self.expert_domains, list) or not all(isinstance(d, str) for d in self.expert_domains):
            problems.append(f"expert_domains={self.expert_domains!r:.80} must be a list of strings")
        if problems:
            raise ValueError("; ".join(problems))
        if len(self.expert_domains) < 1:
            problems.append("expert_domains must name at least one expert")
        if len(set(self.expert_domains)) != len(self.expert_domains):
            problems.append(f"expert_domains has duplicates: {self.expert_domains}")
        if not 1 <= self.top_k <= max(1, len(self.expert_domains)):
            problems.append(f"top_k={self.top_k} must be between 1 and num_experts={len(self.expert_domains)}")
        if self.expert_r < 1:
            problems.append(f"expert_r={self.expert_r} must be >= 1")
        problems += self._routing_problems()
        if problems:
            raise ValueError("; ".join(problems))

    def _routing_problems(self) -> list[str]:
        problems = [f"{name}={value!r} must be one of {list(choices)}" for name, value, choices in (
            ("expert_init", self.expert_init, EXPERT_INITS), ("expert_structure", self.expert_structure, EXPERT_STRUCTURES),
            ("balancing", self.balancing, BALANCING_MODES), ("router_input", self.router_input, ROUTER_INPUTS))
            if value not in choices]
        problems += [f"{name}={value!r} must be an integer >= 0" for name, value in (
            ("load_balancing_warmup_steps", self.load_balancing_warmup_steps),
            ("dense_routing_steps", self.dense_routing_steps))
            if not isinstance(value, int) or isinstance(value, bool) or value < 0]
        if not isinstance(self.shared_expert, bool):
            problems.append(f"shared_expert={self.shared_expert!r} must be true or false")
        problems += self._shared_rank_problems()
        problems += [f"{name}={value!r} must be a number >= 0" for name, value in (
            ("expert_init_std", self.expert_init_std), ("aux_free_bias_rate", self.aux_free_bias_rate))
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0]
        return problems

    def _shared_rank_problems(self) -> list[str]:
        r = self.shared_expert_r
        if not isinstance(r, int) or isinstance(r, bool) or r < 0:
            return [f"shared_expert_r={r!r} must be an integer >= 0"]
        if r == 0:
            return []
        if not self.shared_expert or self.expert_structure == "shared_a":
            return [f"shared_expert_r={r} needs shared_expert=true and expert_structure=independent"]
        if self.expert_r >= 1 and r % self.expert_r:
            return [f"shared_expert_r={r} must be a multiple of expert_r={self.expert_r}"]
        return []

    @property
    def counts_steps(self) -> bool:
        """Whether routing depends on the optimizer step (a counter travels with the weights)."""
        return self.balancing == "aux_free" or self.load_balancing_warmup_steps > 0 or self.dense_routing_steps > 0

    @classmethod
    def from_train_config(cls, cfg) -> "MoEConfig":
        return cls(
            expert_domains=list(cfg.expert_domains),
            top_k=cfg.top_k,
            expert_r=cfg.expert_r,
            expert_alpha=cfg.expert_alpha,
            expert_dropout=cfg.expert_dropout,
            target_modules=list(cfg.expert_target_modules),
            router_init_std=cfg.router_init_std,
            load_balancing_weight=cfg.load_balancing_weight,
            router_z_loss_weight=cfg.router_z_loss_weight,
            domain_routing_weight=cfg.domain_routing_weight,
            # Absent from older configs (and from tests' minimal namespaces): the defaults.
            **{name: getattr(cfg, name) for name in ROUTING_RECIPE_FIELDS if hasattr(cfg, name)},
        )

    def to_dict(self) -> dict:
        out = asdict(self)
        out["num_experts"] = self.num_experts
        out["domain_to_expert"] = self.domain_to_expert
        return out

    @classmethod
    def from_dict(cls, data: dict, source: str = "moe_config.json") -> "MoEConfig":
        known = {f.name for f in fields(cls)}
        derived = {"num_experts", "domain_to_expert"}
        unknown = sorted(set(data) - known - derived - {"base_model", "versions", "use_moe", "lora"})
        if unknown:  # newer writer: keep going, but say so (style rule: warn, don't crash)
            warnings.warn(f"{source}: ignoring unknown keys {unknown}", stacklevel=2)
        kwargs = {k: v for k, v in data.items() if k in known}
        try:
            cfg = cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise ModelDirError(f"{source}: invalid MoE settings: {exc}") from None
        if "num_experts" in data and data["num_experts"] != cfg.num_experts:
            raise ModelDirError(
                f"{source}: num_experts={data['num_experts']} but expert_domains has {cfg.num_experts} names"
            )
        return cfg

    @classmethod
    def load(cls, path: str | Path) -> "MoEConfig":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelDirError(f"{path}: not found; is this a directory written by `therapeutic-moe train`?") from None
        except json.JSONDecodeError as exc:
            raise ModelDirError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        except RecursionError:  # json recurses per nesting level; thousands of [ exhaust the stack
            raise ModelDirError(f"{path}: invalid JSON: nested too deeply; the file is damaged") from None
        return cls.from_dict(data, source=str(path))
