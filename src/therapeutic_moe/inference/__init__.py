"""Replies from a trained model: the Python API, long-context loading and the chat command.

Names load on first use so that `therapeutic-moe --help` never imports torch.
"""

_EXPORTS = {
    "TherapistAssistant": "assistant", "Reply": "assistant", "ReplyChunk": "assistant", "Usage": "assistant",
    "TokenRouting": "routing", "SamplingParams": "generation",
    "ContextPlan": "context", "plan_context": "context", "load_for_inference": "context",
    "ContextTooLong": "messages", "InvalidMessages": "messages",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"therapeutic_moe.inference.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'therapeutic_moe.inference' has no attribute {name!r}")
