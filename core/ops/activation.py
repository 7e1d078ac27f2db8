"""Activation primitives beyond relu/gelu/silu/sigmoid/tanh (those live in ``elementwise``).

Piecewise-linear ones save a boolean mask for backward (their second derivative is zero, so the mask is
all that double backward needs). Smooth ones compute their derivative from raw arrays in an ordinary
backward, and from Tensor ops when ``create_graph`` asks for a differentiable one. Gradients at the kinks
follow PyTorch exactly (the tests pin each one).
"""

from ..amp_state import autocast_op
from ..autograd.function import Op
from ..autograd.grad_mode import is_grad_enabled
from ..backend import array_module
from ..tensor import Tensor
from . import activation_kernels
from . import elementwise as ew
from .logistic import sigmoid_array


def _grad_times(g, d):
    """``g * d`` for a raw derivative ``d``. It is recorded as a Tensor product only under ``create_graph``;
    that is exact for piecewise-linear functions, whose ``d`` is constant wherever it is defined."""
    if is_grad_enabled():
        return g * Tensor._wrap(d)
    return Tensor._wrap(g._data * d)


class Hardtanh(Op):
    """clamp(x, lo, hi) with zero gradient at and beyond both bounds (relu6 is hardtanh(x, 0, 6))."""

    def forward(self, a, lo=-1.0, hi=1.0):
        xp = array_module(a)
        if self.recording:
            self.save((a > lo) & (a < hi))
        return xp.clip(a, a.dtype.type(lo), a.dtype.type(hi))

    def backward(self, g):
        return _grad_times(g, *self.saved_values())


class LeakyRelu(Op):
    """x where x > 0, else slope * x; the gradient at 0 is ``slope``."""

    def forward(self, a, slope=0.01):
        xp = array_module(a)
        if self.recording:
            self.save(a > 0)
            self.slope = slope
        scaled = a * a.dtype.type(slope)
        if 0 <= slope <= 1:
            return xp.maximum(a, scaled)  # one pass fewer than where(); equal for such slopes (incl. at 0)
        return xp.where(a > 0, a, scaled)

    def backward(self, g):
        xp = array_module(g._data)
        (pos,) = self.saved_values()
        t = g._data.dtype.type
        if not 0 <= self.slope <= 1:
            return _grad_times(g, xp.where(pos, t(1), t(self.slope)))
        # max(1{x > 0}, slope) is the derivative exactly, without xp.where, whose branches mispredict on a
        # data-dependent mask (128x32x32x32 float32: 4.3 ms against 45 ms).
        d = pos.astype(g._data.dtype)
        xp.maximum(d, t(self.slope), out=d)
        if is_grad_enabled():
            return _grad_times(g, d)
        d *= g._data
        return Tensor._wrap(d)


class Hardsigmoid(Op):
    """relu6(x + 3) / 6; gradient 1/6 strictly inside (-3, 3), else 0."""

    def forward(self, a):
        xp = array_module(a)
        if self.recording:
            self.save((a > -3) & (a < 3))
        if activation_kernels.usable(a):
            return activation_kernels.hardsigmoid(a)
        return xp.clip(a / a.dtype.type(6) + a.dtype.type(0.5), 0, 1).astype(a.dtype, copy=False)

    def backward(self, g):
        (inside,) = self.saved_values()
        return _grad_times(g, inside * g._data.dtype.type(1.0 / 6))


class Hardswish(Op):
    """x * relu6(x + 3) / 6; gradient 0 for x <= -3, x/3 + 1/2 for -3 < x < 3, 1 for x >= 3."""

    def forward(self, a):
        xp = array_module(a)
        if self.recording:
            self.save(self.inputs[0])
        if activation_kernels.usable(a):
            return activation_kernels.hardswish(a)
        return (a * xp.clip(a + a.dtype.type(3), 0, 6) / a.dtype.type(6)).astype(a.dtype, copy=False)

    def backward(self, g):
        (x,) = self.saved_values()
        if is_grad_enabled():
            mid = x * (1 / 3) + 0.5
            return g * ew.where(x <= -3, 0.0, ew.where(x < 3, mid, 1.0))
        a = x._data
        xp = array_module(a)
        t = a.dtype.type
        d = xp.where(a < 3, a * t(1 / 3) + t(0.5), t(1))
        return Tensor._wrap(g._data * xp.where(a > -3, d, t(0)))


class Elu(Op):
    """scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1)); covers elu, celu and selu.

    The negative branch includes x == 0, so the gradient at 0 is ``scale * alpha * input_scale``.
    """

    def forward(self, a, alpha=1.0, scale=1.0, input_scale=1.0):
        xp = array_module(a)
        self.alpha, self.scale, self.input_scale = alpha, scale, input_scale
        if self.recording:
            self.save(self.inputs[0])
        neg = xp.expm1(a * a.dtype.type(input_scale)) * a.dtype.type(alpha)
        return (xp.where(a > 0, a, neg) * a.dtype.type(scale)).astype(a.dtype, copy=False)

    def backward(self, g):
        (x,) = self.saved_values()
        k = self.scale * self.alpha * self.input_scale
        if is_grad_enabled():
            # x == 0 gets the constant k, so its second derivative there is 0, as in PyTorch.
            neg = ew.where(x < 0, ew.exp(x * self.input_scale) * k, k)
            return g * ew.where(x > 0, float(self.scale), neg)
        a = x._data
        xp = array_module(a)
        t = a.dtype.type
        d = xp.where(a > 0, t(self.scale), xp.exp(a * t(self.input_scale)) * t(k))
        return Tensor._wrap(g._data * d)


class Softplus(Op):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (as PyTorch)."""

    def forward(self, a, beta=1.0, threshold=20.0):
        xp = array_module(a)
        self.beta, self.threshold = beta, threshold
        if self.recording:
            self.save(self.inputs[0])
        z = a * a.dtype.type(beta)
        # log1p(exp(z)) = max(z, 0) + log1p(exp(-|z|)) never overflows.
        soft = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / a.dtype.type(beta)
        return xp.where(z > threshold, a, soft).astype(a.dtype, copy=False)

    def backward(self, g):
        (x,) = self.saved_values()
        if is_grad_enabled():
            z = x * self.beta
            return g * ew.where(z > self.threshold, 1.0, ew.sigmoid(z))
        zd = x._data * x._data.dtype.type(self.beta)
        xp = array_module(zd)
        sig = sigmoid_array(zd)
        return Tensor._wrap(g._data * xp.where(zd > self.threshold, 1, sig).astype(zd.dtype, copy=False))


def _float(x):
    from .. import dtypes

    return x if dtypes.is_float(x._data.dtype) else x.to(dtypes.get_default_dtype())


def check_hardtanh_bounds(min_val, max_val):
    """hardtanh's bounds must be ordered (PyTorch's error)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")


def hardtanh(x, min_val=-1.0, max_val=1.0):
    check_hardtanh_bounds(min_val, max_val)
    return Hardtanh.apply(_float(x), lo=float(min_val), hi=float(max_val))


def leaky_relu(x, negative_slope=0.01):
    return LeakyRelu.apply(_float(x), slope=float(negative_slope))


def hardsigmoid(x):
    return Hardsigmoid.apply(_float(x))


def hardswish(x):
    return Hardswish.apply(_float(x))


def elu(x, alpha=1.0, scale=1.0, input_scale=1.0):
    return Elu.apply(_float(x), alpha=float(alpha), scale=float(scale), input_scale=float(input_scale))


@autocast_op("softplus")
def softplus(x, beta=1.0, threshold=20.0):
    return Softplus.apply(_float(x), beta=float(beta), threshold=float(threshold))
