"""State shared by all MoE layers of one model for the current forward pass.

The decoder calls each MLP with hidden states only; the token mask, the sample layout of a
packed batch and the collected aux terms travel through this object instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from therapeutic_moe.moe.stats import RoutingStats


@dataclass
class RoutingContext:
    num_layers: int
    num_experts: int
    token_mask: torch.Tensor | None = None  # [N] bool, True = real token
    sample_ids: torch.Tensor | None = None  # [N] long, -1 = padding
    sample_domains: torch.Tensor | None = None  # [S] long, -1 = unlabelled
    # compute_aux: the aux terms are computed (between begin() and clear()). It stays on after
    # the forward so that gradient-checkpoint recomputation in backward saves the very same
    # tensors as the first pass (non-reentrant checkpointing checks that).
    # collecting: results are stored; True only during the forward itself, so the recompute
    # does not store them twice.
    compute_aux: bool = False
    collecting: bool = False
    compute_domain_loss: bool = True
    # [E] weight of each domain in the supervised routing loss (None = all 1); set once by the
    # trainer from the training labels when domain_routing_class_balance is on.
    domain_class_weights: torch.Tensor | None = None
    aux: dict = field(default_factory=dict)  # layer -> its Routing (router.py), for moe/stacked.py
    stats: RoutingStats | None = None
    trace: list | None = None  # when a list: append (layer, topk_index, gates) per call (inference)
    # True: every MoE layer runs its frozen base MLP only (no router, no expert deltas), so
    # with PEFT's disable_adapter() the model is exactly the base model (evaluation baseline).
    bypass_experts: bool = False
    # Sequence routing during generation (moe/sequence.py): layer -> (running sum [B, d], tokens
    # so far) of the conversation being generated; None outside a generation. The generating
    # code sets a fresh dict per conversation. clear() keeps it: every decoding step's forward
    # clears the aux terms but continues the same conversation.
    sequence_state: dict | None = None

    def begin(self, token_mask=None, sample_ids=None, sample_domains=None) -> None:
        self.token_mask, self.sample_ids, self.sample_domains = token_mask, sample_ids, sample_domains
        self.aux = {}
        self.compute_aux = self.collecting = True

    def end(self) -> None:
        self.collecting = False

    def clear(self) -> None:
        """Back to plain inference: no aux terms at all."""
        self.compute_aux = self.collecting = False
        self.token_mask = self.sample_ids = self.sample_domains = None
        self.aux = {}
