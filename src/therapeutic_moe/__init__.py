"""Therapeutic MoE-LoRA: LoRA on attention plus a mixture of LoRA experts in every FFN."""

__version__ = "0.1.0"
