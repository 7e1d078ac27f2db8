"""Normalization primitives with fused backward: batch norm over (N, *spatial) per channel, and a row
normalization (zero mean, unit variance per row) that layer, group and instance norm are built on.

Batch norm is one op for forward and backward because it is on every training step of a CNN: the
per-channel sums go through BLAS (a batched gemv against ones, a batched dot for the second moment),
and the elementwise passes write into preallocated arrays. Backward runs on raw arrays, so these ops
do not support double backward.
"""
from ..autograd.function import Op
from ..autograd.grad_mode import _enabled
from ..backend import array_module
from ..tensor import Tensor


def _no_double_backward(name):
    if _enabled[0]:
        raise RuntimeError(f"{name}: double backward (create_graph=True) is not supported; its backward "
                           f"runs on raw arrays for speed")


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


def batch_stats(x3):
    """``(mean, biased var, centered x)`` per channel of ``x3 (N, C, L)``; the centered copy is reused."""
    m = x3.shape[0] * x3.shape[2]
    mean = channel_sum(x3) / m
    d = x3 - mean[:, None]
    var = channel_dot(d, d) / m
    return mean, var, d


class BatchNormOp(Op):
    """``(x - mean) * invstd * weight + bias`` per channel of ``x (N, C, *)``.

    With ``training`` the statistics come from ``x`` (and gradients flow through them); ``stats_out``, a
    list, then receives ``(mean, biased var)`` for the running averages. Otherwise ``mean`` and ``var``
    are the given running statistics. ``affine`` says whether ``weight`` and ``bias`` are inputs.
    """

    def forward(self, x, weight=None, bias=None, training=True, mean=None, var=None, eps=1e-5,
                stats_out=None):
        xp = array_module(x)
        n, c = x.shape[:2]
        x3 = x.reshape(n, c, -1)
        if training:
            mean, var, d = batch_stats(x3)
            if stats_out is not None:
                stats_out.append((mean, var))
        else:
            d = x3 - mean[:, None]
        invstd = 1.0 / xp.sqrt(var + eps)
        invstd = invstd.astype(x.dtype, copy=False)
        scale = invstd if weight is None else invstd * weight
        y = xp.multiply(d, scale[:, None], out=d)
        if bias is not None:
            y += bias[:, None]
        if self.recording:
            self.training, self.mean, self.invstd, self.affine = training, mean, invstd, weight is not None
            self.save(self.inputs[0], self.inputs[1] if weight is not None else None)
        return y.reshape(x.shape)

    def backward(self, g):
        _no_double_backward("batch_norm")
        x, w = self.saved_values()
        xp = array_module(g._data)
        needs = self.needs_input_grad
        n, c = x.shape[:2]
        x3, g3 = x._data.reshape(n, c, -1), g._data.reshape(n, c, -1)
        m = x3.shape[0] * x3.shape[2]
        invstd = self.invstd
        scale = invstd if w is None else invstd * w._data
        d = x3 - self.mean[:, None]  # x - mean, reused as the buffer for the input gradient
        gsum = channel_sum(g3)
        gdot = channel_dot(g3, d) * invstd  # sum(g * xhat)
        gx = None
        if needs[0]:
            if self.training:  # gx = scale * (g - mean(g) - xhat * mean(g * xhat))
                xp.multiply(d, (-scale * invstd * gdot / m)[:, None], out=d)
                d += (-scale * gsum / m)[:, None]
                d += g3 * scale[:, None]
                gx = d
            else:
                gx = g3 * scale[:, None]
            gx = Tensor._wrap(gx.reshape(x.shape))
        grads = [gx]
        if self.affine:
            grads.append(Tensor._wrap(gdot) if needs[1] else None)
            if len(needs) > 2:
                grads.append(Tensor._wrap(gsum) if needs[2] else None)
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
            self.invstd = invstd
        return xp.multiply(d, invstd, out=d)

    def backward(self, g):
        _no_double_backward("layer_norm/group_norm")
        xhat = self.output()._data
        gd = g._data
        # gx = invstd * (g - mean(g) - xhat * mean(g * xhat)), per row
        proj = (gd * xhat).mean(axis=1, keepdims=True)
        gx = gd - gd.mean(axis=1, keepdims=True)
        gx -= xhat * proj
        gx *= self.invstd
        return Tensor._wrap(gx)
