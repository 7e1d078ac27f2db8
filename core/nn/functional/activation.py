"""Activation functions, as in ``torch.nn.functional``. Shapes: any input ``(*)`` gives an output ``(*)``.

``inplace=True`` computes the result and writes it into ``input`` through the Tensor's in-place protocol
(``_assign``), so views and version counters behave as for any in-place op.
"""
from ...amp_state import autocast_op
from ...autograd.grad_mode import is_grad_enabled
from ...autograd.node_names import presents_as
from ...autograd.versions import bump_version
from ...backend import array_module
from ...ops import activation as _act
from ...ops import elementwise as _ew
from ...ops import reduce as _red
from ...ops import relu_kernels
from ...tensor import Tensor

__all__ = ["relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "prelu", "elu", "elu_", "celu", "selu",
           "gelu", "silu", "mish", "hardswish", "hardsigmoid", "hardtanh", "hardtanh_", "sigmoid", "tanh",
           "softmax", "log_softmax", "softmin", "softplus", "softsign", "tanhshrink", "hardshrink",
           "softshrink", "logsigmoid", "threshold", "threshold_", "glu", "rrelu", "rrelu_",
           "gumbel_softmax"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _check(input, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be a visionlite Tensor, not {type(input).__name__}")


def _apply(input, fn, inplace, name, raw=None):
    """``fn(input)``, written back into ``input`` when ``inplace``. ``raw(array)``, where given, computes the
    same in place on a floating-point array."""
    _check(input, name)
    if not inplace:
        return fn(input)
    input._check_inplace()
    if raw is not None and not (is_grad_enabled() and input.requires_grad) and input.is_floating_point():
        # nothing to record (inference, frozen layers): written straight into the input's storage, one
        # pass instead of a new array plus a copy back (MobileNetV2's ReLU6s at batch 1: ~0.9 ms)
        raw(input._data)
        bump_version(input)
        return input
    # The op may save its input for backward; give it a private copy so the write below doesn't
    # invalidate what it saved.
    src = input._snapshot() if (is_grad_enabled() and input.requires_grad) else input
    return input._assign(fn(src))


def _clip_into(a, lo, hi):
    _act.check_hardtanh_bounds(lo, hi)
    t = a.dtype.type
    array_module(a).clip(a, t(lo), t(hi), out=a)


def relu(input, inplace=False):
    """max(x, 0); the gradient at 0 is 0."""
    return _apply(input, _ew.relu, inplace, "relu", raw=lambda a: relu_kernels.relu(a, out=a))


def relu_(input):
    return relu(input, inplace=True)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(x, min_val, max_val), with zero gradient at the bounds."""
    return _apply(input, lambda x: _act.hardtanh(x, min_val, max_val), inplace, "hardtanh",
                  raw=lambda a: _clip_into(a, min_val, max_val))


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    """min(max(x, 0), 6) (hardtanh(x, 0, 6))."""
    return _apply(input, lambda x: _act.hardtanh(x, 0.0, 6.0), inplace, "relu6",
                  raw=lambda a: _clip_into(a, 0.0, 6.0))


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x for x > 0, else negative_slope * x."""
    return _apply(input, lambda x: _act.leaky_relu(x, negative_slope), inplace, "leaky_relu")


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


@autocast_op("prelu")
@presents_as("PreluKernelBackward0", "input", "weight")
def prelu(input, weight):
    """leaky_relu with a learned slope: ``weight`` has 1 element or one per channel (dim 1 of input)."""
    _check(input, "prelu")
    if weight.ndim != 1:
        raise RuntimeError(f"prelu: weight must be 1-D, got shape {list(weight.shape)}")
    n = weight.numel()
    if n != 1:
        if input.ndim < 2 or input.shape[1] != n:
            got = input.shape[1] if input.ndim >= 2 else "no channel dim"
            raise RuntimeError(f"prelu: weight has {n} elements but input has {got} channels (dim 1); use "
                               "num_parameters equal to the channel count, or 1")
        weight = weight.reshape(n, *([1] * (input.ndim - 2)))
    return _ew.where(input > 0, input, input * weight)


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, else alpha * (exp(x) - 1)."""
    return _apply(input, lambda x: _act.elu(x, alpha), inplace, "elu")


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def celu(input, alpha=1.0, inplace=False):
    """x for x > 0, else alpha * (exp(x / alpha) - 1)."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    return _apply(input, lambda x: _act.elu(x, alpha, 1.0, 1.0 / alpha), inplace, "celu")


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al. (2017)."""
    return _apply(input, lambda x: _act.elu(x, _SELU_ALPHA, _SELU_SCALE), inplace, "selu")


def gelu(input, approximate="none"):
    """x * Phi(x); ``approximate='tanh'`` uses the tanh approximation."""
    _check(input, "gelu")
    return _ew.gelu(input, approximate=approximate)


def silu(input, inplace=False):
    """x * sigmoid(x) (a.k.a. swish)."""
    return _apply(input, _ew.silu, inplace, "silu")


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    return _apply(input, lambda x: x * _ew.tanh(_act.softplus(x)), inplace, "mish")


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6 (MobileNetV3)."""
    return _apply(input, _act.hardswish, inplace, "hardswish")


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6."""
    return _apply(input, _act.hardsigmoid, inplace, "hardsigmoid")


def sigmoid(input):
    return _ew.sigmoid(input)


def tanh(input):
    return _ew.tanh(input)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim``."""
    _check(input, "softmax")
    return _red.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(x)) along ``dim``, computed stably."""
    _check(input, "log_softmax")
    return _red.log_softmax(input, dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x) along ``dim``."""
    _check(input, "softmin")
    return _red.softmax(-input, dim, dtype=dtype)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta; linear where beta * x > threshold."""
    _check(input, "softplus")
    return _act.softplus(input, beta, threshold)


def softsign(input):
    """``x / (1 + |x|)``."""
    return input / (_ew.abs(input) + 1)


def tanhshrink(input):
    """x - tanh(x)."""
    return input - _ew.tanh(input)


def hardshrink(input, lambd=0.5):
    """``x`` where ``|x| > lambd``, else 0."""
    return _ew.where(_ew.abs(input) > lambd, input, 0.0)


def softshrink(input, lambd=0.5):
    """x - lambd for x > lambd, x + lambd for x < -lambd, else 0."""
    if lambd < 0:
        raise RuntimeError(f"softshrink: lambda must be greater or equal to 0, but found to be {lambd}.")
    return _ew.where(input > lambd, input - lambd, _ew.where(input < -lambd, input + lambd, 0.0))


@presents_as("LogSigmoidBackward0", "input")
def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x), without overflow."""
    return -_act.softplus(-input)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else ``value``."""
    return _apply(input, lambda x: _ew.where(x > threshold, x, float(value)), inplace, "threshold")


def threshold_(input, threshold, value):
    return _threshold(input, threshold, value, inplace=True)


_threshold = threshold


def glu(input, dim=-1):
    """a * sigmoid(b) where a, b are the two halves of ``input`` along ``dim``."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    if input.shape[dim] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim} is size {input.shape[dim]}")
    a, b = input.chunk(2, dim)
    return a * _ew.sigmoid(b)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky ReLU: in training each negative element gets a slope drawn from
    ``U(lower, upper)``; in eval the slope is ``(lower + upper) / 2``."""
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace=inplace)
    from ...random import random_array

    x = input._data
    u = random_array("uniform", x.shape, x.dtype, input.device)
    slope = (u * x.dtype.type(upper - lower) + x.dtype.type(lower)).astype(x.dtype, copy=False)
    noise = Tensor._wrap(slope * (x < 0) + (x >= 0).astype(x.dtype))
    out = input * noise
    if inplace:
        input._check_inplace()
        return input._assign(out)
    return out


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """Softmax of ``(logits + Gumbel noise) / tau`` along ``dim``; ``hard=True`` returns the one-hot of its
    argmax with the soft sample's gradient (straight-through)."""
    from ...random import random_array

    x = logits._data
    u = random_array("uniform", x.shape, x.dtype, logits.device)
    xp = array_module(u)
    gumbels = Tensor._wrap((-xp.log(-xp.log1p(-u))).astype(x.dtype, copy=False))  # -log of Exp(1) draws
    y_soft = softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft
    index = y_soft.argmax(dim, keepdim=True)
    y_hard = (y_soft * 0).detach().scatter(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft

