"""Turning a list of samples into a batch, as PyTorch's ``default_collate`` and ``default_convert``.

Tensors and numpy arrays are stacked along a new first dim, Python floats become a float64 tensor and
ints an int64 tensor, strings stay a list, and dicts, named tuples and sequences are collated field by
field (a tuple of fields comes back as a list, as in PyTorch).
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
    return Tensor._wrap(_stack_arrays([t._data for t in batch], "tensor"))


def _check_numeric(arr):
    if arr.dtype.kind in "SUOaV":
        raise TypeError(_ERR.format(f"numpy array of dtype {arr.dtype}", ""))
    from ..dtypes import from_numpy_dtype

    from_numpy_dtype(arr.dtype)  # refuses dtypes a Tensor cannot hold, naming them


def default_collate(batch):
    """Collate a list of ``batch_size`` samples into one batch (tensors get a leading batch dim)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack_tensors(batch)
    if isinstance(elem, np.ndarray):
        _check_numeric(elem)
        return Tensor._wrap(_stack_arrays([np.asarray(b) for b in batch], "numpy array"))
    if isinstance(elem, np.generic):
        _check_numeric(np.asarray(elem))
        return Tensor._wrap(np.asarray(batch))
    if isinstance(elem, bool):
        return Tensor._wrap(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, float):
        return Tensor._wrap(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, int):
        return Tensor._wrap(np.asarray(batch, dtype=np.int64))
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
