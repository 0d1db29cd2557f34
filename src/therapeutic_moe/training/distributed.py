"""Multi-process training through torch.distributed (launched by torchrun or accelerate launch).

Data parallel (DDP): every rank holds the whole model; an optimizer step consumes
``gradient_accumulation_steps × world_size`` micro-batches of the one global plan, rank r
taking every world_size-th. Gradients are averaged by DDP; the losses are scaled so the
result equals a one-process run with the same global batch. Rank 0 alone logs, prints and
writes checkpoints; stop decisions (signal, time budget, NaN) are agreed with one all-reduce
per step so that no rank is left waiting for the others.

Fully sharded (FSDP2, ``distributed_strategy: fsdp``): ``torch.distributed.fsdp.fully_shard``
on every decoder layer and the root, so parameters, gradients and optimizer state are split
across ranks. The same loss scaling, plan and control all-reduce apply; what changes is how
state is read and written: trainable tensors are gathered whole (a collective every rank joins)
before rank 0 writes them, and the optimizer state is saved in the engine's full,
name-keyed form, so a checkpoint resumes on any number of processes.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def all_reduce_(self, tensor: torch.Tensor, op=None) -> torch.Tensor:
        if self.enabled:
            dist.all_reduce(tensor, op=op or dist.ReduceOp.SUM)
        return tensor

    def gather_objects(self, obj) -> list:
        if not self.enabled:
            return [obj]
        out = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out


def init_distributed() -> Dist:
    """Join the process group when launched with WORLD_SIZE > 1; a no-op otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
    return Dist(rank=rank, world_size=world, local_rank=local)


def shutdown(d: Dist) -> None:
    if d.enabled and dist.is_initialized():
        dist.destroy_process_group()


class LossModule(nn.Module):
    """DDP wraps a module's forward; ours is the loss computation."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch, **kwargs):
        return self.model.forward_loss(batch, **kwargs)


def wrap_for_training(model: nn.Module, d: Dist, device: torch.device, strategy: str = "ddp") -> nn.Module:
    module = LossModule(model)
    if not d.enabled:
        return module
    if strategy == "fsdp":
        return shard(module, model, device)
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    # Every trainable parameter is used in every step (all experts take part in the stacked
    # GEMMs, unchosen ones with gate 0), so no unused-parameter search is needed.
    return DDP(module, device_ids=ids, find_unused_parameters=False)


def decoder_layers(model: nn.Module) -> list[nn.Module]:
    """The transformer blocks of the HF model inside ``model`` (Llama/Qwen/Mistral: decoder.layers)."""
    layers = getattr(model.base.get_decoder(), "layers", None)
    if layers is None:
        raise ValueError("distributed_strategy fsdp: this model has no decoder.layers to shard; use ddp")
    return list(layers)


def shard(module: LossModule, model: nn.Module, device: torch.device) -> nn.Module:
    """FSDP2 units: each router (kept in fp32), each decoder block, then the root (embeddings, norm, head)."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    # Ranks seed differently (dropout), so their fresh adapter/expert initialisations differ; DDP
    # broadcasts rank 0's weights when it wraps, fully_shard does not: do it here.
    for p in model.parameters():
        if p.requires_grad:
            dist.broadcast(p.data, src=0)
    for b in model.buffers():  # e.g. the compensated init's frozen expert copies (as DDP does)
        dist.broadcast(b, src=0)
    half = device.type == "cuda" and any(p.dtype == torch.bfloat16 for p in model.parameters())
    # bf16 frozen weights and fp32 adapters share a block: compute in bf16, reduce gradients in fp32.
    policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if half else MixedPrecisionPolicy()
    router_policy = MixedPrecisionPolicy(param_dtype=torch.float32, reduce_dtype=torch.float32)
    for layer in getattr(model, "moe_layers", []):
        fully_shard(layer.router, mp_policy=router_policy)  # routing decisions stay fp32 (see moe/router.py)
    for block in decoder_layers(model):
        fully_shard(block, mp_policy=policy)
    fully_shard(module, mp_policy=policy)
    return module


def is_sharded(wrapped: nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(wrapped, FSDPModule)


def full_tensors(model: nn.Module) -> dict[int, torch.Tensor]:
    """Every trainable parameter whole, keyed by id(parameter): sharded ones are all-gathered,
    so every rank must call this at the same point."""
    return {id(p): whole(p).detach() for p in model.parameters() if p.requires_grad}


def full_optimizer_state(wrapped: nn.Module, optimizer) -> dict:
    """The optimizer state gathered whole on rank 0, keyed by parameter name (collective)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    return get_optimizer_state_dict(wrapped, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def load_full_optimizer_state(wrapped: nn.Module, optimizer, state: dict) -> None:
    """Load a name-keyed full optimizer state into a sharded optimizer (any number of ranks)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    set_optimizer_state_dict(wrapped, optimizer, optim_state_dict=state, options=StateDictOptions(full_state_dict=True))


def whole(value: torch.Tensor) -> torch.Tensor:
    """A plain tensor from a possibly sharded one (a parameter, or the gradient norm, under FSDP)."""
    from torch.distributed.tensor import DTensor

    return value.full_tensor() if isinstance(value, DTensor) else value


def no_sync(wrapped: nn.Module, last_micro_batch: bool):
    """Skip the gradient all-reduce on all but the last micro-batch of an accumulation window."""
    if hasattr(wrapped, "set_requires_gradient_sync"):  # FSDP2: reduce-scatter only on the last one
        wrapped.set_requires_gradient_sync(last_micro_batch)
        return nullcontext()
    if last_micro_batch or not hasattr(wrapped, "no_sync"):
        return nullcontext()
    return wrapped.no_sync()
