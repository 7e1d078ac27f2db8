"""Creating tensors: from data (``tensor``, ``as_tensor``, ``from_numpy``), filled (``zeros``, ``full``,
...), ranges (``arange``, ``linspace``, ``eye``) and random (``rand``, ``randn``, ``randint``, ...)."""

import math

import numpy as np

from . import default_device as _default_device
from . import dtypes as _dt
from .backend import CPU, Device, device_of, is_cupy_array, module_for, to_device
from .random import random_array
from .tensor import Tensor


def _device(device):
    if device is None:
        default = _default_device.current()
        return CPU if default is None else default
    return Device(device)


def _infer_np_dtype(data):
    """PyTorch's dtype for Python data: bools -> bool, ints -> int64, floats -> the default float."""
    kinds = set()

    def walk(x):
        if isinstance(x, (list, tuple)):
            for y in x:
                walk(y)
        elif isinstance(x, Tensor):
            kinds.add(x._data.dtype)
        elif isinstance(x, np.ndarray):
            kinds.add(x.dtype)
        elif isinstance(x, (bool, np.bool_)):
            kinds.add("b")
        elif isinstance(x, (int, np.integer)):
            kinds.add("i")
        elif isinstance(x, (float, np.floating)):
            kinds.add("f")
        else:
            raise TypeError(f"tensor(): could not infer dtype of {type(x).__name__}")

    walk(data)
    arrays = [k for k in kinds if isinstance(k, np.dtype)]
    if arrays and not (kinds - set(arrays)):
        return _dt.result_type(*[np.empty(1, d) for d in arrays])
    if "f" in kinds or any(k.kind == "f" for k in arrays):
        return _dt.get_default_dtype().np
    if "i" in kinds or any(k.kind in "iu" for k in arrays):
        return np.dtype(np.int64)
    return np.dtype(np.bool_) if kinds else _dt.get_default_dtype().np


def _to_array(data, dtype=None, device=None, copy=True):
    """A raw array (numpy or cupy) for ``data`` with PyTorch's dtype inference."""
    npd = None if dtype is None else _dt.get_dtype(dtype).np
    if isinstance(data, Tensor):
        arr = data._data
        if npd is not None and arr.dtype != npd:
            arr = arr.astype(npd)
        elif copy:
            arr = arr.copy()
        return arr if device is None else to_device(arr, Device(device))
    if isinstance(data, np.ndarray) or is_cupy_array(data):
        arr = data
        if npd is None:
            _dt.from_numpy_dtype(arr.dtype)  # refuses dtypes without an equivalent
        arr = arr.astype(npd) if npd is not None and arr.dtype != npd else (arr.copy() if copy else arr)
    elif isinstance(data, np.generic):
        arr = np.asarray(data, dtype=npd)
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat(data)):
            data = _nested_tensors_to_lists(data)
        arr = np.asarray(data, dtype=npd if npd is not None else _infer_np_dtype(data))
        if arr.dtype == object:
            raise TypeError("tensor(): data must be a (nested) sequence of numbers of equal lengths")
    if device is None:
        device = _default_device.current()
    if device is not None:
        arr = to_device(arr, Device(device))
    return arr


def _flat(x):
    for y in x:
        if isinstance(y, (list, tuple)):
            yield from _flat(y)
        else:
            yield y


def _nested_tensors_to_lists(x):
    if isinstance(x, Tensor):
        return x.__array__()
    if isinstance(x, (list, tuple)):
        return [_nested_tensors_to_lists(y) for y in x]
    return x


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (nested lists, numbers, numpy arrays or tensors)."""
    t = Tensor._wrap(_to_array(data, dtype, device))
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with numpy arrays / tensors where no conversion is needed."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (dtype or device) else data
    return Tensor._wrap(_to_array(data, dtype, device, copy=False))


def from_numpy(array):
    """A tensor sharing memory with the numpy ``array``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    _dt.from_numpy_dtype(array.dtype)
    return Tensor._wrap(array)


def _dtype_np(dtype, default=None):
    if dtype is None:
        return default if default is not None else _dt.get_default_dtype().np
    return _dt.get_dtype(dtype).np


def _size_arg(size, kw):
    """Sizes given positionally or as ``size=``; any other keyword is an error."""
    if not size and "size" in kw:
        size = (kw.pop("size"),)
    if kw:
        raise TypeError(f"unexpected keyword arguments {sorted(kw)}")
    return _size(size)


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    size = tuple(int(s) for s in size)
    for s in size:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
    return size


def _finish(arr, requires_grad):
    t = Tensor._wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size, dtype=None, device=None, requires_grad=False, **kw):
    """A tensor of zeros: ``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``."""
    size = _size_arg(size, kw)
    return _finish(module_for(_device(device)).zeros(size, dtype=_dtype_np(dtype)), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, **kw):
    """A tensor of ones (size given as for ``zeros``)."""
    size = _size_arg(size, kw)
    return _finish(module_for(_device(device)).ones(size, dtype=_dtype_np(dtype)), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, memory_format=None, **kw):
    """An uninitialised tensor (size given as for ``zeros``)."""
    size = _size_arg(size, kw)
    return _finish(module_for(_device(device)).empty(size, dtype=_dtype_np(dtype)), requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of ``size`` filled with ``fill_value`` (its dtype inferred from the value)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    default = _infer_np_dtype([fill_value])
    return _finish(
        module_for(_device(device)).full(_size((size,)), fill_value, dtype=_dtype_np(dtype, default)),
        requires_grad,
    )


def _like(fn, a, dtype, device, requires_grad, memory_format, *args):
    dtype = a.dtype if dtype is None else dtype
    device = a.device if device is None else device
    return _laid_out(fn(*args, dtype=dtype, device=device, requires_grad=requires_grad), a, memory_format)


def _laid_out(t, a, memory_format):
    """``t`` in the layout ``memory_format`` asks for (default ``preserve_format``: ``a``'s, e.g.
    channels-last), as PyTorch's ``*_like`` functions."""
    if memory_format is None and a._data.flags.c_contiguous:
        return t  # the common case, kept cheap
    from .memory_format import layout_like

    t._data = layout_like(t._data, a._data, memory_format)
    return t


def zeros_like(a, dtype=None, device=None, requires_grad=False, memory_format=None):
    """Zeros with ``a``'s shape, and its dtype, device and layout unless given."""
    return _like(zeros, a, dtype, device, requires_grad, memory_format, a.shape)


def ones_like(a, dtype=None, device=None, requires_grad=False, memory_format=None):
    """Ones with ``a``'s shape, and its dtype, device and layout unless given."""
    return _like(ones, a, dtype, device, requires_grad, memory_format, a.shape)


def empty_like(a, dtype=None, device=None, requires_grad=False, memory_format=None):
    """An uninitialized tensor with ``a``'s shape, and its dtype, device and layout unless given."""
    return _like(empty, a, dtype, device, requires_grad, memory_format, a.shape)


def full_like(a, fill_value, dtype=None, device=None, requires_grad=False, memory_format=None):
    """A tensor of ``fill_value`` with ``a``'s shape, and its dtype, device and layout unless given."""
    t = full(
        a.shape,
        fill_value,
        dtype=a.dtype if dtype is None else dtype,
        device=a.device if device is None else device,
        requires_grad=requires_grad,
    )
    return _laid_out(t, a, memory_format)


def rand_like(a, dtype=None, device=None, requires_grad=False, generator=None):
    """Uniform samples in [0, 1) with ``a``'s shape, and its dtype and device unless given."""
    return rand(
        a.shape,
        dtype=dtype or a.dtype,
        device=device or a.device,
        requires_grad=requires_grad,
        generator=generator,
    )


def randn_like(a, dtype=None, device=None, requires_grad=False, generator=None):
    """Standard normal samples with ``a``'s shape, and its dtype and device unless given."""
    return randn(
        a.shape,
        dtype=dtype or a.dtype,
        device=device or a.device,
        requires_grad=requires_grad,
        generator=generator,
    )


def randint_like(a, low=0, high=None, dtype=None, device=None):
    """Integers from ``[low, high)`` (``[0, low)`` with one bound) shaped and typed like ``a``."""
    if high is None:
        low, high = 0, low
    return randint(low, high, a.shape, dtype=dtype or a.dtype, device=device or a.device)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values from ``start`` (inclusive) to ``end`` (exclusive) by ``step``; ints give int64."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0 and end != start:
        raise RuntimeError(
            f"arange: upper bound and larger bound inconsistent with step sign "
            f"(start={start}, end={end}, step={step})"
        )
    default = _infer_np_dtype(list(vals))
    npd = _dtype_np(dtype, default)
    n = max(int(math.ceil((end - start) / step)), 0)
    xp = module_for(_device(device))
    arr = (
        (xp.arange(n, dtype=np.float64) * step + start).astype(npd)
        if npd.kind == "f"
        else xp.arange(start, start + n * step, step, dtype=npd)[:n]
    )
    return _finish(arr, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (default float dtype)."""
    xp = module_for(_device(device))
    return _finish(xp.linspace(start, end, int(steps)).astype(_dtype_np(dtype)), requires_grad)


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    """``base ** linspace(start, end, steps)``: ``steps`` log-spaced values (default float dtype)."""
    xp = module_for(_device(device))
    return _finish((base ** xp.linspace(start, end, int(steps))).astype(_dtype_np(dtype)), requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """An ``n`` x ``m`` (``m`` defaults to ``n``) 2-D tensor with ones on the diagonal, zeros elsewhere."""
    xp = module_for(_device(device))
    return _finish(xp.eye(n, n if m is None else m, dtype=_dtype_np(dtype)), requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform numbers in [0, 1)."""
    return _finish(
        random_array("uniform", _size(size), _dtype_np(dtype), _device(device), generator), requires_grad
    )


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal numbers."""
    return _finish(
        random_array("normal", _size(size), _dtype_np(dtype), _device(device), generator), requires_grad
    )


def randint(low=0, high=None, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """Integers in [low, high); ``randint(high, size)`` also works."""
    if size is None:
        if isinstance(high, (tuple, list)):
            low, high, size = 0, low, high
        else:
            raise TypeError("randint() missing required argument 'size'")
    if high is None:
        low, high = 0, low
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    arr = random_array(
        "integers",
        _size((size,)),
        _dtype_np(dtype, np.dtype(np.int64)),
        _device(device),
        generator,
        low=low,
        high=high,
    )
    return _finish(arr, requires_grad)


def randperm(n, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of ``0..n-1``."""
    arr = random_array(
        "permutation", None, _dtype_np(dtype, np.dtype(np.int64)), _device(device), generator, n=n
    )
    return _finish(arr, requires_grad)


def normal(mean=0.0, std=1.0, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """Normal numbers with the given mean and std (numbers or tensors that broadcast)."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        shape = np.broadcast_shapes(getattr(mean, "shape", ()), getattr(std, "shape", ()))
        noise = randn(shape, generator=generator, dtype=ref.dtype, device=ref.device)
        return (noise * std + mean).detach()
    if size is None:
        size = ()
    return _finish(
        random_array("normal", _size((size,)), _dtype_np(dtype), _device(device), generator) * std + mean,
        requires_grad,
    )


def bernoulli(p, generator=None):
    """0/1 draws with probabilities ``p`` (a tensor)."""
    from .random import _fill_bernoulli

    return _fill_bernoulli(empty_like(p), p, generator)


def multinomial(probs, num_samples, replacement=False, generator=None):
    """Indices drawn from the rows of ``probs`` (1-D or 2-D, unnormalised weights)."""
    from .random import _gen

    p = probs.__array__().astype(np.float64)
    rows = p[None] if p.ndim == 1 else p
    g = _gen(generator, np)
    out = []
    for row in rows:
        if (row < 0).any() or not np.isfinite(row).all() or row.sum() <= 0:
            raise RuntimeError(
                "multinomial: probability tensor contains either inf, nan or element < 0, or all zeros"
            )
        if not replacement and num_samples > (row > 0).sum():
            raise RuntimeError(
                "multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement"
            )
        out.append(g.choice(len(row), size=num_samples, replace=replacement, p=row / row.sum()))
    arr = np.stack(out).astype(np.int64)
    res = Tensor._wrap(arr[0] if p.ndim == 1 else arr)
    return res.to(device_of(probs._data))
