"""Fold attention LoRA and gated expert deltas into one uniform-rank PEFT LoRA state dict.

With fixed gates g, an MoE layer's projection is  W x + s_e · Σ_e g_e · B_e A_e x  (s_e =
expert_alpha / expert_r), which is a LoRA of rank k·r: stack the A_e of the experts with
g_e > 0 as lora_A and g_e · s_e · B_e as lora_B. Every module is then zero-padded to one rank R
and its own scale is folded into lora_B, so the adapter needs neither rank_pattern nor
alpha_pattern (not every LoRA server reads them): lora_alpha = R, scale 1, exact up to float
rounding.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from therapeutic_moe.errors import ModelDirError

PEFT_PREFIX = "base_model.model."


@dataclass
class LoraModule:
    """One target module's low-rank delta: delta(x) = B @ A @ x (scale already in B)."""

    A: torch.Tensor  # [rank, in]
    B: torch.Tensor  # [out, rank]


@dataclass
class FoldedAdapter:
    modules: dict[str, LoraModule] = field(default_factory=dict)  # module path -> delta
    target_modules: set[str] = field(default_factory=set)  # short names (q_proj, gate_proj, ...)

    @property
    def rank(self) -> int:
        return max(m.A.shape[0] for m in self.modules.values())


def read_attention_lora(model_dir: Path) -> FoldedAdapter:
    """The saved PEFT adapter (attention LoRA) with its scale folded into B."""
    from safetensors.torch import load_file

    config = json.loads((model_dir / "adapter_config.json").read_text(encoding="utf-8"))
    if config.get("rank_pattern") or config.get("alpha_pattern") or config.get("use_dora"):
        raise ModelDirError(f"{model_dir / 'adapter_config.json'}: rank_pattern, alpha_pattern and DoRA "
                            "are not supported by the export")
    r, alpha = int(config["r"]), float(config["lora_alpha"])
    scale = alpha / math.sqrt(r) if config.get("use_rslora") else alpha / r
    state = load_file(str(model_dir / "adapter_model.safetensors"))
    folded = FoldedAdapter()
    for key, A in state.items():
        if not key.endswith(".lora_A.weight"):
            continue
        path = key[len(PEFT_PREFIX):-len(".lora_A.weight")] if key.startswith(PEFT_PREFIX) else key[:-len(".lora_A.weight")]
        B = state[key.replace(".lora_A.weight", ".lora_B.weight")]
        folded.modules[path] = LoraModule(A.double(), B.double() * scale)
        folded.target_modules.add(path.rsplit(".", 1)[-1])
    return folded


def add_gated_experts(folded: FoldedAdapter, moe_state: dict[str, torch.Tensor], mlp_paths: list[str],
                      moe: dict, gates: list[list[float]]) -> None:
    """Add each MoE layer's experts, weighted by that layer's fixed gates, as LoRA modules.
    ``moe`` is the saved moe_config.json. The always-on expert's blocks (gate 1), a shared A and
    the compensated init's frozen term (subtracted) are part of the same sum."""
    r, scaling = int(moe["expert_r"]), float(moe["expert_alpha"]) / int(moe["expert_r"])
    for layer, (mlp_path, layer_gates) in enumerate(zip(mlp_paths, gates)):
        for proj in moe["target_modules"]:
            key = f"layers.{layer}.experts.{proj}"
            terms = [_stacked_term(moe_state[f"{key}.expert_A"], moe_state[f"{key}.expert_B"], r, layer_gates, scaling)]
            if f"{key}.init_A" in moe_state:  # compensated init: delta = experts(A, B) - experts(A0, B0)
                terms.append(_stacked_term(moe_state[f"{key}.init_A"], moe_state[f"{key}.init_B"], r, layer_gates, -scaling))
            A = torch.cat([a for a, _ in terms])
            B = torch.cat([b for _, b in terms], dim=1)
            folded.modules[f"{mlp_path}.{proj}"] = LoraModule(A, B)
            folded.target_modules.add(proj)


def _stacked_term(A_all: torch.Tensor, B_all: torch.Tensor, r: int, expert_gates: list[float],
                  scaling: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(A [k, in], B [out, k]) of Σ_blocks gate · scaling · (x A_b) B_b over the blocks with a gate.
    The shapes tell the structure (``StackedLoRAExperts``): B's r-wide blocks past the routed
    experts' are the always-on expert's (gate 1), and an A of one block (HydraLoRA) serves them all."""
    A_all, B_all = A_all.double(), B_all.double()
    blocks = B_all.shape[0] // r
    block_gates = list(expert_gates) + [1.0] * (blocks - len(expert_gates))
    shared_a = A_all.shape[1] == r
    used = [b for b, g in enumerate(block_gates) if g != 0]
    A = torch.cat([(A_all if shared_a else A_all[:, b * r:(b + 1) * r]).t() for b in used])
    B = torch.cat([block_gates[b] * scaling * B_all[b * r:(b + 1) * r].t() for b in used], dim=1)
    return A, B


def padded_state_dict(folded: FoldedAdapter, rank: int, dtype=torch.float32) -> dict[str, torch.Tensor]:
    """PEFT's saved key layout, every module zero-padded to ``rank``."""
    state = {}
    for path, module in folded.modules.items():
        r = module.A.shape[0]
        A = torch.zeros(rank, module.A.shape[1], dtype=torch.float64)
        B = torch.zeros(module.B.shape[0], rank, dtype=torch.float64)
        A[:r], B[:, :r] = module.A, module.B
        state[f"{PEFT_PREFIX}{path}.lora_A.weight"] = A.to(dtype).contiguous()
        state[f"{PEFT_PREFIX}{path}.lora_B.weight"] = B.to(dtype).contiguous()
    return state


def vllm_rank(rank: int) -> int:
    """``rank`` rounded up to a value vLLM's --max-lora-rank takes (8, 16, 32, ...; 1 stays 1)."""
    if rank <= 1:
        return 1
    return max(8, 1 << (rank - 1).bit_length())
