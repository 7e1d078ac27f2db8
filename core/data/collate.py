"""Turning a list of samples into a batch, as PyTorch's ``default_collate`` and ``default_convert``.

Tensors and numpy arrays are stacked along a new first dim (mixed dtypes promote as ``torch.stack``
does), strings stay a list, and dicts, named tuples and sequences are collated field by field (a tuple
of fields comes back as a list, as in PyTorch).

Numbers follow PyTorch, which looks at the first sample's type and then at every sample: a batch
that starts with a Python float is float64; one that starts with an int, a bool or a numpy scalar
gets the dtype ``torch.tensor(batch)`` infers over all samples (bool < int64 < default float, numpy
scalars keep their dtype), so ``[0, 0.5]`` is a float32 batch and ``[True, 2, 0]`` an int64 one.
"""
import collections.abc as abc
import copy

import numpy as np

from ..tensor import Tensor

__all__ = ["default_collate", "default_convert"]

_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}{}")


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _stack_arrays(arrays, what):
    shape = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != shape:
            raise RuntimeError(f"default_collate: stack expects each {what} to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(a.shape)} at entry {i}; resize or pad "
                               "the samples, or pass a collate_fn that handles different sizes")
    from ..backend import array_module

    return array_module(arrays[0]).stack(arrays)


def _stack_tensors(batch):
    if any(t.requires_grad for t in batch):
        from ..ops import stack

        return stack(batch)
    arrays = [t._data for t in batch]
    common = _common_dtype(arrays)
    return Tensor._wrap(_stack_arrays([a.astype(common, copy=False) for a in arrays], "tensor"))


def _check_numeric(arr):
    if arr.dtype.kind in "SUOaV":
        raise TypeError(_ERR.format(f"numpy array of dtype {arr.dtype}", ""))
    from ..dtypes import from_numpy_dtype

    from_numpy_dtype(arr.dtype)  # refuses dtypes a Tensor cannot hold, naming them


def _inferred_dtype(x):
    """The numpy dtype ``torch.tensor`` gives one sample of a number batch (None if ``x`` is no number)."""
    if isinstance(x, (np.generic, np.ndarray)):  # first: np.float64 is also a Python float
        return x.dtype if np.ndim(x) == 0 and x.dtype.kind in "biuf" else None
    if isinstance(x, bool):
        return np.dtype(np.bool_)
    if isinstance(x, int):
        if not -(2**63) <= x < 2**63:
            raise ValueError(f"Overflow when unpacking long long: default_collate: {x} does not fit in int64")
        return np.dtype(np.int64)
    if isinstance(x, float):
        from ..dtypes import get_default_dtype

        return get_default_dtype().np
    if isinstance(x, Tensor) and x.ndim == 0:
        return x._data.dtype
    return None


def _collate_numbers(batch):
    """A batch of Python numbers / numpy scalars, typed as ``torch.tensor(batch)`` types it."""
    from ..dtypes import _promote_group, from_numpy_dtype

    dtypes = []
    for i, x in enumerate(batch):
        d = _inferred_dtype(x)
        if d is None:
            if x is None:
                raise RuntimeError(f"Could not infer dtype of NoneType (default_collate: sample {i} is None; "
                                   "drop such samples in the dataset or in a collate_fn)")
            raise TypeError(f"default_collate: sample {i} is a {type(x).__name__}, but sample 0 is a number; "
                            "a batch of numbers needs every sample to be a number")
        from_numpy_dtype(d)  # refuses dtypes a Tensor cannot hold, naming them
        dtypes.append(d)
    values = [x.item() if isinstance(x, Tensor) else x for x in batch]
    return Tensor._wrap(np.asarray(values, dtype=_promote_group(dtypes)))


def _collate_floats(batch):
    """A batch that starts with a Python float: float64, every sample converted as ``float()`` does."""
    for i, x in enumerate(batch):
        if _inferred_dtype(x) is None:
            raise TypeError(f"must be real number, not {type(x).__name__} (default_collate: sample {i}; "
                            "sample 0 is a float, so every sample must be a number)")
    return Tensor._wrap(np.asarray([float(x) for x in batch], dtype=np.float64))


def _common_dtype(arrays):
    from ..dtypes import _promote_group

    return _promote_group([a.dtype for a in arrays])


def default_collate(batch):
    """Collate a list of ``batch_size`` samples into one batch (tensors get a leading batch dim)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack_tensors(batch)
    if isinstance(elem, np.ndarray):
        arrays = [np.asarray(b) for b in batch]
        for a in arrays:
            _check_numeric(a)
        common = _common_dtype(arrays)
        return Tensor._wrap(_stack_arrays([a.astype(common, copy=False) for a in arrays], "numpy array"))
    if isinstance(elem, (str, bytes)):  # numpy's str_ and bytes_ included, as in PyTorch
        return batch
    if isinstance(elem, np.generic):
        _check_numeric(np.asarray(elem))
        return _collate_numbers(batch)
    if isinstance(elem, float):
        return _collate_floats(batch)
    if isinstance(elem, int):  # bool included, as in PyTorch: the dtype comes from all samples
        return _collate_numbers(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, abc.Mapping):
        fields = {key: default_collate([d[key] for d in batch]) for key in elem}
        return _same_mapping_type(elem, fields)
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, abc.Sequence):
        if any(len(s) != len(elem) for s in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of equal size")
        fields = [default_collate(s) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return fields
        return _same_sequence_type(elem, fields)
    is_image = hasattr(elem, "getbands")  # a PIL image
    hint = " (convert images to tensors first, e.g. with transforms.ToTensor())" if is_image else ""
    if elem is None:
        hint = " (sample 0 is None: drop such samples in the dataset or in a collate_fn)"
    raise TypeError(_ERR.format(type(elem), hint))


def _same_mapping_type(elem, fields):
    if type(elem) is dict:
        return fields
    try:
        if isinstance(elem, abc.MutableMapping):
            out = copy.copy(elem)
            out.update(fields)
            return out
        return type(elem)(fields)
    except TypeError:
        return fields  # a mapping type that cannot be rebuilt from a dict


def _same_sequence_type(elem, fields):
    if type(elem) is list:
        return fields
    try:
        if isinstance(elem, abc.MutableSequence):
            out = copy.copy(elem)
            for i, f in enumerate(fields):
                out[i] = f
            return out
        return type(elem)(fields)
    except TypeError:
        return fields


def default_convert(data):
    """Convert one sample (no batching): numpy arrays become tensors, containers are converted inside."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (np.ndarray, np.generic)) and np.asarray(data).dtype.kind not in "SUOaV":
        return Tensor._wrap(np.asarray(data))
    if isinstance(data, abc.Mapping):
        return _same_mapping_type(data, {k: default_convert(v) for k, v in data.items()})
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, abc.Sequence) and not isinstance(data, (str, bytes)):
        return _same_sequence_type(data, [default_convert(d) for d in data])
    return data
