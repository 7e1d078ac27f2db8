"""Attention, as in ``torch.nn.functional``: ``scaled_dot_product_attention`` and the multi-head attention
forward pass behind ``nn.MultiheadAttention``.

Mask conventions follow PyTorch, which differ between the two: for ``scaled_dot_product_attention`` a
boolean ``attn_mask`` is True where attention is *allowed*; for multi-head attention a boolean
``attn_mask`` / ``key_padding_mask`` is True where it is *blocked*. Float masks are added to the scores.
"""
import math

import numpy as np

from ...amp_state import autocast_op
from ...backend import array_module
from ...ops import movement as mv
from ...ops import reduce as red
from ...tensor import Tensor
from .dropout import dropout
from .linear import linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _additive_mask(mask, blocked_when, dtype, name):
    """A float mask to add to the scores: bool masks become 0 / -inf (``blocked_when`` marks -inf)."""
    if mask is None:
        return None
    kind = mask._data.dtype.kind
    if kind == "b":
        blocked = mask._data if blocked_when else ~mask._data
        xp = array_module(blocked)
        return Tensor._wrap(xp.where(blocked, -np.inf, 0).astype(dtype.np))
    if kind != "f":
        raise TypeError(f"only bool and floating types of {name} are supported, got {mask.dtype}")
    return mask if mask.dtype == dtype else mask.to(dtype)


def _check_sdpa_inputs(query, key, value, attn_mask, is_causal, enable_gqa):
    """PyTorch's argument checks for scaled_dot_product_attention, with its messages."""
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise RuntimeError("Expected query, key, and value to all be  at least 2 dimensional, but got "
                           f"query.dim: {query.ndim} key.dim: {key.ndim} and value.dim: {value.ndim} "
                           "instead.")
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{query.dtype} key.dtype: {key.dtype} and value.dtype: {value.dtype} instead.")
    if not query.is_floating_point():
        raise RuntimeError(f"scaled_dot_product_attention: query, key and value must be floating point, "
                           f"got {query.dtype}")
    if attn_mask is not None:
        if is_causal:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when "
                               "is_causal=True")
        kind = attn_mask._data.dtype.kind
        if kind != "b" and attn_mask._data.dtype != np.float32 and attn_mask.dtype != query.dtype:
            raise RuntimeError("Expected attn_mask dtype to be bool or float or to match query dtype, but "
                               f"got attn_mask.dtype: {attn_mask.dtype} and  query.dtype: {query.dtype} "
                               "instead.")
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3:
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hq % hk or hq % hv:
            raise RuntimeError("Number of heads in key and value must divide the number of heads in query "
                               f"(query: {hq}, key: {hk}, value: {hv})")


def _safe_softmax(scores):
    """Softmax over the last dim where a row whose scores are all -inf (every key masked) gives zeros, not
    NaN, as PyTorch's SDPA does; the gradient through such a row is zero."""
    xp = array_module(scores._data)
    dead = xp.isneginf(scores._data.max(axis=-1, keepdims=True))
    if not dead.any():
        return red.softmax(scores, -1)
    dead_t = Tensor._wrap(dead)
    weights = red.softmax(scores.masked_fill(dead_t, 0.0), -1)
    return weights.masked_fill(dead_t, 0.0)


@autocast_op("scaled_dot_product_attention")
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False):
    """softmax(Q K^T * scale + mask) V, as ``torch.nn.functional.scaled_dot_product_attention``.

    Args:
        query: ``(..., L, E)``; key: ``(..., S, E)``; value: ``(..., S, Ev)`` (leading dims broadcast).
        attn_mask: bool (True where attention is *allowed*) or float (added to the scores), broadcastable to
            ``(..., L, S)``; a float mask is float32 or the query's dtype.
        dropout_p: dropout on the attention weights, always applied when > 0 (pass 0.0 in eval mode).
        is_causal: each query sees only keys at or before its position (top-left aligned when L != S).
        scale: defaults to ``1/sqrt(E)``.
        enable_gqa: grouped-query attention: key/value heads (dim -3) are repeated to the query's head count.
    Returns ``(..., L, Ev)``. A query whose keys are all masked gets zeros (not NaN).
    """
    _check_sdpa_inputs(query, key, value, attn_mask, is_causal, enable_gqa)
    L, S = query.shape[-2], key.shape[-2]
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3:
        if key.shape[-3] != query.shape[-3]:
            key = _repeat_heads(key, query.shape[-3] // key.shape[-3])
        if value.shape[-3] != query.shape[-3]:
            value = _repeat_heads(value, query.shape[-3] // value.shape[-3])
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query * scale) @ key.transpose(-2, -1)
    if is_causal:
        xp = array_module(query._data)
        attn_mask = Tensor._wrap(xp.tril(xp.ones((L, S), dtype=bool)))
    mask = _additive_mask(attn_mask, False, scores.dtype, "attn_mask")
    if mask is None:
        weights = red.softmax(scores, -1)
    else:
        weights = _safe_softmax(scores + mask)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return weights @ value


def _repeat_heads(x, groups):
    """(..., H_kv, S, E) -> (..., H_kv * groups, S, E), each head repeated ``groups`` times in a row."""
    shape = x.shape
    x = x.unsqueeze(-3).expand(*shape[:-2], groups, *shape[-2:])
    return x.reshape(*shape[:-3], shape[-3] * groups, *shape[-2:])


def _in_projection(query, key, value, embed_dim, w, b, separate, q_w, k_w, v_w):
    if not separate:
        if w is None:
            raise RuntimeError("multi_head_attention_forward: in_proj_weight is required when "
                               "use_separate_proj_weight is False")
        if query is key and key is value:  # self-attention: one product for q, k and v
            return linear(query, w, b).chunk(3, -1)
        q_w, k_w, v_w = w[:embed_dim], w[embed_dim:2 * embed_dim], w[2 * embed_dim:]
    bq = bk = bv = None
    if b is not None:
        bq, bk, bv = b[:embed_dim], b[embed_dim:2 * embed_dim], b[2 * embed_dim:]
    return linear(query, q_w, bq), linear(key, k_w, bk), linear(value, v_w, bv)


def _pad_last(mask, width=1):
    """Append ``width`` zero columns (never-masked) to the last dim of a float mask."""
    if mask is None:
        return None
    return mv.pad(mask, (0, width))


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight,
                                 in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight,
                                 out_proj_bias, training=True, key_padding_mask=None, need_weights=True,
                                 attn_mask=None, use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None, static_v=None,
                                 average_attn_weights=True, is_causal=False):
    """Multi-head attention on sequence-first inputs: query ``(L, N, E)``, key/value ``(S, N, E_k/E_v)``
    (or unbatched ``(L, E)``). Returns ``(output (L, N, E), weights)`` with weights ``(N, L, S)`` averaged
    over heads (``(N, heads, L, S)`` otherwise) or None when ``need_weights`` is False."""
    if static_k is not None or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward: static_k / static_v are not supported")
    batched = query.ndim == 3
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise AssertionError(f"query, key and value must all be 3-D (batched) or 2-D (unbatched), got "
                             f"{query.ndim}-D, {key.ndim}-D and {value.ndim}-D")
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got "
                             f"{embed_dim}")
    if embed_dim % num_heads:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    head_dim = embed_dim // num_heads
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer "
                           "module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    dtype = query.dtype
    key_padding_mask = _additive_mask(key_padding_mask, True, dtype, "key_padding_mask")
    attn_mask = _additive_mask(attn_mask, True, dtype, "attn_mask")
    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {list(attn_mask.shape)}, but should be "
                                   f"{[tgt_len, src_len]}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.ndim == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {list(attn_mask.shape)}, but should be "
                                   f"{[bsz * num_heads, tgt_len, src_len]}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")
    if key_padding_mask is not None and tuple(key_padding_mask.shape) != (bsz, src_len):
        raise AssertionError(f"Expected key_padding_mask of shape {[bsz, src_len]}, got "
                             f"{list(key_padding_mask.shape)}")

    q, k, v = _in_projection(query, key, value, embed_dim, in_proj_weight, in_proj_bias,
                             use_separate_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight)
    if bias_k is not None and bias_v is not None:
        k = mv.cat([k, bias_k.expand(1, bsz, embed_dim)], 0)
        v = mv.cat([v, bias_v.expand(1, bsz, embed_dim)], 0)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    # (len, N, E) -> (N * heads, len, head_dim)
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    if add_zero_attn:
        k = mv.cat([k, k.new_zeros(bsz * num_heads, 1, head_dim)], 1)
        v = mv.cat([v, v.new_zeros(bsz * num_heads, 1, head_dim)], 1)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    s = k.shape[1]
    if key_padding_mask is not None:
        kpm = key_padding_mask.reshape(bsz, 1, 1, s).expand(bsz, num_heads, 1, s)
        kpm = kpm.reshape(bsz * num_heads, 1, s)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm

    scores = (q * (1.0 / math.sqrt(head_dim))) @ k.transpose(-2, -1)
    if attn_mask is None:
        weights = red.softmax(scores, -1)
    elif need_weights:
        weights = red.softmax(scores + attn_mask, -1)
    else:  # PyTorch hands this case to scaled_dot_product_attention: fully masked rows give zeros, not NaN
        weights = _safe_softmax(scores + attn_mask)
    if dropout_p > 0.0 and training:
        weights = dropout(weights, dropout_p, training=True)
    out = (weights @ v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    if not batched:
        out = out.squeeze(1)
    if not need_weights:
        return out, None
    weights = weights.reshape(bsz, num_heads, tgt_len, s)
    if average_attn_weights:
        weights = weights.mean(1)
    if not batched:
        weights = weights.squeeze(0)
    return out, weights

