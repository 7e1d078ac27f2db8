"""Binds the functional ops as Tensor methods (``x.sum()``, ``x.reshape(...)``, ...)."""

from .. import ops
from . import strided as _strided

_SAME_NAME = """
abs neg exp expm1 log log1p log2 log10 sqrt rsqrt sin cos tanh sigmoid relu erf floor ceil trunc
sign round reciprocal square clamp clip where gather scatter scatter_add index_select masked_fill
masked_select nonzero argwhere sort argsort topk matmul mm bmm dot mv outer add sub mul div pow
remainder maximum minimum eq ne lt le gt ge logical_and logical_or logical_not logical_xor
bitwise_not isnan isinf isfinite allclose isclose equal sum mean var std max min amax amin argmax
argmin prod cumsum cumprod logsumexp softmax log_softmax norm all any count_nonzero reshape view
flatten unflatten squeeze unsqueeze permute transpose swapaxes t expand repeat tile flip fliplr
flipud roll narrow split chunk unbind movedim clone contiguous lerp addcmul addcdiv diagonal
index_fill index_add index_copy put tril triu take_along_dim broadcast_to
tan asin acos atan sinh cosh asinh acosh atanh arcsin arccos arctan arcsinh arccosh arctanh atan2 arctan2
hypot exp2 logaddexp logaddexp2 frac fmod floor_divide nan_to_num heaviside sgn deg2rad rad2deg
diag diag_embed rot90 diff kron trace take median nanmedian quantile nanquantile kthvalue mode cummax cummin
unique_consecutive histc
""".split()
_INPLACE = """
tan asin acos atan sinh cosh asinh acosh atanh arcsin arccos arctan arcsinh arccosh arctanh atan2 arctan2
hypot exp2 frac fmod floor_divide nan_to_num heaviside sgn deg2rad rad2deg
""".split()


def install(cls):
    for name in _SAME_NAME:
        setattr(cls, name, getattr(ops, name))
    for name in _INPLACE:
        setattr(cls, name + "_", cls._generic_inplace(name))
    cls.multiply = ops.mul
    cls.subtract = ops.sub
    cls.divide = ops.div
    cls.true_divide = ops.div
    cls.absolute = ops.abs
    cls.negative = ops.neg
    cls.greater = ops.gt
    cls.less = ops.lt
    cls.new_zeros = _new(lambda xp, size, dt: xp.zeros(size, dt))
    cls.new_ones = _new(lambda xp, size, dt: xp.ones(size, dt))
    cls.new_empty = _new(lambda xp, size, dt: xp.empty(size, dt))
    cls.new_full = new_full
    cls.new_tensor = new_tensor
    cls.view_as = lambda self, other: ops.view(self, other.shape)
    cls.reshape_as = lambda self, other: ops.reshape(self, other.shape)
    cls.expand_as = lambda self, other: ops.expand(self, other.shape)
    cls.softmax = ops.softmax
    cls.unfold = _strided.unfold
    cls.unique = unique
    for name in ("det", "inverse", "logdet", "slogdet", "pinverse", "cholesky", "svd", "qr"):
        setattr(cls, name, _linalg_method(name))
    for name in _COMPAT_METHODS:
        if not hasattr(cls, name):
            setattr(cls, name, getattr(ops, name))
    _install_more(cls)


# PyTorch Tensor methods whose functions live in ``ops.compat``
_COMPAT_METHODS = """
repeat_interleave ravel moveaxis swapdims select tensor_split hsplit vsplit dsplit nansum nanmean aminmax
msort cross dist logit erfc sinc xlogy float_power fmax fmin copysign signbit matrix_power cov corrcoef inner
vdot addmv addr bincount greater greater_equal less less_equal not_equal positive multiply subtract divide
true_divide negative logcumsumexp diagflat clamp_min clamp_max
""".split()


def _linalg_method(name):
    """``x.det()`` and kin: ``linalg`` loads on first use, keeping ``import visionlite`` light."""
    def method(self, *args, **kwargs):
        from ..linalg import _legacy

        return getattr(_legacy, name)(self, *args, **kwargs)

    method.__name__ = name
    return method


def _new(make):
    def method(self, *size, dtype=None, device=None, requires_grad=False):
        from ..creation import _size
        from ..dtypes import get_dtype

        xp = self._array_module()
        dt = self._data.dtype if dtype is None else get_dtype(dtype).np
        out = self._wrap(make(xp, _size(size), dt))
        if device is not None:
            out = out.to(device)
        if requires_grad:
            out.requires_grad_(True)
        return out

    return method


def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of ``size`` filled with ``fill_value``, with self's dtype and device unless given."""
    from ..creation import full

    return full(
        size,
        fill_value,
        dtype=self.dtype if dtype is None else dtype,
        device=self.device if device is None else device,
        requires_grad=requires_grad,
    )


def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    """A copy of ``data`` as a tensor with self's dtype and device unless given."""
    from ..creation import tensor

    return tensor(
        data,
        dtype=self.dtype if dtype is None else dtype,
        device=self.device if device is None else device,
        requires_grad=requires_grad,
    )


def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The sorted unique elements (flattened, or along ``dim``), plus inverse indices and counts if asked."""
    xp = self._array_module()
    res = xp.unique(self._data, return_inverse=return_inverse, return_counts=return_counts, axis=dim)
    if not isinstance(res, tuple):
        return self._wrap(res)
    out = [self._wrap(res[0])]
    for r in res[1:]:
        out.append(
            self._wrap(r.reshape(self._data.shape) if r.ndim and return_inverse and r is res[1] else r).long()
        )
    return tuple(out)


# Tensor methods PyTorch has that are other ops under a method name, and in-place forms of existing ones
_FUNCTION_METHODS = "addmm baddbmm bitwise_and bitwise_or bitwise_xor bernoulli multinomial".split()
_MORE_INPLACE = """
log10 log1p log2 rsqrt square erf erfc expm1 sinc logit xlogy float_power copysign eq ne lt le gt ge greater
greater_equal less less_equal not_equal logical_and logical_or logical_xor logical_not bitwise_and bitwise_or
bitwise_xor bitwise_not cumsum cumprod tril triu remainder divide multiply subtract true_divide negative
clamp_min clamp_max
""".split()


def _install_more(cls):
    for name in _FUNCTION_METHODS:
        if not hasattr(cls, name) and hasattr(ops, name):
            setattr(cls, name, getattr(ops, name))
    cls.clamp_min = lambda self, min: ops.clamp(self, min=min)  # noqa: E731
    cls.clamp_max = lambda self, max: ops.clamp(self, max=max)  # noqa: E731
    for name in _MORE_INPLACE:
        if not hasattr(cls, name + "_") and hasattr(cls, name):
            setattr(cls, name + "_", cls._generic_inplace(name))
    cls.mH = property(lambda self: self.mT,  # real tensors: the conjugate transpose is the transpose
                      doc="The conjugate transpose of the last two dims (real dtypes: ``mT``).")
    cls.H = property(lambda self: self.t(), doc="The conjugate transpose of a matrix (real dtypes: ``t()``).")
    cls.adjoint = lambda self: self.mT  # noqa: E731
    for name in ("conj", "resolve_conj", "resolve_neg", "conj_physical"):
        setattr(cls, name, lambda self: self)  # no complex dtypes: each is the identity
    cls.real = property(lambda self: self, doc="The real part: self, as visionlite has no complex dtypes.")
    cls.is_complex = lambda self: False  # noqa: E731
    cls.is_conj = lambda self: False  # noqa: E731
    cls.is_neg = lambda self: False  # noqa: E731
    cls.is_inference = lambda self: False  # noqa: E731
    cls.is_signed = lambda self: self._data.dtype.kind in "if"  # noqa: E731
    cls.is_same_size = lambda self, other: tuple(self.shape) == tuple(other.shape)  # noqa: E731
    cls.get_device = lambda self: self.device.index if self.device.type == "cuda" and \
        self.device.index is not None else (0 if self.device.type == "cuda" else -1)
    cls.is_nonzero = _is_nonzero
    for name, doc in _DOCS.items():  # the lambdas and factory-made methods above get theirs here
        fn = getattr(cls, name)
        if fn.__module__ == __name__:  # never relabel an op shared with the functional API
            fn.__doc__ = doc


# One-line docstrings of the methods defined in this module without a ``def`` of their own.
_DOCS = {
    "new_zeros": "A zero tensor of ``size`` with self's dtype and device unless given.",
    "new_ones": "A tensor of ones of ``size`` with self's dtype and device unless given.",
    "new_empty": "An uninitialized tensor of ``size`` with self's dtype and device unless given.",
    "view_as": "``self.view(other.shape)``.",
    "reshape_as": "``self.reshape(other.shape)``.",
    "expand_as": "``self.expand(other.shape)``: self broadcast to ``other``'s shape.",
    "det": "Determinant of each square matrix in the last two dims, as ``torch.linalg.det``.",
    "inverse": "Inverse of each square matrix in the last two dims, as ``torch.linalg.inv``.",
    "logdet": "``log(det)`` of each square matrix (NaN for a negative determinant), as ``torch.logdet``.",
    "slogdet": "``(sign, log(abs(det)))`` of each square matrix, as ``torch.slogdet``.",
    "pinverse": "Moore-Penrose pseudo-inverse of the last two dims, as ``torch.pinverse``.",
    "cholesky": "Removed from PyTorch (as here): raises, pointing at ``linalg.cholesky``.",
    "svd": "``(U, S, V)`` with ``self = U diag(S) V^T`` (V, not Vh; reduced unless ``some=False``).",
    "qr": "Removed from PyTorch (as here): raises, pointing at ``linalg.qr``.",
    "clamp_min": "Self clamped from below at ``min``.",
    "clamp_max": "Self clamped from above at ``max``.",
    "adjoint": "The conjugate transpose of the last two dims (real dtypes: ``mT``).",
    "conj": "The complex conjugate: self, as visionlite has no complex dtypes.",
    "resolve_conj": "Self (no complex dtypes, so never a lazy conjugate).",
    "resolve_neg": "Self (never a lazy negation).",
    "conj_physical": "The complex conjugate: self, as visionlite has no complex dtypes.",
    "is_complex": "False: visionlite has no complex dtypes.",
    "is_conj": "False: visionlite has no complex dtypes.",
    "is_neg": "False: visionlite has no lazy negation.",
    "is_inference": "False: visionlite has no inference tensors.",
    "is_signed": "True for signed dtypes (signed integers and floating point), False for bool and uint8.",
    "is_same_size": "True when ``other`` has the same shape.",
    "get_device": "The CUDA device index, or -1 for a CPU tensor.",
}


def _is_nonzero(self):
    """The truth value of a one-element tensor (errors for more or fewer elements)."""
    if self.numel() != 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous" if self.numel()
                           else "Boolean value of Tensor with no values is ambiguous")
    return bool(self.item() != 0)

