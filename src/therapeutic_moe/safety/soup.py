"""A weight soup of crisis heads trained with different seeds: one model, one encoder pass.

Two fits of one recipe that differ only in their seed disagree a lot on text neither saw (on the
fourteenth to sixteenth blind sets one found 0.970 of the crises at 0.65, the other 0.995, with
twice the real-text flags). Averaging their predictions would cost one encoder pass per fit;
averaging their weights costs nothing at run time. The merged encoder weight of a soup is the
mean of the fits' merged weights, W + mean(scale * B_i A_i), written exactly as one LoRA of rank
8k (the A_i stacked, the B_i side by side and divided by k) at the same scale; the head is the
mean of the heads. Whether the soup beats its members is measured, not assumed (docs/safety.md).
"""

from __future__ import annotations

import re

import torch

from therapeutic_moe.safety.semantic import CrisisModel, fits_lora_settings

_LORA_KEY = re.compile(r"^(?P<module>.+)\.lora_(?P<side>[AB])\.weight$")


def soup(models: list[CrisisModel], threshold: float | None = None) -> CrisisModel:
    """The weight soup of ``models`` (same classes and LoRA settings), deciding at ``threshold``
    (default: the first model's)."""
    if len(models) < 2:
        raise ValueError("a soup needs two models or more")
    first = models[0]
    if any(m.classes != first.classes or m.lora_settings != first.lora_settings or set(m.lora_state) != set(first.lora_state)
           for m in models[1:]):
        raise ValueError("the models differ in classes or LoRA layout: soup only seeds of one recipe")
    k = len(models)
    state = {}
    for key in first.lora_state:
        side = _LORA_KEY.match(key).group("side")
        parts = [m.lora_state[key].to(torch.float32) for m in models]
        # A: [r, in] stacked to [k r, in]; B: [out, r] side by side to [out, k r], each B_i / k
        state[key] = torch.cat(parts, dim=0) if side == "A" else torch.cat(parts, dim=1) / k
    settings = dict(first.lora_settings, r=first.lora_settings["r"] * k, lora_alpha=first.lora_settings["lora_alpha"] * k)
    assert fits_lora_settings(settings)
    report = {"soup_of": [m.report for m in models]}
    return CrisisModel(first.classes, state, sum(m.head_weight for m in models) / k, sum(m.head_bias for m in models) / k,
                       first.threshold if threshold is None else threshold, report, settings)
