"""A scatter/gather pair over image planes: the differentiable backward of max pooling.

Max pooling's gradient sends each output's gradient to the input element that won its window: a scatter
by flat plane index. Its derivative with respect to that gradient is the matching gather, and the
gather's is the scatter again, so the two ops are each other's backward and double backward works to
any order. Only ``create_graph`` backward passes use them; first-order training keeps pool.py's
raw-array routing.

Indices are flat positions in a *canvas* of ``canvas_hw`` per plane (a padded input, so that a window
that won in the padding needs no special case); ``crop = (top, left, h, w)`` is where the image sits.
"""

import numpy as np

from ..autograd.function import Op
from ..backend import array_module


def _flat_index(xp, idx, planes, canvas):
    """``idx (..., Ho, Wo)`` per plane -> indices into all planes' canvases laid end to end."""
    return idx.reshape(planes, -1) + (xp.arange(planes, dtype=np.int64) * canvas).reshape(-1, 1)


class PlaneScatterOp(Op):
    """``g (..., Ho, Wo)`` summed into zero canvases at ``idx``, cropped to ``(..., h, w)``."""

    def forward(self, g, idx=None, canvas_hw=None, crop=None):
        xp = array_module(g)
        self.attrs = dict(idx=idx, canvas_hw=canvas_hw, crop=crop)
        lead = g.shape[:-2]
        planes = int(np.prod(lead, dtype=np.int64))
        canvas = canvas_hw[0] * canvas_hw[1]
        flat = _flat_index(xp, idx, planes, canvas).reshape(-1)
        out = xp.bincount(flat, weights=g.reshape(-1), minlength=planes * canvas).astype(g.dtype)
        top, left, h, w = crop
        out = out.reshape(lead + tuple(canvas_hw))[..., top : top + h, left : left + w]
        return xp.ascontiguousarray(out)

    def backward(self, gg):
        return PlaneGatherOp.apply(gg, **self.attrs)


class PlaneGatherOp(Op):
    """``x (..., h, w)`` placed in zero canvases, read at ``idx`` -> ``(..., Ho, Wo)``."""

    def forward(self, x, idx=None, canvas_hw=None, crop=None):
        xp = array_module(x)
        self.attrs = dict(idx=idx, canvas_hw=canvas_hw, crop=crop)
        lead = x.shape[:-2]
        top, left, h, w = crop
        full = xp.zeros(lead + tuple(canvas_hw), dtype=x.dtype)
        full[..., top : top + h, left : left + w] = x
        planes = int(np.prod(lead, dtype=np.int64))
        flat = _flat_index(xp, idx, planes, canvas_hw[0] * canvas_hw[1]).reshape(-1)
        return full.reshape(-1)[flat].reshape(lead + idx.shape[-2:])

    def backward(self, gg):
        return PlaneScatterOp.apply(gg, **self.attrs)
