"""Embedding lookup and one-hot encoding, as in ``torch.nn.functional``."""
import numpy as np

from ...autograd.function import Op
from ...autograd.grad_mode import no_grad
from ...autograd.versions import bump_version
from ...backend import array_module
from ...ops.indexing import IndexAdd, one_hot  # noqa: F401  (F.one_hot lives in the indexing ops)
from ...tensor import Tensor

__all__ = ["embedding", "one_hot"]


class Embedding(Op):
    """``weight[indices]``; the gradient skips ``padding_idx`` rows and may be scaled by 1 / frequency."""

    def forward(self, weight, indices=None, padding_idx=None, scale_grad_by_freq=False):
        if self.recording:
            self.indices, self.shape = indices, weight.shape
            self.padding_idx, self.scale_grad_by_freq = padding_idx, scale_grad_by_freq
        return weight[indices]

    def backward(self, g):
        idx = self.indices
        xp = array_module(idx)
        scale = None
        if self.padding_idx is not None:
            scale = (idx != self.padding_idx).astype(g._data.dtype)
        if self.scale_grad_by_freq:
            counts = xp.bincount(idx.reshape(-1), minlength=self.shape[0])
            freq = (1.0 / counts[idx]).astype(g._data.dtype)
            scale = freq if scale is None else scale * freq
        if scale is not None:
            g = g * Tensor._wrap(scale[..., None])
        return IndexAdd.apply(g, in_shape=self.shape, index=(idx,))


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight (num_embeddings, dim)`` picked by integer ``input (*)``: output ``(*, dim)``.

    ``padding_idx`` rows get no gradient; ``max_norm`` renormalises the looked-up rows of ``weight`` in place
    so their ``norm_type``-norm is at most ``max_norm``.
    """
    if not isinstance(input, Tensor) or input._data.dtype.kind not in "iu":
        kind = input.dtype if isinstance(input, Tensor) else type(input).__name__
        raise TypeError(f"embedding(): indices must be an integer (int64 or int32) Tensor, got {kind}")
    if weight.ndim != 2:
        raise RuntimeError(f"embedding(): weight must be 2-D (num_embeddings, embedding_dim), got shape "
                           f"{list(weight.shape)}")
    if sparse:
        raise NotImplementedError("embedding(): sparse gradients are not supported; use sparse=False")
    n = weight.shape[0]
    idx = input._data
    xp = array_module(weight._data)
    if array_module(idx) is not xp:
        idx = xp.asarray(input.__array__())
    if idx.size:  # as PyTorch: negative indices are errors here, not counted from the end
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise IndexError(f"index out of range in self: embedding(): index {bad} is out of range for "
                             f"{n} embeddings (indices must lie in [0, {n}))")
    idx = idx.astype(np.int64, copy=False)
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding(): padding_idx must be within [-{n}, {n - 1}], got {padding_idx}")
        padding_idx = padding_idx % n
    if max_norm is not None:
        _renorm_rows(weight, idx, max_norm, norm_type)
    return Embedding.apply(weight, indices=idx, padding_idx=padding_idx,
                           scale_grad_by_freq=scale_grad_by_freq)


@no_grad()
def _renorm_rows(weight, idx, max_norm, norm_type):
    xp = array_module(weight._data)
    rows = xp.unique(idx.reshape(-1))
    w = weight._data[rows]
    norms = (xp.abs(w) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
    weight._data[rows] = w * scale[:, None]
    bump_version(weight)
