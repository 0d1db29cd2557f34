"""Run a trained model as its untouched base model: attention LoRA off and experts bypassed."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def base_model_only(model):
    """Within this block ``model`` computes exactly what the frozen base model computes.

    PEFT's ``disable_adapter()`` only switches off the attention LoRA; the MoE layers are not
    PEFT modules, so the routing context's ``bypass_experts`` switch skips their deltas too.
    """
    ctx = model.context
    previous = ctx.bypass_experts if ctx is not None else None
    with model.peft_model.disable_adapter():
        if ctx is not None:
            ctx.bypass_experts = True
        try:
            yield model
        finally:
            if ctx is not None:
                ctx.bypass_experts = previous
