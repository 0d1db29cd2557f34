"""Flash attention over packed rows: one variable-length kernel call, no [S, S] mask.

A packed row holds several samples whose ``position_ids`` restart at 0. For ``sdpa``,
transformers turns that into a dense block-diagonal boolean mask, which rules out the
flash kernel (masks go to the slower memory-efficient kernel) and still computes every
masked block. Here the row boundaries become cumulative sequence lengths for
``torch.nn.attention.varlen.varlen_attn`` (FlashAttention's varlen kernel inside
PyTorch), so each sample attends causally to itself only and masked blocks cost nothing.

Registered with transformers as the attention implementation ``packed_varlen``. Anything
the varlen kernel cannot do (no CUDA, dropout, a KV cache, fp32) goes to PyTorch sdpa with
an explicit mask, so the model stays usable for evaluation and generation.
"""

from __future__ import annotations

import functools
import inspect

import torch

ATTN_IMPLEMENTATION = "packed_varlen"

# One entry: the segments of the batch in flight. Every layer gets the very same
# position_ids tensor, so the boundaries (one host sync) are found once per forward.
_cache: dict = {}


@functools.lru_cache(maxsize=1)
def _varlen():
    """(varlen_attn, its parameter names) or None when this PyTorch has no varlen API."""
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    return varlen_attn, frozenset(inspect.signature(varlen_attn).parameters)


def varlen_available() -> bool:
    return torch.cuda.is_available() and _varlen() is not None


def packing_segments(position_ids: torch.Tensor | None, attention_mask: torch.Tensor | None,
                     batch: int, seq: int, device: torch.device):
    """Where each sample starts in the flattened batch.

    Returns (cu_seqlens int32 [n+1], max_len, keep) where ``keep`` indexes the real tokens of
    the flattened [batch*seq] layout, or None when every token is real. A sample starts at
    each row start, where the position does not continue the previous one, and after padding.
    """
    if position_ids is None:
        position_ids = torch.arange(seq, device=device).unsqueeze(0)
    pos = position_ids.to(device).expand(batch, seq)
    starts = torch.ones(batch, seq, dtype=torch.bool, device=device)
    starts[:, 1:] = pos[:, 1:] != pos[:, :-1] + 1
    keep = None
    if attention_mask is not None:
        valid = attention_mask.to(device=device, dtype=torch.bool)[:, -seq:]
        starts[:, 1:] |= valid[:, 1:] & ~valid[:, :-1]
        if not bool(valid.all()):
            keep = valid.reshape(-1).nonzero().squeeze(1)
    flat_starts = starts.reshape(-1) if keep is None else starts.reshape(-1)[keep]
    total = flat_starts.numel()
    begin = flat_starts.nonzero().squeeze(1)
    cu = torch.cat([begin, torch.tensor([total], device=device)]).to(torch.int32)
    max_len = int((cu[1:] - cu[:-1]).max()) if total else 0
    return cu, max_len, keep


def _segments_cached(position_ids, attention_mask, batch, seq, device):
    key = (position_ids, attention_mask, batch, seq)
    hit = _cache.get("key")
    if hit is not None and all(a is b for a, b in zip(hit[:2], key[:2])) and hit[2:4] == key[2:4] and \
            hit[4] == _versions(position_ids, attention_mask):
        return _cache["value"]
    value = packing_segments(position_ids, attention_mask, batch, seq, device)
    _cache["key"] = (*key, _versions(position_ids, attention_mask))
    _cache["value"] = value
    return value


def _versions(*tensors):
    return tuple(None if t is None else t._version for t in tensors)


@functools.lru_cache(maxsize=None)
def _native_gqa(device: torch.device) -> bool:
    """Whether this PyTorch's varlen kernel takes fewer key/value heads than query heads
    without saying so in its signature (the flash kernel underneath does). Checked once on a
    tiny input against repeated key/value heads."""
    varlen_attn, params = _varlen()
    gen = torch.Generator(device="cpu").manual_seed(0)
    q, k, v = (torch.randn(16, h, 64, generator=gen).to(device, torch.bfloat16) for h in (4, 2, 2))
    cu = torch.tensor([0, 7, 16], dtype=torch.int32, device=device)
    causal = {"is_causal": True} if "is_causal" in params else {"window_size": (-1, 0)}
    try:
        native = varlen_attn(q, k, v, cu, cu, 9, 9, **causal)
    except Exception:
        return False
    repeated = varlen_attn(q, k.repeat_interleave(2, 1), v.repeat_interleave(2, 1), cu, cu, 9, 9, **causal)
    return bool(torch.allclose(native.float(), repeated.float(), atol=1e-2))


def _sdpa_fallback(module, query, key, value, attention_mask, dropout, scaling, position_ids):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    q_len, k_len = query.shape[2], key.shape[2]
    mask = torch.ones(q_len, k_len, dtype=torch.bool, device=query.device).tril(diagonal=k_len - q_len)
    mask = mask[None, None]
    if q_len == k_len and position_ids is not None:
        # Block-diagonal over packed samples: token j is visible to i only within one sample.
        pos = position_ids.to(query.device).expand(query.shape[0], q_len)
        sample = torch.cumsum(torch.cat([torch.ones_like(pos[:, :1]), (pos[:, 1:] != pos[:, :-1] + 1).long()], 1), 1)
        mask = mask & (sample[:, None, :, None] == sample[:, None, None, :])
    if attention_mask is not None and attention_mask.dim() == 2:
        mask = mask & attention_mask[:, None, None, -k_len:].to(device=query.device, dtype=torch.bool)
    return sdpa_attention_forward(module, query, key, value, mask, dropout=dropout, scaling=scaling, is_causal=False)


def packed_varlen_attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None,
                            position_ids=None, **kwargs):
    """transformers attention interface: q [B, H, S, D], k/v [B, Hkv, S, D] -> ([B, S, H, D], None)."""
    batch, heads, seq, dim = query.shape
    kv_heads = key.shape[1]
    found = _varlen()
    usable = (found is not None and query.is_cuda and dropout == 0.0 and key.shape[2] == seq
              and query.dtype in (torch.float16, torch.bfloat16))
    if usable:
        varlen_attn, params = found
        default_scale = dim ** -0.5
        if scaling is not None and abs(scaling - default_scale) > 1e-12 and "scale" not in params:
            usable = False
    if not usable:
        return _sdpa_fallback(module, query, key, value, attention_mask, dropout, scaling, position_ids)

    cu, max_len, keep = _segments_cached(position_ids, attention_mask, batch, seq, query.device)
    if keep is None and cu.numel() == batch + 1:
        # One whole sample per row: plain causal sdpa (the flash kernel) is faster than varlen.
        out = torch.nn.functional.scaled_dot_product_attention(
            query, key, value, is_causal=True, scale=scaling, enable_gqa=kv_heads != heads)
        return out.transpose(1, 2), None

    def flat(t: torch.Tensor) -> torch.Tensor:
        t = t.transpose(1, 2).reshape(batch * seq, t.shape[1], dim)
        return t if keep is None else t.index_select(0, keep)

    q, k, v = flat(query), flat(key), flat(value)
    extra = {}
    if kv_heads != heads:
        if "enable_gqa" in params:
            extra["enable_gqa"] = True
        elif not _native_gqa(query.device):
            k = k.repeat_interleave(heads // kv_heads, dim=1)
            v = v.repeat_interleave(heads // kv_heads, dim=1)
    if "scale" in params and scaling is not None:
        extra["scale"] = scaling
    if "is_causal" in params:
        extra["is_causal"] = True
    else:
        extra["window_size"] = (-1, 0)  # newer API: (-1, 0) is causal
    out = varlen_attn(q, k, v, cu, cu, max_len, max_len, **extra)
    if keep is not None:
        full = out.new_zeros(batch * seq, heads, dim)
        out = full.index_copy(0, keep, out)
    return out.view(batch, seq, heads, dim), None


@functools.lru_cache(maxsize=1)
def register_packed_attention() -> str:
    """Make ``packed_varlen`` a transformers attention implementation; returns its name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, flash_attention_mask

    AttentionInterface.register(ATTN_IMPLEMENTATION, packed_varlen_attention)
    # Like flash attention: no 4D mask, only the 2D padding mask when there is padding.
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTN_IMPLEMENTATION, flash_attention_mask)
    return ATTN_IMPLEMENTATION
