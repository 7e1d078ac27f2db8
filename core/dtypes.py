"""Tensor element types and PyTorch's type-promotion rules.

Each dtype wraps a numpy dtype; bfloat16 is available where the ``ml_dtypes`` package is installed.
"""

import importlib.util

import numpy as np


class dtype:
    """An element type, such as ``visionlite.float32``."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "category")

    def __init__(self, name, np_dtype, category):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category  # 0 bool, 1 integer, 2 floating: the order of type promotion
        self.is_floating_point = category == 2
        self.is_signed = category == 2 or (category == 1 and self.np.kind == "i")
        self.itemsize = self.np.itemsize

    def __repr__(self):
        return f"visionlite.{self.name}"

    def __reduce__(self):
        return (get_dtype, (self.name,))

    def to_real(self):
        return self


bool_ = dtype("bool", np.bool_, 0)
uint8 = dtype("uint8", np.uint8, 1)
uint16 = dtype("uint16", np.uint16, 1)  # 16-bit PNGs decode to it, as in TorchVision
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
float16 = dtype("float16", np.float16, 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)

class _DeferredDtype(dtype):
    """A dtype whose numpy type lives in an optional package, imported on first use: ``ml_dtypes`` (for
    bfloat16) takes longer to import than the rest of visionlite, and most programs never touch it."""

    __slots__ = ("_np", "_loader")

    def __init__(self, name, loader, category, itemsize):
        self.name = name
        self._np = None
        self._loader = loader
        self.category = category
        self.is_floating_point = category == 2
        self.is_signed = True
        self.itemsize = itemsize

    @property
    def np(self):
        if self._np is None:
            self._np = np.dtype(self._loader())
            _BY_NP[self._np] = self
        return self._np


def _load_bfloat16():
    import ml_dtypes

    return ml_dtypes.bfloat16


# bfloat16 needs ml_dtypes; without it the name exists (as None) but cannot be used
bfloat16 = _DeferredDtype("bfloat16", _load_bfloat16, 2, 2) if importlib.util.find_spec("ml_dtypes") else None

_ALL = [bool_, uint8, uint16, int8, int16, int32, int64, float16, float32, float64] + (
    [bfloat16] if bfloat16 else []
)
_BY_NP = {d.np: d for d in _ALL if not isinstance(d, _DeferredDtype)}
_BY_NAME = {d.name: d for d in _ALL}
_ALIASES = {
    "half": "float16",
    "float": "float32",
    "double": "float64",
    "long": "int64",
    "int": "int32",
    "short": "int16",
    "bool": "bool",
}

_default_float = [float32]


def get_dtype(spec):
    """Resolve a visionlite dtype, numpy dtype, Python type or name to a visionlite dtype."""
    if isinstance(spec, dtype):
        return spec
    if spec is float:
        return _default_float[0]
    if spec is int:
        return int64
    if spec is bool:
        return bool_
    if isinstance(spec, str):
        name = _ALIASES.get(spec, spec)
        if name == "bfloat16" and bfloat16 is None:
            raise TypeError("bfloat16 needs the ml_dtypes package: pip install ml_dtypes")
        if name in _BY_NAME:
            return _BY_NAME[name]
        raise TypeError(f"unknown dtype {spec!r}")
    try:
        return from_numpy_dtype(np.dtype(spec))
    except TypeError:
        raise TypeError(f"unsupported dtype {spec!r}; supported: {', '.join(_BY_NAME)}") from None


def is_float(np_dtype):
    """True for floating numpy dtypes, bfloat16 (whose numpy kind is 'V') included."""
    return np_dtype.kind == "f" or _is_bfloat16(np_dtype)


def _is_bfloat16(np_dtype):
    # By name, so that asking about other dtypes never imports ml_dtypes.
    return np_dtype.kind == "V" and np_dtype.name == "bfloat16" and bfloat16 is not None


def from_numpy_dtype(np_dtype):
    """The visionlite dtype of a numpy dtype (raises for unsupported ones, e.g. complex or uint32)."""
    d = _BY_NP.get(np_dtype)
    if d is None and _is_bfloat16(np_dtype) and bfloat16.np == np_dtype:
        d = bfloat16
    if d is None:
        raise TypeError(
            f"numpy dtype {np_dtype} has no visionlite equivalent; supported: {', '.join(_BY_NAME)}"
        )
    return d


def set_default_dtype(d):
    """Set the floating dtype used for Python floats and new float tensors (float32 or float64)."""
    d = get_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"default dtype must be floating point, got {d}")
    _default_float[0] = d


def get_default_dtype():
    """The floating dtype used for Python floats and new float tensors (float32 unless set)."""
    return _default_float[0]


def _category_of_scalar(x):
    if isinstance(x, (bool, np.bool_)):
        return 0
    if isinstance(x, (int, np.integer)):
        return 1
    if isinstance(x, (float, np.floating)):
        return 2
    raise TypeError(f"unsupported scalar operand of type {type(x).__name__}")


def _promote_same_kind(a, b):
    """Promote two numpy dtypes (as numpy does, but keep torch's bfloat16 + float16 -> float32)."""
    if a == b:
        return a
    if _is_bfloat16(a) or _is_bfloat16(b):
        other = b if a == bfloat16.np else a
        return float32.np if other in (float16.np,) else (other if other.itemsize > 2 else bfloat16.np)
    return np.promote_types(a, b)


def _promote_group(dtypes):
    result = None
    for d in dtypes:
        if result is None:
            result = d
            continue
        ca, cb = from_numpy_dtype(result).category, from_numpy_dtype(d).category
        if ca == cb:
            result = _promote_same_kind(result, d)
        elif cb > ca:
            result = d
    return result


def result_type(*operands):
    """numpy dtype of an op on tensors/arrays and Python scalars, by PyTorch's rules.

    Dimensioned tensors decide; zero-dim tensors and then Python scalars only raise the category
    (bool < integer < floating), to the default dtype of that category for scalars.
    """
    dims, zero_dims, scalars = [], [], []
    for x in operands:
        a = getattr(x, "_data", x)
        if hasattr(a, "dtype") and hasattr(a, "ndim") and not isinstance(a, np.generic):
            (dims if a.ndim else zero_dims).append(a.dtype)
        else:
            scalars.append(x)
    result = _promote_group(dims)
    zero = _promote_group(zero_dims)
    if result is None:
        result = zero
    elif zero is not None and from_numpy_dtype(zero).category > from_numpy_dtype(result).category:
        result = zero
    if scalars:
        cat = max(_category_of_scalar(s) for s in scalars)
        if result is None or cat > from_numpy_dtype(result).category:
            result = (bool_, int64, _default_float[0])[cat].np
    return result
