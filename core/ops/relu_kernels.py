"""ReLU's forward and first-order backward as raw array passes, as fast as numpy allows.

``numpy.maximum(x, 0)`` against a scalar runs a slow loop in numpy 2.x: 443 us for 1.2M float32 values,
where ``numpy.clip(x, 0, inf)`` (a SIMD loop, NaN kept as NaN like ``maximum``) takes 131 us. The
backward passes ``g`` where ``y <= 0`` is false (PyTorch's rule, so NaN outputs pass it), the large case
with the mask written in the gradient's own dtype (no bool-to-float cast inside the multiply). Both
split large arrays across the op pool's threads.
"""

import numpy as np

from ..backend import array_module
from ._threads import split_map

# Below these sizes one plain call: a split's hand-off to the pool thread and back costs 50-100 us on a
# virtual machine whose idle cores sleep (measured on 2-core cloud VMs), and clip runs ~7 values/ns, so
# the forward gains from two threads only from ~1.5M values (1M: 209 us plain, 256 us split; 2M: 350 vs
# 293), the three-pass backward from ~1M (1M: 461 vs 477; 2M: 1036 vs 631).
_SPLIT_ELEMS = 1 << 21
_SPLIT_GRAD_ELEMS = 1 << 20
_CLIP_ELEMS = 1 << 14  # from here clip's faster loop repays its call overhead (measured 4k: not yet)


def relu(a, out=None):
    """``max(a, 0)`` (NaN stays NaN), into ``out`` when given (may be ``a`` itself)."""
    xp = array_module(a)
    if a.dtype.kind != "f" or a.size < _CLIP_ELEMS:  # numpy.clip's own call costs ~3 us: not for small
        return xp.maximum(a, 0, out=out)
    if out is None:
        out = xp.empty_like(a)
    zero, inf = a.dtype.type(0), a.dtype.type(np.inf)
    if a.size < _SPLIT_ELEMS or xp is not np or not a.flags.c_contiguous or not out.flags.c_contiguous:
        return xp.clip(a, zero, inf, out=out)
    flat_a, flat_out = a.reshape(-1), out.reshape(-1)

    def part(s, e):
        np.clip(flat_a[s:e], zero, inf, out=flat_out[s:e])

    split_map(part, flat_a.size, flat_a.size)
    return out


def relu_grad(g, y):
    """``g`` where ReLU's output ``y`` is not ``<= 0``, else 0 (PyTorch's rule: NaN outputs pass ``g``)."""
    xp = array_module(g)
    if g.size < _SPLIT_GRAD_ELEMS or xp is not np or g.dtype.kind != "f" or g.shape != y.shape \
            or not (g.flags.c_contiguous and y.flags.c_contiguous):  # fewest calls, no thread hand-off
        return g * xp.logical_not(y <= 0)
    out = np.empty_like(g)
    flat_g, flat_y, flat_out = g.reshape(-1), y.reshape(-1), out.reshape(-1)

    def part(s, e):
        mask = flat_out[s:e]
        np.less_equal(flat_y[s:e], 0, out=mask)  # 1.0 where no gradient passes, in the gradient's dtype
        np.subtract(1, mask, out=mask)  # as PyTorch: zero where y <= 0, so a NaN output passes g through
        np.multiply(mask, flat_g[s:e], out=mask)

    split_map(part, flat_g.size, flat_g.size)
    return out
