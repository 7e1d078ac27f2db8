"""The temporal half of 3-D convolution and pooling: windows along the depth (time) axis.

A 3-D convolution with kernel ``(kt, kh, kw)`` is a 2-D convolution whose channels are the ``kt`` frames
each output frame reads, stacked: unfolding ``x (N, C, T, H, W)`` along time into
``(N*To, C*kt, H, W)`` and reshaping the weight ``(O, C/g, kt, kh, kw)`` to ``(O, C/g*kt, kh, kw)``
gives exactly the 3-D column matrix (``K = C/g*kt*kh*kw``) to the fast phase-plane im2col + GEMM of
``conv.py``. The unfold copies the input ``kt`` times (im2col copies it ``kt*kh*kw`` times anyway), and
its adjoint, the fold, is the temporal half of the transposed convolution and of the input gradient.

``TemporalWindows`` describes the windows; ``TemporalUnfoldOp`` and ``TemporalFoldOp`` are each other's
backward, so gradients of any order through them are exact.
"""

import numpy as np

from ..autograd.function import Op
from ..backend import array_module
from ._threads import split_map
from .conv import ConvGeometry


class TemporalWindows:
    """``n_out`` windows of ``k`` taps over an axis of length ``size``: output ``t``, tap ``i`` reads frame
    ``t*stride - lo + i*dilation`` (frames outside ``[0, size)`` read as the fill value)."""

    def __init__(self, size, k, stride, dilation, lo, n_out):
        self.size, self.k, self.stride, self.dilation = size, k, stride, dilation
        self.lo, self.n_out = lo, n_out

    def tap(self, i):
        """For tap ``i``: (first output, end output, first source frame) of the in-range outputs."""
        s, base = self.stride, i * self.dilation - self.lo
        t0 = max(0, -(base // s))  # ceil(-base / s)
        t1 = min(self.n_out, (self.size - 1 - base) // s + 1) if self.size - 1 - base >= 0 else 0
        t1 = max(t0, t1)
        return t0, t1, t0 * s + base


def unfold_raw(x, win, fill=0.0, time_major=True):
    """``x (N, C, T, *rest)`` -> ``(N, To, C, kt, *rest)`` (``time_major``, the convolution's batch order)
    or ``(N, C, To, kt, *rest)`` (pooling's)."""
    xp = array_module(x)
    n, c, rest = x.shape[0], x.shape[1], x.shape[3:]
    shape = (n, win.n_out, c, win.k) + rest if time_major else (n, c, win.n_out, win.k) + rest
    out = xp.empty(shape, dtype=x.dtype)
    taps = [win.tap(i) for i in range(win.k)]

    def part(c0, c1):
        for i, (t0, t1, s0) in enumerate(taps):
            if time_major:
                dst = out[:, :, c0:c1, i]
                src = x[:, c0:c1, s0 : s0 + (t1 - t0 - 1) * win.stride + 1 : win.stride].swapaxes(1, 2)
                dst_valid, before, after = dst[:, t0:t1], dst[:, :t0], dst[:, t1:]
            else:
                dst = out[:, c0:c1, :, i]
                src = x[:, c0:c1, s0 : s0 + (t1 - t0 - 1) * win.stride + 1 : win.stride]
                dst_valid, before, after = dst[:, :, t0:t1], dst[:, :, :t0], dst[:, :, t1:]
            if t1 > t0:
                dst_valid[...] = src
            before[...] = fill
            after[...] = fill

    split_map(part, c, out.size, xp)
    return out


def fold_raw(z, win, time_major=True):
    """Adjoint of ``unfold_raw`` (zero fill): sums each window tap back into its frame ->
    ``(N, C, T, *rest)``."""
    xp = array_module(z)
    if time_major:
        n, _, c, _ = z.shape[:4]
    else:
        n, c = z.shape[:2]
    rest = z.shape[4:]
    y = xp.zeros((n, c, win.size) + rest, dtype=z.dtype)
    taps = [win.tap(i) for i in range(win.k)]
    # Windows that do not overlap (stride >= span) write each frame at most once: assign, not add.
    disjoint = win.dilation * (win.k - 1) < win.stride

    def part(c0, c1):
        for i, (t0, t1, s0) in enumerate(taps):
            if t1 <= t0:
                continue
            dst = y[:, c0:c1, s0 : s0 + (t1 - t0 - 1) * win.stride + 1 : win.stride]
            src = z[:, t0:t1, c0:c1, i].swapaxes(1, 2) if time_major else z[:, c0:c1, t0:t1, i]
            if disjoint:
                dst[...] = src
            else:
                dst += src

    split_map(part, c, z.size, xp)
    return y


class TemporalUnfoldOp(Op):
    """``x (N, C, T, ...)`` -> its temporal windows (see ``unfold_raw``); backward folds."""

    def forward(self, x, win=None, fill=0.0, time_major=True):
        if self.recording:
            self.win, self.time_major = win, time_major
        return unfold_raw(x, win, fill, time_major)

    def backward(self, g):
        return TemporalFoldOp.apply(g, win=self.win, time_major=self.time_major)


class TemporalFoldOp(Op):
    """Windows ``(N, To, C, kt, ...)`` summed back into frames ``(N, C, T, ...)``; backward unfolds."""

    def forward(self, z, win=None, time_major=True):
        if self.recording:
            self.win, self.time_major = win, time_major
        return fold_raw(z, win, time_major)

    def backward(self, g):
        return TemporalUnfoldOp.apply(g, win=self.win, fill=0.0, time_major=self.time_major)


def _frames(a, win, t0, t1, s0):
    return a[:, :, s0 : s0 + (t1 - t0 - 1) * win.stride + 1 : win.stride]


def temporal_max_raw(x, win):
    """Max over each temporal window of ``x (N, C, T, ...)``: ``(values (N, C, To, ...), winning tap)``. The
    first maximum wins ties, and NaN wins over numbers, as in PyTorch's max pooling."""
    xp = array_module(x)
    shape = x.shape[:2] + (win.n_out,) + x.shape[3:]
    out = xp.full(shape, -np.inf, dtype=x.dtype)
    tap = xp.zeros(shape, dtype=np.int8 if win.k < 128 else np.int32)
    taps = [win.tap(i) for i in range(win.k)]

    def part(c0, c1):
        for i, (t0, t1, s0) in enumerate(taps):
            if t1 <= t0:
                continue
            v, o = _frames(x[:, c0:c1], win, t0, t1, s0), out[:, c0:c1, t0:t1]
            better = xp.greater(v, o)
            better |= xp.isnan(v)
            xp.copyto(o, v, where=better)
            xp.copyto(tap[:, c0:c1, t0:t1], i, where=better)

    split_map(part, x.shape[1], x.size * win.k, xp)
    return out, tap


class TemporalMaxOp(Op):
    """Temporal max pooling of ``x (N, C, T, ...)``; ``taps_out`` (a list), if given, receives the winning
    tap of each output."""

    def forward(self, x, win=None, taps_out=None):
        out, tap = temporal_max_raw(x, win)
        if taps_out is not None:
            taps_out.append(tap)
        if self.recording:
            self.win, self.tap = win, tap
        return out

    def backward(self, g):
        return TemporalRouteOp.apply(g, tap=self.tap, win=self.win)


class TemporalRouteOp(Op):
    """Backward of ``TemporalMaxOp``: each output's gradient goes to its winning frame (linear in ``g``)."""

    def forward(self, g, tap=None, win=None):
        xp = array_module(g)
        if self.recording:
            self.tap, self.win = tap, win
        gx = xp.zeros(g.shape[:2] + (win.size,) + g.shape[3:], dtype=g.dtype)
        for i in range(win.k):
            t0, t1, s0 = win.tap(i)
            if t1 > t0:
                _frames(gx, win, t0, t1, s0)[...] += g[:, :, t0:t1] * (tap[:, :, t0:t1] == i)
        return gx

    def backward(self, gg):
        return TemporalPickOp.apply(gg, tap=self.tap, win=self.win)


class TemporalPickOp(Op):
    """``x (N, C, T, ...)`` read at each window's recorded winning frame (the adjoint of the routing)."""

    def forward(self, x, tap=None, win=None):
        xp = array_module(x)
        if self.recording:
            self.tap, self.win = tap, win
        out = xp.zeros(x.shape[:2] + (win.n_out,) + x.shape[3:], dtype=x.dtype)
        for i in range(win.k):
            t0, t1, s0 = win.tap(i)
            if t1 > t0:
                xp.copyto(out[:, :, t0:t1], _frames(x, win, t0, t1, s0), where=tap[:, :, t0:t1] == i)
        return out

    def backward(self, g):
        return TemporalRouteOp.apply(g, tap=self.tap, win=self.win)


class ClipGeometry(ConvGeometry):
    """Inference geometry of a 3-D convolution on the 2-D machinery without the window copy: the 2-D op's
    phase planes of the virtual ``(N*To, C*kt, H, W)`` frame batch are filled straight from the clip
    ``(N, C, T, H, W)`` (``split``), and the grid result is cropped straight into ``(N, O, To, Ho, Wo)``
    (``crop``). Gradients need the copying path (``merge`` is not provided), so only ops that record
    nothing use it."""

    def __init__(self, clip_shape, win, w_shape, groups, stride, pad, dilation):
        n, c, _, h, w = clip_shape
        super().__init__(n * win.n_out, c * win.k, (h, w), w_shape, groups, stride, pad, dilation)
        self.clip_shape, self.win = tuple(clip_shape), win
        self.pointwise = False  # 1x1 kernels too: their input must come through split

    def split(self, x):
        xp = array_module(x)
        (sh, sw), win = self.stride, self.win
        n, c = x.shape[:2]
        planes = xp.zeros((sh * sw, c, win.k, n, win.n_out, self.hq, self.wq), dtype=x.dtype)
        windows = self._phase_windows()
        taps = [win.tap(i) for i in range(win.k)]

        def part(c0, c1):
            for i, (t0, t1, s0) in enumerate(taps):
                if t1 <= t0:
                    continue
                frames = _frames(x[:, c0:c1], win, t0, t1, s0)
                for p, (u0, u1, r0, r1), (v0, v1, q0, q1) in windows:
                    planes[p, c0:c1, i, :, t0:t1, u0:u1, v0:v1] = \
                        frames[:, :, :, r0:r1:sh, q0:q1:sw].transpose(1, 0, 2, 3, 4)

        split_map(part, c, x.size * win.k, xp)
        return planes.reshape(sh * sw, c * win.k, self.lq)

    def crop(self, full, bias=None):
        xp = array_module(full)
        (ho, wo), n, to = self.out_hw, self.clip_shape[0], self.win.n_out
        view = full.reshape(self.o, n, to, self.hq, self.wq)[:, :, :, :ho, :wo].transpose(1, 0, 2, 3, 4)
        out = xp.empty((n, self.o, to, ho, wo), dtype=full.dtype)

        def part(o0, o1):
            if bias is None:
                out[:, o0:o1] = view[:, o0:o1]
            else:
                xp.add(view[:, o0:o1], bias[o0:o1].reshape(-1, 1, 1, 1), out=out[:, o0:o1])

        split_map(part, self.o, out.size, xp)
        return out

    def merge(self, planes, dtype):
        raise RuntimeError("ClipGeometry is for inference only (no gradient path)")

    def embed(self, y):
        raise RuntimeError("ClipGeometry is for inference only (no gradient path)")


def pool_axis_sizes(n, k, s, p, n_out, count_include_pad):
    """Per-output window sizes along one axis, as PyTorch's average-pooling divisor: clipped to the padded
    input, then (without ``count_include_pad``) to the input."""
    start = np.arange(n_out) * s - p
    end = np.minimum(start + k, n + p)
    if not count_include_pad:
        start, end = np.maximum(start, 0), np.minimum(end, n)
    return end - start


__all__ = ["ClipGeometry", "TemporalWindows", "TemporalUnfoldOp", "TemporalFoldOp", "TemporalMaxOp",
           "TemporalRouteOp", "TemporalPickOp", "unfold_raw", "fold_raw", "temporal_max_raw",
           "pool_axis_sizes"]
