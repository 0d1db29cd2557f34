"""Which expert produced each generated token, from the MoE layers' routing trace.

Token t is produced by the forward step whose LAST position is the token before it, so the
routing of that position is what "generated" t. Its gates are averaged over layers and the
top expert of that average names the token (per-layer top-1 choices are kept as well).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch


@dataclass
class TokenRouting:
    """Routing behind one generated token."""

    text: str = field(metadata={"help": "The text this token added to the reply ('' while a multi-byte "
                                        "character is incomplete)."})
    expert: int = field(metadata={"help": "Index of the expert with the largest gate averaged over layers."})
    domain: str = field(metadata={"help": "Name (domain) of that expert."})
    weights: list[float] = field(default_factory=list,
                                 metadata={"help": "Gate per expert averaged over layers (sums to 1)."})
    layer_experts: list[int] = field(default_factory=list,
                                     metadata={"help": "Top-1 expert of every layer, in layer order."})

    def to_dict(self, with_text: bool = True) -> dict:
        out = asdict(self)
        out["weights"] = [round(w, 4) for w in self.weights]
        if not with_text:
            out.pop("text")
        return out


def last_position_gates(trace: list, num_layers: int) -> torch.Tensor | None:
    """[L, E] gates of the last token of one forward call (batch of one), or None without experts."""
    if not trace:
        return None
    by_layer = {}
    for layer, _topk, gates in trace:
        by_layer[layer] = gates[-1]  # later calls overwrite: only the newest forward counts
    if len(by_layer) != num_layers:
        return None
    return torch.stack([by_layer[i] for i in range(num_layers)]).float()


def routing_for(gates: torch.Tensor | None, domains: list[str], text: str) -> TokenRouting | None:
    if gates is None:
        return None
    mean = gates.mean(dim=0)
    expert = int(mean.argmax())
    return TokenRouting(text=text, expert=expert, domain=domains[expert] if expert < len(domains) else str(expert),
                        weights=mean.tolist(), layer_experts=gates.argmax(dim=1).tolist())


def expert_shares(routing: list[TokenRouting], domains: list[str]) -> dict[str, float]:
    """Share of generated tokens whose top expert is each domain."""
    if not routing:
        return {}
    counts = [0] * len(domains)
    for r in routing:
        if 0 <= r.expert < len(counts):
            counts[r.expert] += 1
    total = sum(counts) or 1
    return {d: c / total for d, c in zip(domains, counts)}
