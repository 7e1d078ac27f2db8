"""``embedding_bag``: sums, means or maxima of bags of embedding rows without the intermediate
``(bags, len, dim)`` tensor for sum/mean (one ``(bags, n)`` weighting matrix times the looked-up rows),
so per-sample weights get their gradient too. Rows at ``padding_idx`` are left out of their bag."""
import numpy as np

from ... import creation
from ...autograd.node_names import label
from ...ops import elementwise as ew
from ...ops import movement as mv
from ...tensor import Tensor
from .embedding import embedding

__all__ = ["embedding_bag"]


def _ints(t):
    return np.asarray(t.detach().cpu().numpy() if isinstance(t, Tensor) else t, dtype=np.int64)


def _bags(input, offsets, include_last_offset):
    """Flat indices and the bag of each, and the number of bags."""
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a "
                             "mini-batch of fixed length sequences. However, found offsets of type Tensor")
        b, n = input.shape
        return input.reshape(-1), np.repeat(np.arange(b), n), b
    if input.ndim != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
    if offsets is None:
        raise ValueError("offsets has to be a 1D Tensor but got None")
    off = _ints(offsets)
    if off.ndim != 1:
        raise ValueError("offsets has to be a 1D Tensor")
    n = input.shape[0]
    if off.size and off[0] != 0:
        raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
                           f"from position 0. However, got {off[0]}")
    starts = off[:-1] if include_last_offset else off
    ends = np.append(starts[1:], off[-1] if include_last_offset else n) if starts.size else starts
    bag_of = np.zeros(n, dtype=np.int64)
    for b, (s, e) in enumerate(zip(starts, ends)):
        bag_of[s:e] = b
    return input, bag_of, starts.size


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None):
    """Reduce bags of rows of ``weight (num_embeddings, dim)``: ``input (B, L)`` holds B bags of L indices,
    or ``input (n,)`` with ``offsets (B,)`` where each bag starts. ``mode`` 'sum', 'mean' or 'max';
    ``per_sample_weights`` (shaped like ``input``) scale rows in 'sum' mode. Output ``(B, dim)``; an empty
    bag gives zeros."""
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, got {mode!r}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(
                f"embedding_bag: per_sample_weights was not None. per_sample_weights is only supported for "
                f"mode='sum' (got mode='{mode}'). Please open a feature request on GitHub.")
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ValueError(f"embedding_bag: If per_sample_weights ({tuple(per_sample_weights.shape)}) is "
                             f"not None, then it must have the same shape as the input "
                             f"({tuple(input.shape)})")
    flat, bag_of, n_bags = _bags(input, offsets, include_last_offset)
    num = weight.shape[0]
    if padding_idx is not None:
        padding_idx = padding_idx % num
    rows = embedding(flat, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse)
    idx = _ints(flat)
    valid = np.ones(idx.size, bool) if padding_idx is None else idx != padding_idx
    counts = np.bincount(bag_of[valid], minlength=n_bags)
    if mode == "max":
        out = _max_bag(rows, idx, valid, bag_of, counts, n_bags, weight)
        return label(out, "EmbeddingBagBackward0", weight)
    out = _mixed(rows, idx, valid, bag_of, counts, n_bags, mode, per_sample_weights, weight)
    return label(out, "EmbeddingBagBackward0", weight, per_sample_weights)


def _max_bag(rows, idx, valid, bag_of, counts, n_bags, weight):
    """Per-bag maxima, gathered into ``(bags, longest)`` with -inf filling the short bags."""
    dev = weight.device
    width = max(int(counts.max()) if counts.size else 0, 1)
    gather = np.full((n_bags, width), idx.size, dtype=np.int64)  # points at a -inf row by default
    fill = np.zeros(n_bags, dtype=np.int64)
    for i in np.nonzero(valid)[0]:
        b = bag_of[i]
        gather[b, fill[b]] = i
        fill[b] += 1
    low = creation.full((1, weight.shape[1]), float("-inf"), dtype=weight.dtype, device=dev)
    best = mv.cat([rows, low], 0)[Tensor._wrap(gather).to(dev)].amax(1)
    return ew.where(Tensor._wrap((counts > 0)[:, None]).to(dev), best, 0.0)


def _mixed(rows, idx, valid, bag_of, counts, n_bags, mode, per_sample_weights, weight):
    """Sum or mean bags as one ``(bags, n)`` weighting matrix times the looked-up rows."""
    dev, dt = weight.device, weight._data.dtype
    mix = np.zeros((n_bags, idx.size), dtype=dt)
    mix[bag_of[valid], np.nonzero(valid)[0]] = 1
    if mode == "mean":
        mix /= np.maximum(counts, 1)[:, None].astype(dt)
    mix = Tensor._wrap(mix).to(dev)
    if per_sample_weights is not None:
        mix = mix * per_sample_weights.reshape(1, -1)
    return mix @ rows
