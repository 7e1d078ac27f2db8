"""More elementwise math: trigonometric and hyperbolic functions and their inverses, atan2, hypot, exp2,
logaddexp, frac, fmod, floor_divide, nan_to_num, heaviside, sgn.

Primitives are kept to functions whose forward numpy computes better than a composite could (tan, the
inverse functions, hypot without overflow, fmod exactly) or whose gradient PyTorch defines specially
(atan2 at the origin). The rest are composites of existing ops.
"""

import math

import numpy as np

from .. import dtypes
from ..amp_state import autocast_op
from ..autograd.function import Op
from ..backend import array_module
from ..tensor import Tensor
from . import elementwise as ew
from ._util import binary_operands, broadcast_error, refuse_integer_zero_division


def _quiet():
    # Out-of-domain inputs give NaN and poles give inf, silently, as in PyTorch.
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


class _SavesInput(Op):
    """A unary primitive that keeps its input for backward."""

    np_name = ""

    def forward(self, a):
        if self.recording:
            self.save(self.inputs[0])
        with _quiet():
            return getattr(array_module(a), self.np_name)(a)


# ------------------------------------------------------------------------------------ unary
class Tan(Op):
    saves_output = True

    def forward(self, a):
        with _quiet():
            return array_module(a).tan(a)

    def backward(self, g):
        out = self.output()
        return g * (out * out + 1)


class Asin(_SavesInput):
    np_name = "arcsin"

    def backward(self, g):
        (a,) = self.saved_values()
        return g * ew.rsqrt(1 - a * a)


class Acos(_SavesInput):
    np_name = "arccos"

    def backward(self, g):
        (a,) = self.saved_values()
        return -g * ew.rsqrt(1 - a * a)


class Atan(_SavesInput):
    np_name = "arctan"

    def backward(self, g):
        (a,) = self.saved_values()
        return g / (a * a + 1)


class Sinh(_SavesInput):
    np_name = "sinh"

    def backward(self, g):
        (a,) = self.saved_values()
        return g * cosh(a)


class Cosh(_SavesInput):
    np_name = "cosh"

    def backward(self, g):
        (a,) = self.saved_values()
        return g * sinh(a)


class Asinh(_SavesInput):
    np_name = "arcsinh"

    def backward(self, g):
        (a,) = self.saved_values()
        return g * ew.rsqrt(a * a + 1)


class Acosh(_SavesInput):
    np_name = "arccosh"

    def backward(self, g):
        (a,) = self.saved_values()
        return g * ew.rsqrt(a * a - 1)


class Atanh(_SavesInput):
    np_name = "arctanh"

    def backward(self, g):
        (a,) = self.saved_values()
        return g / (1 - a * a)


# ----------------------------------------------------------------------------------- binary
class Atan2(Op):
    def forward(self, y, x):
        if self.recording:
            self.save(*self.inputs)
        return array_module(y).arctan2(y, x)

    def backward(self, g):
        y, x = self.saved_values()
        r2 = y * y + x * x
        # At the origin the angle has no derivative; PyTorch gives 0 there rather than NaN.
        scale = ew.where(r2 == 0, 0.0, g / ew.where(r2 == 0, 1.0, r2))
        return scale * x, -scale * y


class Hypot(Op):
    saves_output = True

    def forward(self, a, b):
        if self.recording:
            self.save(*self.inputs)
        return array_module(a).hypot(a, b)

    def backward(self, g):
        a, b = self.saved_values()
        scale = g / self.output()  # NaN at (0, 0), as in PyTorch
        return scale * a, scale * b


class Fmod(Op):
    def forward(self, a, b):
        if self.recording:
            self.save(*self.inputs)
        with _quiet():
            return array_module(a).fmod(a, b)

    def backward(self, g):
        a, b = self.saved_values()
        gb = -g * ew.div(a, b, rounding_mode="trunc") if self.needs_input_grad[1] else None
        return g, gb


class _NoDerivative(Op):
    """Forward only: reaching it in backward raises PyTorch's error, as its derivative is undefined."""

    def backward(self, g):
        raise RuntimeError(f"the derivative for '{self.op_name}' is not implemented")


class FloorDivide(_NoDerivative):
    op_name = "floor_divide"

    def forward(self, a, b):
        with _quiet():
            return array_module(a).floor_divide(a, b)  # Python's rounding, as torch.floor_divide


class Heaviside(_NoDerivative):
    op_name = "heaviside"

    def forward(self, a, values):
        xp = array_module(a)
        # xp.heaviside maps NaN to NaN; PyTorch's rule (x == 0 ? values : x > 0) maps it to 0.
        return xp.where(a == 0, values, a > 0).astype(a.dtype, copy=False)


# -------------------------------------------------------------------------------- functions
def _float_unary(op_cls, name, torch_name=None):
    def fn(input):
        if not dtypes.is_float(input._data.dtype):
            input = input.to(dtypes.get_default_dtype())
        return op_cls.apply(input)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise {torch_name or name} (any shape); integer inputs give the default float dtype."
    return fn


tan = autocast_op("tan")(_float_unary(Tan, "tan"))
asin = autocast_op("asin")(_float_unary(Asin, "asin", "arcsine"))
acos = autocast_op("acos")(_float_unary(Acos, "acos", "arccosine"))
atan = _float_unary(Atan, "atan", "arctangent")
sinh = autocast_op("sinh")(_float_unary(Sinh, "sinh"))
cosh = autocast_op("cosh")(_float_unary(Cosh, "cosh"))
asinh = _float_unary(Asinh, "asinh", "inverse hyperbolic sine")
acosh = _float_unary(Acosh, "acosh", "inverse hyperbolic cosine")
atanh = _float_unary(Atanh, "atanh", "inverse hyperbolic tangent")
arcsin, arccos, arctan = asin, acos, atan
arcsinh, arccosh, arctanh = asinh, acosh, atanh


def _float_operands(input, other, name):
    a, b = binary_operands(input, other, name)
    if not dtypes.is_float(a._data.dtype):
        ft = dtypes.get_default_dtype()
        a, b = a.to(ft), b.to(ft)
    return a, b


def _apply_binary(op_cls, a, b, name):
    try:
        return op_cls.apply(a, b)
    except ValueError:
        raise broadcast_error(a, b, name) from None


@autocast_op("atan2")
def atan2(input, other):
    """Elementwise angle of the point ``(other, input)`` in radians, in ``[-pi, pi]`` (broadcast)."""
    return _apply_binary(Atan2, *_float_operands(input, other, "atan2"), "atan2")


arctan2 = atan2


def hypot(input, other):
    """Elementwise ``sqrt(input**2 + other**2)`` without intermediate overflow (broadcast)."""
    return _apply_binary(Hypot, *_float_operands(input, other, "hypot"), "hypot")


def exp2(input):
    """Elementwise ``2 ** input``; integer inputs give the default float dtype."""
    if not dtypes.is_float(input._data.dtype):
        input = input.to(dtypes.get_default_dtype())
    return ew.pow(2.0, input)


def logaddexp(input, other):
    """Elementwise ``log(exp(input) + exp(other))`` computed without overflow (broadcast)."""
    from .movement import broadcast_tensors, stack
    from .reduce import logsumexp

    a, b = _float_operands(input, other, "logaddexp")
    try:
        a, b = broadcast_tensors(a, b)
    except (ValueError, RuntimeError):
        raise broadcast_error(a, b, "logaddexp") from None
    return logsumexp(stack([a, b]), 0)


def logaddexp2(input, other):
    """Elementwise ``log2(2**input + 2**other)`` (broadcast)."""
    ln2 = math.log(2)
    a, b = _float_operands(input, other, "logaddexp2")
    return logaddexp(a * ln2, b * ln2) * (1 / ln2)


def frac(input):
    """The fractional part ``input - trunc(input)``, with the sign of ``input``; gradient 1."""
    if not dtypes.is_float(input._data.dtype):
        return Tensor._wrap(array_module(input._data).zeros_like(input._data))
    return input - ew.trunc(input)


def fmod(input, other):
    """C-style remainder ``input - trunc(input / other) * other`` (sign of ``input``), broadcast."""
    a, b = binary_operands(input, other, "fmod")
    refuse_integer_zero_division(b._data, "fmod")
    return _apply_binary(Fmod, a, b, "fmod")


def floor_divide(input, other):
    """``input // other`` rounded toward minus infinity, as Python does; not differentiable."""
    a, b = binary_operands(input, other, "floor_divide")
    refuse_integer_zero_division(b._data, "floor_divide")
    return _apply_binary(FloorDivide, a, b, "floor_divide")


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """``input`` with NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (default: the
    dtype's largest and lowest finite values). The gradient passes where ``input`` is finite."""
    data = input._data
    if not dtypes.is_float(data.dtype):
        return input.clone()
    xp = array_module(data)
    info = np.finfo(data.dtype) if data.dtype.kind == "f" else None
    hi = float(info.max) if posinf is None and info else posinf
    lo = float(info.min) if neginf is None and info else neginf
    if hi is None or lo is None:  # bfloat16: numpy's finfo does not know it
        from ..dtype_info import finfo

        fi = finfo(input.dtype)
        hi, lo = (fi.max if hi is None else hi), (fi.min if lo is None else lo)
    with _quiet():
        fill = xp.where(xp.isnan(data), nan, xp.where(data > 0, hi, lo)).astype(data.dtype)
    return ew.Where.apply(Tensor._wrap(xp.isfinite(data)), input, Tensor._wrap(fill))


def heaviside(input, values):
    """Step function: 0 where ``input < 0``, ``values`` where ``input == 0``, 1 where ``input > 0``.

    ``values`` (a Tensor broadcastable to ``input``) must have ``input``'s dtype, as in PyTorch.
    """
    if not isinstance(values, Tensor) or values._data.dtype != input._data.dtype:
        got = values.dtype if isinstance(values, Tensor) else type(values).__name__
        raise RuntimeError(
            f"heaviside: values must be a Tensor of the input's dtype {input.dtype}, got {got}; "
            "convert it with values.to(input.dtype)"
        )
    return _apply_binary(Heaviside, input, values, "heaviside")


def sgn(input):
    """The sign of each element (-1, 0 or 1), as ``sign`` for real tensors; its gradient is zero."""
    if input._data.dtype == np.bool_:
        return input.clone()
    return ew.sign(input)


def deg2rad(input):
    """Degrees to radians (integer inputs give the default float dtype)."""
    if not dtypes.is_float(input._data.dtype):
        input = input.to(dtypes.get_default_dtype())
    return input * (math.pi / 180)


def rad2deg(input):
    """Radians to degrees (integer inputs give the default float dtype)."""
    if not dtypes.is_float(input._data.dtype):
        input = input.to(dtypes.get_default_dtype())
    return input * (180 / math.pi)
