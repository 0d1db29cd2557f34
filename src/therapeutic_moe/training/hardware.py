"""Pick device, precision and loader settings once, and say what was picked."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch


@dataclass
class Hardware:
    device: torch.device
    base_dtype: torch.dtype  # dtype of the frozen base weights
    autocast_dtype: torch.dtype | None  # mixed precision for the forward, None = off
    optim: str
    gradient_checkpointing: bool
    num_workers: int
    pin_memory: bool
    description: str

    def autocast(self):
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)


def _auto(value, default):
    return default if value == "auto" else value


def pick_hardware(cfg, num_base_params: int | None = None) -> Hardware:
    cuda = torch.cuda.is_available()
    if cuda:
        device = torch.device("cuda")
        bf16 = _auto(cfg.bf16, torch.cuda.is_bf16_supported())
        base_dtype = torch.bfloat16 if bf16 else torch.float32
        autocast_dtype = torch.bfloat16 if bf16 else None
        optim = _auto(cfg.optim, "adamw_torch_fused")
        # Checkpointing trades ~30 % speed for memory: only on by default for big models.
        gc = _auto(cfg.gradient_checkpointing, bool(num_base_params and num_base_params > 3e9))
        workers = _auto(cfg.dataloader_num_workers, 4)
        pin = _auto(cfg.dataloader_pin_memory, True)
        name = torch.cuda.get_device_name(0)
    else:
        if cfg.bf16 is True:
            raise_bf16 = "bf16=true was asked for, but there is no CUDA device; using fp32"
            print(f"warning: {raise_bf16}")
        device, base_dtype, autocast_dtype = torch.device("cpu"), torch.float32, None
        optim = "adamw_torch" if cfg.optim in ("auto", "adamw_torch_fused") else cfg.optim
        gc = _auto(cfg.gradient_checkpointing, False)
        workers = _auto(cfg.dataloader_num_workers, 0)
        pin = False
        name = "CPU"
    precision = f"{'bf16 autocast' if autocast_dtype is not None else 'fp32'} (trainable weights fp32)"
    desc = (f"Device: {device.type} ({name}) | precision: {precision} | optimizer: {optim} | "
            f"gradient checkpointing: {'on' if gc else 'off'} | dataloader workers: {workers}"
            f"{' | pin memory' if pin else ''}")
    return Hardware(device, base_dtype, autocast_dtype, optim, bool(gc), int(workers), bool(pin), desc)
