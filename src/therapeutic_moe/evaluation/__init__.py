"""Held-out evaluation: loss/perplexity vs the base model, routing, domain accuracy, long context.

Names load on first use so that `therapeutic-moe --help` never imports torch.
"""

_EXPORTS = {
    "evaluate_model": "evaluate", "base_model_only": "base_only", "check_targets": "targets",
    "perplexity_by_length": "long_context", "write_report": "report", "format_table": "report",
    "load_eval_data": "data_source",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"therapeutic_moe.evaluation.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'therapeutic_moe.evaluation' has no attribute {name!r}")
