"""Elementwise primitives: arithmetic, unary math, activations, comparisons, where, clamp, cast.

Each Op's forward runs on raw arrays, its backward on Tensors; broadcasting of gradients is undone by
the engine, not here.
"""

import math

import numpy as np

from .. import dtypes
from ..amp_state import ACTIVE as AUTOCAST
from ..amp_state import autocast_op
from ..amp_state import dispatch as autocast_dispatch
from ..autograd.function import Op
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.node_names import label, presents_as
from ..backend import array_module
from ..tensor import Tensor
from . import activation_kernels, relu_kernels
from ._util import as_tensor_like, binary_operands, broadcast_error, refuse_integer_zero_division
from .logistic import sigmoid_array
from .special import erf as _erf


def _quiet():
    # 1/0 = inf and log(0) = -inf are results, not errors: silent, as in PyTorch.
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


# ----------------------------------------------------------------------------------------- binary
class Add(Op):
    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Op):
    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, -g if self.needs_input_grad[1] else None


class Mul(Op):
    def forward(self, a, b):
        if self.recording:
            na, nb = self.needs_input_grad
            self.save(self.inputs[1] if na else None, self.inputs[0] if nb else None)
        return a * b

    def backward(self, g):
        b, a = self.saved_values()
        return (g * b if b is not None else None), (g * a if a is not None else None)


class Div(Op):
    def forward(self, a, b):
        if self.recording:
            self.save(self.inputs[0] if self.needs_input_grad[1] else None, self.inputs[1])
        with _quiet():
            return a / b

    def backward(self, g):
        a, b = self.saved_values()
        ga = g / b if self.needs_input_grad[0] else None
        gb = -g * a / (b * b) if a is not None else None
        return ga, gb


class Pow(Op):
    def forward(self, a, b):
        if self.recording:
            self.save(self.inputs[0], self.inputs[1])
        with _quiet():
            return a**b

    def backward(self, g):
        a, b = self.saved_values()
        # b * a^(b-1) is 0 * inf at a == 0, b == 0; PyTorch defines that gradient as 0.
        ga = g * where(b == 0, 0.0, b * a ** (b - 1)) if self.needs_input_grad[0] else None
        gb = None
        if self.needs_input_grad[1]:
            # d/db a^b = a^b log(a); PyTorch defines it as 0 where a == 0 and b >= 0.
            out = a**b
            gb = g * where(((a == 0) & (b >= 0)), 0.0, out * log(a))
        return ga, gb


class Maximum(Op):
    def forward(self, a, b):
        if self.recording:
            self.save(self.inputs[0], self.inputs[1])
        return array_module(a).maximum(a, b)

    def backward(self, g):
        a, b = self.saved_values()
        return _split_ties(g, a > b, a == b)


class Minimum(Op):
    def forward(self, a, b):
        if self.recording:
            self.save(self.inputs[0], self.inputs[1])
        return array_module(a).minimum(a, b)

    def backward(self, g):
        a, b = self.saved_values()
        return _split_ties(g, a < b, a == b)


def _split_ties(g, a_wins, tie):
    # Where both inputs are equal PyTorch gives each half of the gradient.
    half = g * 0.5
    return where(a_wins, g, where(tie, half, 0.0)), where(a_wins, 0.0, where(tie, half, g))


# ------------------------------------------------------------------------------------------ unary
class Neg(Op):
    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


class Abs(Op):
    def forward(self, a):
        if self.recording:
            self.save(self.inputs[0])
        return array_module(a).abs(a)

    def backward(self, g):
        (a,) = self.saved_values()
        return g * sign(a)


class Exp(Op):
    saves_output = True

    def forward(self, a):
        return array_module(a).exp(a)

    def backward(self, g):
        return g * self.output()


class Expm1(Op):
    saves_output = True

    def forward(self, a):
        return array_module(a).expm1(a)

    def backward(self, g):
        return g * (self.output() + 1)


class Log(Op):
    def forward(self, a):
        if self.recording:
            self.save(self.inputs[0])
        with _quiet():
            return array_module(a).log(a)

    def backward(self, g):
        (a,) = self.saved_values()
        return g / a


class Log1p(Op):
    def forward(self, a):
        if self.recording:
            self.save(self.inputs[0])
        with _quiet():
            return array_module(a).log1p(a)

    def backward(self, g):
        (a,) = self.saved_values()
        return g / (a + 1)


class Sqrt(Op):
    saves_output = True

    def forward(self, a):
        return array_module(a).sqrt(a)

    def backward(self, g):
        return g / (self.output() * 2)


class Rsqrt(Op):
    saves_output = True

    def forward(self, a):
        with _quiet():
            return 1 / array_module(a).sqrt(a)

    def backward(self, g):
        out = self.output()
        return g * out * out * out * -0.5


class Sin(Op):
    def forward(self, a):
        if self.recording:
            self.save(self.inputs[0])
        return array_module(a).sin(a)

    def backward(self, g):
        (a,) = self.saved_values()
        return g * cos(a)


class Cos(Op):
    def forward(self, a):
        if self.recording:
            self.save(self.inputs[0])
        return array_module(a).cos(a)

    def backward(self, g):
        (a,) = self.saved_values()
        return -g * sin(a)


class Tanh(Op):
    saves_output = True

    def forward(self, a):
        return array_module(a).tanh(a)

    def backward(self, g):
        out = self.output()
        return g * (1 - out * out)


class Sigmoid(Op):
    saves_output = True

    def forward(self, a):
        return sigmoid_array(a)  # split by sign so that exp never overflows (logistic)

    def backward(self, g):
        out = self.output()
        return g * out * (1 - out)


class Relu(Op):
    saves_output = True

    def forward(self, a):
        return relu_kernels.relu(a)

    def backward(self, g):
        if is_grad_enabled():  # create_graph: recorded, so that it can be differentiated again
            return g * (self.output() <= 0).logical_not()  # PyTorch's rule: NaN outputs pass g
        # first order: one raw multiply by the mask (Tensor ops would cast the mask to float first)
        return Tensor._wrap(relu_kernels.relu_grad(g._data, self.output()._data))


class Erf(Op):
    def forward(self, a):
        if self.recording:
            self.save(self.inputs[0])
        return _erf(a)

    def backward(self, g):
        (a,) = self.saved_values()
        return g * exp(-a * a) * (2 / math.sqrt(math.pi))


class Gelu(Op):
    def forward(self, a, approximate="none"):
        self.approximate = approximate
        if self.recording:
            self.save(self.inputs[0])
        if approximate == "none" and activation_kernels.gelu_usable(a):
            return activation_kernels.gelu(a)
        xp = array_module(a)
        if approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            return (0.5 * a * (1 + xp.tanh(k * (a + 0.044715 * a * a * a)))).astype(a.dtype, copy=False)
        return (0.5 * a * (1 + _erf(a * (1 / math.sqrt(2))))).astype(a.dtype, copy=False)

    def backward(self, g):
        (a,) = self.saved_values()
        if self.approximate == "none" and not is_grad_enabled() and g.shape == a.shape \
                and activation_kernels.gelu_usable(g._data) and activation_kernels.gelu_usable(a._data):
            return Tensor._wrap(activation_kernels.gelu_grad(g._data, a._data))  # first order, raw passes
        if self.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            inner = k * (a + 0.044715 * a * a * a)
            t = tanh(inner)
            d_inner = k * (1 + 3 * 0.044715 * a * a)
            return g * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * d_inner)
        cdf = (erf(a * (1 / math.sqrt(2))) + 1) * 0.5
        pdf = exp(a * a * -0.5) * (1 / math.sqrt(2 * math.pi))
        return g * (cdf + a * pdf)


class Silu(Op):
    def forward(self, a):
        if self.recording:
            self.save(self.inputs[0])
        if activation_kernels.usable(a):
            return activation_kernels.silu(a)
        return (a * sigmoid_array(a)).astype(a.dtype, copy=False)

    def backward(self, g):
        (a,) = self.saved_values()
        if not is_grad_enabled() and g.shape == a.shape and g.dtype == a.dtype \
                and activation_kernels.usable(g._data) and activation_kernels.usable(a._data):
            return Tensor._wrap(activation_kernels.silu_grad(g._data, a._data))  # first order, raw passes
        s = sigmoid(a)
        return g * s * (1 + a * (1 - s))


class Clamp(Op):
    def forward(self, a, lo=None, hi=None):
        if self.recording:
            self.save(self.inputs[0])
            self.lo, self.hi = lo, hi
        xp = array_module(a)
        out = a
        if lo is not None:
            out = xp.maximum(out, xp.asarray(lo, dtype=a.dtype))
        if hi is not None:
            out = xp.minimum(out, xp.asarray(hi, dtype=a.dtype))
        return out if out is not a else a.copy()

    def backward(self, g):
        (a,) = self.saved_values()
        # The gradient passes strictly inside (lo, hi): zero at the bounds, as PyTorch does.
        keep = None
        if self.lo is not None:
            keep = a > self.lo
        if self.hi is not None:
            keep = (a < self.hi) if keep is None else keep & (a < self.hi)
        return g if keep is None else g * keep


class Where(Op):
    def forward(self, cond, a, b):
        if self.recording:
            self.save(self.inputs[0])
        return array_module(a).where(cond, a, b)

    def backward(self, g):
        (cond,) = self.saved_values()
        na, nb = self.needs_input_grad[1:]
        zero = g.new_zeros(())
        return None, (where(cond, g, zero) if na else None), (where(cond, zero, g) if nb else None)


class Cast(Op):
    def forward(self, a, dtype=None):
        return a.astype(dtype)

    def backward(self, g):
        return g  # the engine casts it back to the input's dtype


class ZeroGrad(Op):
    """Piecewise-constant functions (floor, round, sign, ...): the gradient is zero everywhere."""

    def forward(self, a, fn=None):
        return fn(a)

    def backward(self, g):
        return g.new_zeros(g.shape)


# -------------------------------------------------------------------------------- functional API
def _binary(op_cls, name):
    def fn(a, b):
        a, b = binary_operands(a, b, name)
        try:
            return op_cls.apply(a, b)
        except ValueError:
            if a._data.shape == b._data.shape:
                raise
            raise broadcast_error(a, b, name) from None

    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name} with broadcasting and PyTorch's type promotion."
    return fn


_add = _binary(Add, "add")
_sub = _binary(Sub, "sub")
mul = _binary(Mul, "mul")
maximum = _binary(Maximum, "maximum")
minimum = _binary(Minimum, "minimum")


def add(a, b, alpha=1):
    """``a + alpha * b`` with broadcasting."""
    return _add(a, b if alpha == 1 else mul(b, alpha))


def sub(a, b, alpha=1):
    """``a - alpha * b`` with broadcasting."""
    return _sub(a, b if alpha == 1 else mul(b, alpha))


def div(a, b, rounding_mode=None):
    """True division (integers give floats); ``rounding_mode`` 'floor' or 'trunc' as in PyTorch."""
    if rounding_mode is None:
        a, b = binary_operands(a, b, "div")
        if not dtypes.is_float(a._data.dtype):
            ft = dtypes.get_default_dtype().np
            a, b = a.to(ft), b.to(ft)
        return Div.apply(a, b)
    a, b = binary_operands(a, b, "div")
    xp = array_module(a._data)
    if dtypes.is_float(a._data.dtype):
        q = Div.apply(a, b)
        return ZeroGrad.apply(q, fn=xp.floor if rounding_mode == "floor" else xp.trunc)
    if rounding_mode not in ("floor", "trunc"):
        raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")
    refuse_integer_zero_division(b._data, f"div(rounding_mode={rounding_mode!r})")
    q = xp.floor_divide(a._data, b._data)
    if rounding_mode == "trunc":  # exact in integers (a float quotient would round large int64 values)
        inexact = (q * b._data != a._data) & ((a._data < 0) != (b._data < 0))
        q = q + inexact.astype(q.dtype)
    return Tensor._wrap(q)


def pow(a, b):
    """``a ** b`` elementwise; a or b may be a Python number."""
    if AUTOCAST[0]:  # float32 under cuda autocast; one list read otherwise
        return autocast_dispatch("pow", _pow, (a, b), {})
    return _pow(a, b)


pow.autocast_name = "pow"


def _pow(a, b):
    if isinstance(a, Tensor) and isinstance(b, (int, float)) and not isinstance(b, bool):
        if b == 2:
            return label(mul(a, a), "PowBackward0", a)
        if b == 1:
            return label(a.clone(), "PowBackward0", a)
        if b == 0.5 and dtypes.is_float(a._data.dtype):
            return label(sqrt(a), "PowBackward0", a)
    exponent_is_tensor = isinstance(b, Tensor)
    a, b = binary_operands(a, b, "pow")
    out = Pow.apply(a, b)
    if exponent_is_tensor and isinstance(a, Tensor) and out._ctx is not None:
        label(out, "PowBackward1", a, b)
    return out


def remainder(a, b):
    """Python-style modulus (sign of the divisor); gradient 1 with respect to ``a``."""
    a, b = binary_operands(a, b, "remainder")
    refuse_integer_zero_division(b._data, "remainder")
    with np.errstate(invalid="ignore", divide="ignore"):  # float x % 0 is NaN, silently, as in PyTorch
        return sub(a, mul(div(a, b, rounding_mode="floor").detach(), b))


def _unary(op_cls, name, float_only=True, autocast=False):
    def fn(a):
        if float_only and not dtypes.is_float(a._data.dtype):
            a = a.to(dtypes.get_default_dtype())
        return op_cls.apply(a)

    if autocast:  # in an autocast list (float32 on cuda): one inline flag read, no wrapper call
        body = fn

        def fn(a):
            if AUTOCAST[0]:
                return autocast_dispatch(name, body, (a,), {})
            if float_only and not dtypes.is_float(a._data.dtype):
                a = a.to(dtypes.get_default_dtype())
            return op_cls.apply(a)

        fn.autocast_name = name

    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name}; integer inputs are computed in the default float dtype."
    return fn


neg = _unary(Neg, "neg", float_only=False)
abs = _unary(Abs, "abs", float_only=False)
exp = _unary(Exp, "exp", autocast=True)
expm1 = _unary(Expm1, "expm1", autocast=True)
log = _unary(Log, "log", autocast=True)
log1p = _unary(Log1p, "log1p", autocast=True)
sqrt = _unary(Sqrt, "sqrt")
rsqrt = _unary(Rsqrt, "rsqrt", autocast=True)
sin = _unary(Sin, "sin")
cos = _unary(Cos, "cos")
tanh = _unary(Tanh, "tanh")
sigmoid = _unary(Sigmoid, "sigmoid")
relu = _unary(Relu, "relu", float_only=False)
erf = _unary(Erf, "erf")
silu = _unary(Silu, "silu")


def gelu(a, approximate="none"):
    """GELU: ``x * Phi(x)``, exact (``approximate='none'``) or with the tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(a, approximate=approximate)


@autocast_op("log2")
def log2(a):
    """Base-2 logarithm, elementwise."""
    return log(a) * (1 / math.log(2))


@autocast_op("log10")
def log10(a):
    """Base-10 logarithm, elementwise."""
    return log(a) * (1 / math.log(10))


@autocast_op("reciprocal")
@presents_as("ReciprocalBackward0", "a")
def reciprocal(a):
    """``1 / a`` elementwise (integer inputs give a float tensor)."""
    return div(1.0, a)


@presents_as("PowBackward0", "a")
def square(a):
    """``a * a`` elementwise."""
    return mul(a, a)


def _zero_grad_fn(name, np_name):
    def fn(a):
        xp = array_module(a._data)
        f = getattr(xp, np_name)
        if not dtypes.is_float(a._data.dtype):
            return Tensor._wrap(f(a._data).astype(a._data.dtype) if name != "sign" else xp.sign(a._data))
        return ZeroGrad.apply(a, fn=f)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name}; its gradient is zero."
    return fn


floor = _zero_grad_fn("floor", "floor")
ceil = _zero_grad_fn("ceil", "ceil")
trunc = _zero_grad_fn("trunc", "trunc")
sign = _zero_grad_fn("sign", "sign")


def round(a, decimals=0):
    """Round half to even, as PyTorch does."""
    xp = array_module(a._data)
    if decimals:
        return ZeroGrad.apply(a, fn=lambda x: xp.round(x, decimals))
    return ZeroGrad.apply(a, fn=xp.round) if dtypes.is_float(a._data.dtype) else a.clone()


def clamp(a, min=None, max=None):
    """Limit values to ``[min, max]``; either bound may be None, a number or a Tensor."""
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = a
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    if not dtypes.is_float(a._data.dtype) and any(isinstance(v, float) for v in (min, max)):
        a = a.to(dtypes.get_default_dtype())
    return Clamp.apply(a, lo=min, hi=max)


@presents_as("WhereBackward0", "a", "b")
def where(cond, a=None, b=None):
    """``a`` where ``cond`` is true, else ``b`` (broadcast together); ``where(cond)`` is ``nonzero``."""
    if a is None and b is None:
        from .indexing import nonzero

        return nonzero(cond, as_tuple=True)
    ref = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else cond
    if not isinstance(cond, Tensor):
        cond = as_tensor_like(cond, ref)
    if cond._data.dtype != np.bool_:
        cond = Tensor._wrap(cond._data.astype(bool))
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        xp = array_module(cond._data)
        rt = dtypes.result_type(a, b)
        return Tensor._wrap(xp.where(cond._data, xp.asarray(a, dtype=rt), xp.asarray(b, dtype=rt)))
    a, b = binary_operands(a, b, "where")
    try:
        return Where.apply(cond, a, b)
    except ValueError:
        shapes = [list(t._data.shape) for t in (cond, a, b)]
        raise RuntimeError(
            f"where: condition, input and other of shapes {shapes} cannot be broadcast together"
        ) from None


from .compare import isinf, isnan  # noqa: E402,F401  (used by callers through this module)
