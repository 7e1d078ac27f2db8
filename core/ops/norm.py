"""Normalization primitives with fused backward: batch norm over (N, *spatial) per channel, and a row
normalization (zero mean, unit variance per row) that layer, group and instance norm are built on.

Batch norm is one op for forward and backward because it is on every training step of a CNN: the
per-channel sums go through BLAS (a batched gemv against ones, a batched dot for the second moment),
and the elementwise passes write into preallocated arrays, a block of samples at a time so that the
next pass over a block finds it in cache. Backward runs on raw arrays; under
``create_graph=True`` (grad mode on while it runs) the same formulas are recorded from Tensor ops
instead, so that double backward works.
"""

import numpy as np

from ..autograd.function import Op
from ..autograd.grad_mode import is_grad_enabled
from ..backend import array_module
from ..tensor import Tensor
from ._threads import split_map
from .graph_backward import graph_input


def channel_sum(a):
    """Per-channel sum of ``a (N, C, L)`` -> ``(C,)``, through a gemv (faster than a strided reduction)."""
    xp = array_module(a)
    if a.shape[2] == 1:
        return a[:, :, 0].sum(0)
    return xp.matmul(a, xp.ones(a.shape[2], dtype=a.dtype)).sum(0)


def channel_dot(a, b):
    """Per-channel ``sum(a * b)`` of two ``(N, C, L)`` arrays -> ``(C,)``, as batched dot products."""
    if a.shape[2] == 1:
        return (a[:, :, 0] * b[:, :, 0]).sum(0)
    return array_module(a).matmul(a[:, :, None, :], b[:, :, :, None])[:, :, 0, 0].sum(0)


# Elements per block of samples (CPU): 2 MB of float32. On 128x64x32x32 (arrays past glibc's 32 MB mmap
# threshold) blocking made forward+backward 28 -> 24 ms at 1 thread; 512 KB blocks were as fast there but
# ~8% slower at 2 threads (more GIL hand-offs per pass), and on 128x32x32x32 blocking is neutral.
_BLOCK_ELEMS = 1 << 19


def _sample_blocks(xp, a, b, sample_elems):
    """Samples ``[a, b)`` cut into blocks of about ``_BLOCK_ELEMS`` elements (on the CPU; one block on the
    GPU), so that consecutive passes over a block find it in cache instead of going back to memory."""
    step = b - a if xp is not np else max(1, _BLOCK_ELEMS // max(sample_elems, 1))
    return [(s, min(s + step, b)) for s in range(a, b, step)]


def _per_channel(xp, x3, *vectors):
    """``(C,)`` vectors (or None) laid out to broadcast against ``x3 (N, C, L)``: ``(C, 1)``, or on the
    CPU for planes up to 1 MB of float32 ``(C, L)`` copies. numpy then runs one contiguous loop over the
    ``C * L`` elements of a sample instead of one loop of ``L`` per (sample, channel): a multiply on
    128x32x32x32 took 0.50 instead of 1.05 ms, and an affine map 0.80 instead of 1.43 ms (at L = 3136
    1.5x; at 112x112 planes the copies leave L2 and it is not faster)."""
    n, c, length = x3.shape
    expand = xp is np and n > 1 and 1 < length and c * length <= 1 << 18
    return [
        None if v is None else (xp.repeat(v, length).reshape(c, length) if expand else v[:, None])
        for v in vectors
    ]


def _sum_parts(parts):
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return total


class BatchNormOp(Op):
    """``(x - mean) * invstd * weight + bias`` per channel of ``x (N, C, *)``.

    With ``training`` the statistics come from ``x`` (and gradients flow through them); ``stats_out``, a
    list, then receives ``(mean, biased var)`` for the running averages. Otherwise ``mean`` and ``var``
    are the given running statistics. ``affine`` says whether ``weight`` and ``bias`` are inputs.
    The elementwise passes run on slices of the batch in parallel threads (CPU).
    """

    def forward(
        self, x, weight=None, bias=None, training=True, mean=None, var=None, eps=1e-5, stats_out=None
    ):
        xp = array_module(x)
        n, c = x.shape[:2]
        x3 = x.reshape(n, c, -1)
        m = n * x3.shape[2]
        y = xp.empty(x3.shape, dtype=x.dtype)
        if training:
            mean = _sum_parts(split_map(lambda a, b: channel_sum(x3[a:b]), n, x.size, xp)) / m
            (mean_c,) = _per_channel(xp, x3, mean)

            def center(a, b):  # y holds x - mean until it is scaled below
                total = 0
                for s, e in _sample_blocks(xp, a, b, x3[0].size):
                    d = xp.subtract(x3[s:e], mean_c, out=y[s:e])
                    total = total + channel_dot(d, d)  # d is still in cache
                return total

            var = _sum_parts(split_map(center, n, x.size, xp)) / m  # two passes: no cancellation
            if stats_out is not None:
                stats_out.append((mean, var))
        invstd = (1.0 / xp.sqrt(var + eps)).astype(x.dtype, copy=False)
        scale = invstd if weight is None else invstd * weight
        if training:
            shift = bias
            src = y
        else:  # one affine map: x * scale + (bias - mean * scale)
            shift = (-mean * scale) if bias is None else bias - mean * scale
            src = x3
        scale, shift = _per_channel(xp, x3, scale, shift)

        def affine(a, b):
            for s, e in _sample_blocks(xp, a, b, x3[0].size):
                yb = xp.multiply(src[s:e], scale, out=y[s:e])
                if shift is not None:
                    yb += shift  # on the block just written, still in cache

        split_map(affine, n, x.size, xp)
        if self.recording:
            self.training, self.mean, self.invstd, self.affine = training, mean, invstd, weight is not None
            self.eps = eps
            self.save(self.inputs[0], self.inputs[1] if weight is not None else None)
        return y.reshape(x.shape)

    def backward(self, g):
        if is_grad_enabled():
            return self._graph_backward(g)
        x, w = self.saved_values()
        xp = array_module(g._data)
        needs = self.needs_input_grad
        n, c = x.shape[:2]
        x3, g3 = x._data.reshape(n, c, -1), g._data.reshape(n, c, -1)
        m = n * x3.shape[2]
        mean, invstd = self.mean, self.invstd
        scale = invstd if w is None else invstd * w._data
        gx = xp.empty(x3.shape, dtype=g3.dtype) if needs[0] else None

        (mean_c,) = _per_channel(xp, x3, mean)

        def sums(a, b):  # gx holds x - mean until the input gradient overwrites it
            gs = gd = 0
            for s, e in _sample_blocks(xp, a, b, x3[0].size):
                d = xp.subtract(x3[s:e], mean_c, out=None if gx is None else gx[s:e])
                gs, gd = gs + channel_sum(g3[s:e]), gd + channel_dot(g3[s:e], d)
            return gs, gd

        parts = split_map(sums, n, 2 * x3.size, xp)
        gsum = _sum_parts([p[0] for p in parts])
        gdot = _sum_parts([p[1] for p in parts]) * invstd  # sum(g * xhat)
        if gx is not None:
            (scale_c,) = _per_channel(xp, x3, scale)
            if self.training:  # gx = scale * (g - mean(g) - xhat * mean(g * xhat))
                coef_d, coef_1 = _per_channel(xp, x3, -scale * invstd * gdot / m, -scale * gsum / m)

                def input_grad(a, b):
                    # Block by block: the g * scale temporary stays small and in cache.
                    for s, e in _sample_blocks(xp, a, b, x3[0].size):
                        d = gx[s:e]
                        d *= coef_d
                        d += coef_1
                        d += xp.multiply(g3[s:e], scale_c)
            else:

                def input_grad(a, b):
                    xp.multiply(g3[a:b], scale_c, out=gx[a:b])

            split_map(input_grad, n, 2 * x3.size, xp)
            gx = Tensor._wrap(gx.reshape(x.shape))
        grads = [gx]
        if self.affine:
            grads.append(Tensor._wrap(gdot) if needs[1] else None)
            if len(needs) > 2:
                grads.append(Tensor._wrap(gsum) if needs[2] else None)
        return tuple(grads)

    def _graph_backward(self, g):
        """create_graph: the same gradients from recorded Tensor ops (training mode recomputes the
        batch statistics from ``x`` so that their dependence on it is differentiated too)."""
        x, w = self.saved_values()
        needs = self.needs_input_grad
        dims = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        m = x.numel() // x.shape[1]
        if self.training:
            d = x - x.mean(dims, keepdim=True)
            invstd = ((d * d).mean(dims, keepdim=True) + self.eps).rsqrt()
        else:
            d = x - Tensor._wrap(self.mean.reshape(shape))
            invstd = Tensor._wrap(self.invstd.reshape(shape))
        xhat = d * invstd
        scale = invstd if w is None else invstd * w.reshape(shape)
        gdot = (g * xhat).sum(dims)
        gx = None
        if needs[0]:
            if self.training:
                gx = scale * (g - g.sum(dims, keepdim=True) / m - xhat * (gdot.reshape(shape) / m))
            else:
                gx = g * scale
        grads = [gx]
        if self.affine:
            grads.append(gdot if needs[1] else None)
            if len(needs) > 2:
                grads.append(g.sum(dims) if needs[2] else None)
        return tuple(grads)


class RowNormOp(Op):
    """Each row of ``x (R, L)`` normalized to zero mean and unit (biased) variance: ``(x - mean) * invstd``.
    ``stats_out``, a list, receives ``(mean, biased var)`` per row."""

    saves_output = True

    def forward(self, x, eps=1e-5, stats_out=None):
        xp = array_module(x)
        mean = x.mean(axis=1, keepdims=True)
        d = x - mean
        var = xp.mean(d * d, axis=1, keepdims=True)
        if stats_out is not None:
            stats_out.append((mean[:, 0], var[:, 0]))
        invstd = (1.0 / xp.sqrt(var + eps)).astype(x.dtype, copy=False)
        if self.recording:
            self.invstd, self.mean, self.eps = invstd, mean, eps
        return xp.multiply(d, invstd, out=d)

    def backward(self, g):
        if is_grad_enabled():
            return self._graph_backward(g)
        xhat = self.output()._data
        gd = g._data
        # gx = invstd * (g - mean(g) - xhat * mean(g * xhat)), per row
        proj = (gd * xhat).mean(axis=1, keepdims=True)
        gx = gd - gd.mean(axis=1, keepdims=True)
        gx -= xhat * proj
        gx *= self.invstd
        return Tensor._wrap(gx)

    def _graph_backward(self, g):
        """create_graph: the row statistics recomputed from the input (rebuilt from the saved output,
        mean and invstd, and attached to the input's place in the graph) with recorded Tensor ops."""
        xhat = self.output()._data
        x = graph_input(self, 0, xhat / self.invstd + self.mean)
        d = x - x.mean(1, keepdim=True)
        invstd = ((d * d).mean(1, keepdim=True) + self.eps).rsqrt()
        xhat = d * invstd
        return invstd * (g - g.mean(1, keepdim=True) - xhat * (g * xhat).mean(1, keepdim=True))
