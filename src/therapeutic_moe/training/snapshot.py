"""CPU copies of training state that a background thread can write while training goes on.

A checkpoint written from another thread must not read a tensor the optimizer is updating in
place (weights, Adam moments, the aux-free routing bias): every tensor is copied here, on the
training thread, at the save point. Model tensors are keyed by name, not by ``id``: a name
finds the same tensor again after FSDP replaces the parameters, and after a buffer is
reassigned; ``as_full`` turns them into the ``id``-keyed form ``modeling.saving`` takes.
"""

from __future__ import annotations

import copy
from itertools import chain

import torch


def cpu_copy(value):
    """A deep copy of ``value`` with every tensor on the CPU (pinned memory when it comes from
    CUDA, so the device-to-host copies run asynchronously and are waited for once)."""
    pending = []
    copied = _copy(value, pending)
    if pending:  # the writer thread must never see a copy that has not landed yet
        torch.cuda.synchronize()
    return copied


def _copy(value, pending: list):
    if isinstance(value, torch.Tensor):
        return _tensor_to_cpu(value.detach(), pending)
    if isinstance(value, dict):
        return type(value)((k, _copy(v, pending)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v, pending) for v in value)
    return copy.deepcopy(value)


def _tensor_to_cpu(tensor: torch.Tensor, pending: list) -> torch.Tensor:
    if tensor.device.type != "cuda":
        return tensor.clone()
    host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
    host.copy_(tensor, non_blocking=True)
    pending.append(host)
    return host


def _named_tensors(model):
    return chain(model.named_parameters(), model.named_buffers())


def _saved_ids(model) -> set[int]:
    """What the saved model files hold: every trainable parameter (the adapter, experts and
    routers) and everything the MoE weights save (routers, experts and their buffers)."""
    ids = {id(p) for p in model.parameters() if p.requires_grad}
    ids |= {id(t) for layer in model.moe_layers for _, t in layer.saved_tensors()}
    return ids


def model_tensors(model, full: dict | None = None) -> dict[str, torch.Tensor]:
    """CPU copies, by name, of the tensors the model files hold. ``full``: whole tensors by
    id(parameter) of a sharded model (``training.distributed.full_tensors``)."""
    wanted = _saved_ids(model)
    live = {name: (full.get(id(t), t) if full is not None else t)
            for name, t in _named_tensors(model) if id(t) in wanted}
    return cpu_copy(live)


def as_full(model, tensors: dict[str, torch.Tensor]) -> dict[int, torch.Tensor]:
    """``tensors`` (from ``model_tensors``) keyed by id of the model's tensors of those names,
    the form ``modeling.saving.save_model_files`` takes. Refuses a snapshot that misses one of
    them: the files would silently mix in live values of a later step."""
    full = {id(t): tensors[name] for name, t in _named_tensors(model) if name in tensors}
    saved = _saved_ids(model)
    missing = [name for name, t in _named_tensors(model) if id(t) in saved and id(t) not in full]
    if missing:
        raise RuntimeError(f"the weight snapshot lacks {len(missing)} tensors of the model, e.g. {missing[:3]}")
    return full
