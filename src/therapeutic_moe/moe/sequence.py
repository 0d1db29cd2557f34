"""Sequence routing: the router reads the running mean of the layer's input over the token's own
conversation instead of the token alone.

Token routers on therapy text split by token kind (punctuation, names, function words), not by
the conversation's topic (docs/results.md, the routing ladder). A router fed the causal mean of
the conversation so far makes one decision that drifts slowly along a conversation: the experts
can specialise by what the conversation is about. It stays causal, so training (packed rows,
segments from ``sample_ids``) and generation (a running sum carried from step to step in
``RoutingContext.sequence_state``) route every token alike.
"""

from __future__ import annotations

import torch


def segment_means(x: torch.Tensor, sample_ids: torch.Tensor, rows: int) -> torch.Tensor:
    """[N, d] fp32: for each token the mean of ``x`` over the tokens of its own sample up to and
    including it. ``x`` is [N, d] flat over ``rows`` packed rows; a sample never spans rows, and
    padding (-1) runs form their own segments (their routing is masked out anyway)."""
    n, d = x.shape
    t = n // rows
    xs = x.float().reshape(rows, t, d)
    sid = sample_ids.reshape(rows, t)
    position = torch.arange(t, device=x.device).expand(rows, t)
    starts = torch.ones_like(sid, dtype=torch.bool)
    starts[:, 1:] = sid[:, 1:] != sid[:, :-1]
    start = torch.where(starts, position, torch.zeros_like(position)).cummax(dim=1).values
    sums = xs.cumsum(dim=1)  # per row: smaller running sums than over the flat batch, so less rounding
    before = torch.where((start > 0)[..., None], sums.gather(1, (start - 1).clamp(min=0)[..., None].expand(-1, -1, d)), 0.0)
    counts = (position - start + 1).to(sums.dtype)[..., None]
    return ((sums - before) / counts).reshape(n, d)


def running_means(x: torch.Tensor, rows: int, state: dict | None, layer_index: int) -> torch.Tensor:
    """[N, d] fp32 for generation: each of the ``rows`` rows of ``x`` (flat [N, d]) is one
    conversation that continues the running sum in ``state`` (None: the rows start here and
    nothing is kept)."""
    n, d = x.shape
    t = n // rows
    xs = x.float().reshape(rows, t, d)
    prior_sum, prior_count = (state or {}).get(layer_index, (None, 0))
    sums = xs.cumsum(dim=1)
    if prior_sum is not None:
        sums = sums + prior_sum[:, None]
    counts = prior_count + torch.arange(1, t + 1, device=x.device, dtype=sums.dtype)
    if state is not None:
        state[layer_index] = (sums[:, -1].detach(), prior_count + t)
    return (sums / counts[None, :, None]).reshape(rows * t, d)


def router_input(x: torch.Tensor, shape: torch.Size, context, layer_index: int) -> torch.Tensor:
    """What a sequence router reads: segment means when the batch says where samples are (the
    loss path of training and evaluation), else running means (generation)."""
    rows = shape[0] if len(shape) == 3 else 1  # the decoder's [B, T, d], or one flat sequence
    with torch.autocast(device_type=x.device.type, enabled=False):
        if context.sample_ids is not None:
            return segment_means(x, context.sample_ids, rows)
        return running_means(x, rows, context.sequence_state, layer_index)
