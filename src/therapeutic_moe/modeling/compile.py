"""``torch_compile``: regional compilation, one ``torch.compile`` per decoder block.

Compiling each block rather than the whole model keeps the compile time of one block (all
blocks share the compiled code: same class, same shapes), keeps the loss head, the routing
context and the optimizer in eager mode, and leaves the parameter names untouched
(``nn.Module.compile`` compiles in place, so checkpoints and exports keep their keys).
Packed batches change width from step to step: ``dynamic=None`` lets dynamo mark the sequence
dimension dynamic after the first recompilation instead of compiling every width.
"""

from __future__ import annotations

from torch import nn


def decoder_blocks(model: nn.Module) -> nn.ModuleList:
    """The decoder's block list of an HF causal LM (``model.base`` for the trainable wrapper)."""
    base = getattr(model, "base", model)
    decoder = base.get_decoder() if hasattr(base, "get_decoder") else base
    blocks = getattr(decoder, "layers", None)
    if not isinstance(blocks, nn.ModuleList) or not len(blocks):
        raise ValueError(f"torch_compile: {type(decoder).__name__} has no `layers` list of decoder blocks to compile")
    return blocks


def compile_decoder_blocks(model: nn.Module, *, backend: str = "inductor", dynamic: bool | None = None) -> int:
    """Compile every decoder block in place; returns how many were compiled."""
    blocks = decoder_blocks(model)
    for block in blocks:
        block.compile(backend=backend, dynamic=dynamic)
    return len(blocks)


def is_compiled(block: nn.Module) -> bool:
    """Whether ``nn.Module.compile`` was applied to this module."""
    return getattr(block, "_compiled_call_impl", None) is not None
