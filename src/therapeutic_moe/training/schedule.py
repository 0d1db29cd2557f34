"""The run's derived numbers, computed once, and the optimizer and learning-rate schedule they drive."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Schedule:
    """Numbers every part of the trainer agrees on, derived from the config and the epoch-0 plan."""

    window_size: int = field(metadata={
        "help": "Micro-batches per optimizer step: gradient_accumulation_steps × processes."})
    micro_batches_per_epoch: int = field(metadata={"help": "Micro-batches in the epoch-0 plan."})
    steps_per_epoch: int = field(metadata={"help": "Optimizer steps per epoch (the last window may be short)."})
    total_steps: int = field(metadata={"help": "max_steps, else steps_per_epoch × num_train_epochs (rounded up)."})
    warmup_steps: int = field(metadata={"help": "warmup_steps, else warmup_ratio × total_steps (rounded up)."})
    eval_every: int = field(metadata={"help": "Optimizer steps between evaluations: eval_steps, else one epoch."})

    @classmethod
    def derive(cls, cfg, micro_batches_per_epoch: int, world_size: int) -> "Schedule":
        window = cfg.gradient_accumulation_steps * world_size
        per_epoch = math.ceil(micro_batches_per_epoch / window)
        total = cfg.max_steps if cfg.max_steps > 0 else math.ceil(per_epoch * cfg.num_train_epochs)
        warmup = cfg.warmup_steps if cfg.warmup_steps > 0 else math.ceil(cfg.warmup_ratio * total)
        return cls(window_size=window, micro_batches_per_epoch=micro_batches_per_epoch, steps_per_epoch=per_epoch,
                   total_steps=total, warmup_steps=warmup, eval_every=cfg.eval_steps or per_epoch)


def param_groups(model, params: list, cfg) -> list[dict]:
    """One group, or two when the routers get their own learning rate (router_lr_multiplier)."""
    if model.moe_config is None or cfg.router_lr_multiplier == 1.0:
        return [{"params": params}]
    routers = {id(p) for layer in model.moe_layers for p in layer.router.parameters()}
    return [{"params": [p for p in params if id(p) not in routers]},
            {"params": [p for p in params if id(p) in routers], "lr": cfg.learning_rate * cfg.router_lr_multiplier}]


def build_optimizer(model, wrapped, cfg, fused: bool):
    """AdamW over the trainable parameters of ``wrapped`` (after wrapping: FSDP replaces them)."""
    import torch

    params = [p for p in wrapped.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(param_groups(model, params, cfg), lr=cfg.learning_rate,
                                  betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_epsilon,
                                  weight_decay=cfg.weight_decay, fused=fused)
    return optimizer, params


def build_scheduler(optimizer, cfg, schedule: Schedule):
    from transformers import get_scheduler

    return get_scheduler(cfg.lr_scheduler_type, optimizer, num_warmup_steps=schedule.warmup_steps,
                         num_training_steps=schedule.total_steps)
