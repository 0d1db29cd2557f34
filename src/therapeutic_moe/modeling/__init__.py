"""Base-model loading, model building, and the saved model directory."""

from therapeutic_moe.modeling.base_model import DEFAULT_MODEL, load_base_model, load_tokenizer, resolve_base_model
from therapeutic_moe.modeling.build import build_model, report_trainable, wrap_model
from therapeutic_moe.modeling.saving import load_trained, load_trained_onto, save_trained
from therapeutic_moe.modeling.wrapper import TherapeuticMoEModel

__all__ = ["DEFAULT_MODEL", "load_base_model", "load_tokenizer", "resolve_base_model", "build_model",
           "report_trainable", "wrap_model", "load_trained", "load_trained_onto", "save_trained",
           "TherapeuticMoEModel"]
