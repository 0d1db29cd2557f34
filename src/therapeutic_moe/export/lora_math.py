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
                      target_modules: list[str], expert_r: int, scaling: float,
                      gates: list[list[float]]) -> None:
    """Add each MoE layer's experts, weighted by that layer's fixed gates, as LoRA modules."""
    for layer, (mlp_path, layer_gates) in enumerate(zip(mlp_paths, gates)):
        chosen = [e for e, g in enumerate(layer_gates) if g > 0]
        for proj in target_modules:
            A_all = moe_state[f"layers.{layer}.experts.{proj}.expert_A"].double()  # [in, E*r]
            B_all = moe_state[f"layers.{layer}.experts.{proj}.expert_B"].double()  # [E*r, out]
            A = torch.cat([A_all[:, e * expert_r:(e + 1) * expert_r].t() for e in chosen])
            B = torch.cat([layer_gates[e] * scaling * B_all[e * expert_r:(e + 1) * expert_r].t() for e in chosen], dim=1)
            folded.modules[f"{mlp_path}.{proj}"] = LoraModule(A, B)
            folded.target_modules.add(proj)


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
