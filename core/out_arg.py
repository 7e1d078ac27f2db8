"""The ``out=`` keyword of PyTorch's functions (``torch.add(a, b, out=c)``): the result is written into
``out`` (resized, with PyTorch's deprecation warning, when its shape differs and it is not empty) and
``out`` is returned. As in PyTorch, no autograd: an input needing a gradient is an error."""
import functools
import warnings

from .autograd.grad_mode import is_grad_enabled, no_grad
from .autograd.versions import bump_version
from .tensor import Tensor

__all__ = ["with_out"]

# the public functions that take out=
OUT_FUNCTIONS = ("add", "sub", "mul", "div", "matmul", "mm", "bmm", "cat", "stack", "sum", "mean", "clamp",
                 "pow", "exp", "log", "sqrt", "abs", "neg", "maximum", "minimum", "where", "prod", "cumsum",
                 "addmm", "mv", "dot", "outer", "sigmoid", "tanh", "relu")


# functions whose out must have the result's dtype exactly (PyTorch refuses to cast for them)
_SAME_DTYPE = {"matmul", "mm", "bmm", "addmm", "mv", "dot", "outer", "clamp"}
_SHORT = {"float32": "float", "float64": "double", "float16": "half", "int64": "long", "int32": "int"}


def _check_same_dtype(name, result, out):
    r, o = result._data.dtype.name, out._data.dtype.name
    if r == o:
        return
    if name == "clamp":
        raise RuntimeError(f"Found dtype {_TYPE_NAMES.get(o, o)} but expected {_TYPE_NAMES.get(r, r)}")
    raise RuntimeError(f"Expected out tensor to have dtype {_SHORT.get(r, r)}, but got {_SHORT.get(o, o)} "
                       "instead")


def _tensors(args, kwargs):
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, Tensor):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from (x for x in a if isinstance(x, Tensor))


def _write(out, result):
    data = result._data
    if data.dtype != out._data.dtype:
        kinds = "biuf"
        if kinds.index(data.dtype.kind) > kinds.index(out._data.dtype.kind):
            rname, oname = (_TYPE_NAMES.get(d.name, d.name) for d in (data.dtype, out._data.dtype))
            raise RuntimeError(f"result type {rname} can't be cast to the desired output type {oname}")
        data = data.astype(out._data.dtype)
    if data.shape != out._data.shape:
        if out._data.size:
            warnings.warn(f"An output with one or more elements was resized since it had shape "
                          f"{list(out._data.shape)}, which does not match the required output shape "
                          f"{list(data.shape)}. This behavior is deprecated, and in a future PyTorch release "
                          "outputs will not be resized unless they have zero elements. You can explicitly "
                          "reuse an out tensor t by resizing it, inplace, to zero elements with "
                          "t.resize_(0).",
                          UserWarning, stacklevel=3)
        out._data = data.copy()
    else:
        out._data[...] = data
    bump_version(out)
    return out


# PyTorch's scalar type names in its messages, by numpy dtype name
_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
               "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool", "bfloat16": "BFloat16"}


def with_out(fn):
    """``fn`` taking an extra keyword ``out``."""
    @functools.wraps(fn)
    def call(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        if not isinstance(out, Tensor):
            raise TypeError(f"{fn.__name__}(): argument 'out' must be Tensor, not {type(out).__name__}")
        if is_grad_enabled() and (out.requires_grad or any(t.requires_grad for t in _tensors(args, kwargs))):
            raise RuntimeError(f"{fn.__name__}(): functions with out=... arguments don't support automatic "
                               "differentiation, but one of the arguments requires grad.")
        with no_grad():
            result = fn(*args, **kwargs)
        if fn.__name__ in _SAME_DTYPE:
            _check_same_dtype(fn.__name__, result, out)
        return _write(out, result)

    return call
