"""A leaner forward for PEFT's LoRA Linear layers under autocast.

PEFT's forward casts the input to the adapter's dtype (fp32 master weights) before
``lora_A``; autocast then casts it straight back to bf16, so each LoRA layer writes an fp32
and a bf16 copy of its input and keeps the latter for backward. It then scales the
[N, d_out] LoRA output and adds it to the base output: two more passes over the largest
tensor of the layer.

Here, under autocast only, the input goes to ``lora_A`` as it is, the scale is applied to
the thin [N, r] tensor, and the add happens inside the GEMM epilogue (``addmm``). Same
function; rounding differs only in that there are fewer bf16 roundings. Anything unusual
(merged or disabled adapters, several adapters, DoRA and other variants, extra arguments,
no autocast) runs PEFT's own forward.
"""

from __future__ import annotations

from types import MethodType

import torch
from torch import nn


def _fast_forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    active = self.active_adapters
    if (args or kwargs or self.disable_adapters or self.merged or len(active) != 1
            or not torch.is_autocast_enabled(x.device.type)):
        return type(self).forward(self, x, *args, **kwargs)
    name = active[0]
    if name not in self.lora_A or name in getattr(self, "lora_variant", {}):
        return type(self).forward(self, x, *args, **kwargs)
    result = self.base_layer(x)
    low = self.lora_A[name](self.lora_dropout[name](x)) * self.scaling[name]
    out_features = result.shape[-1]
    fused = torch.addmm(result.reshape(-1, out_features), low.reshape(-1, low.shape[-1]),
                        self.lora_B[name].weight.t())
    return fused.view(result.shape)


def is_peft_lora_linear(module: nn.Module) -> bool:
    try:
        from peft.tuners.lora.layer import Linear as LoraLinear
    except ImportError:
        return False
    return type(module) is LoraLinear


def patch_lora_linears(model: nn.Module) -> int:
    """Give every PEFT LoRA Linear of ``model`` the lean forward; returns how many."""
    count = 0
    for module in model.modules():
        if is_peft_lora_linear(module) and not getattr(module, "_therapeutic_fast_lora", False):
            module.forward = MethodType(_fast_forward, module)
            module._therapeutic_fast_lora = True
            count += 1
    return count
