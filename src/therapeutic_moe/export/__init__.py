"""Export a trained directory into formats other tools load without this package.

- ``merged``: attention LoRA merged into a full Hugging Face model (experts dropped).
- ``domain-adapters``: one standard PEFT LoRA adapter per domain (attention LoRA + that
  expert's deltas with its gate fixed to 1), loadable by stock PEFT and vLLM multi-LoRA.
- ``fixed-gate``: the exact LoRA equal to the MoE model under a fixed gate vector, as an
  adapter or merged.

See docs/export.md.
"""

FORMATS = ("merged", "domain-adapters", "fixed-gate", "gguf")
