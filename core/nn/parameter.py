"""``Parameter``: a Tensor that a Module registers as learnable; ``Buffer``: one it registers as state.

Both share storage with the tensor they are made from, as in PyTorch.
"""
import numpy as np

from ..autograd.versions import reset_version, share_version
from ..tensor import Tensor


def _storage_of(data):
    """The raw array behind ``data`` (a Tensor, an array or None), without copying."""
    if data is None:
        from ..dtypes import get_default_dtype

        return np.empty((0,), dtype=get_default_dtype().np)
    if isinstance(data, Tensor):
        return data._data
    from ..creation import _to_array

    return _to_array(data, copy=False)


def _init_like(self, data, requires_grad):
    arr = _storage_of(data)
    self._data = arr
    self.requires_grad = False
    self.grad = None
    self._ctx = None
    self._out_index = 0
    # A parameter made from a tensor is that tensor's storage under a new name: versions are shared.
    if isinstance(data, Tensor):
        share_version(self, data)
    else:
        reset_version(self)
    self._hooks = None
    self._base = None
    self._retains_grad = False
    if requires_grad:
        self.requires_grad_(True)


class Parameter(Tensor):
    """A Tensor that is a module parameter: assigning one to a Module attribute registers it.

    ``Parameter(data=None, requires_grad=True)``; shares memory with ``data``.
    """

    def __init__(self, data=None, requires_grad=True):
        _init_like(self, data, requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def _copy_subclass(self, t):
        p = Parameter(t, requires_grad=t.requires_grad)
        p.grad = t.grad
        return p

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self.__array__(), str(self.device), self.requires_grad))


class Buffer(Tensor):
    """A Tensor that a Module registers as a buffer when assigned as an attribute.

    ``Buffer(data=None, *, persistent=True)``; non-persistent buffers stay out of ``state_dict``.
    """

    def __init__(self, data=None, *, persistent=True):
        _init_like(self, data, False)
        self.persistent = persistent

    def _copy_subclass(self, t):
        return Buffer(t, persistent=self.persistent)

    def __reduce_ex__(self, protocol):
        return (_rebuild_buffer, (self.__array__(), str(self.device), self.persistent))


def _rebuild_parameter(array, device, requires_grad):
    t = Tensor._wrap(array)
    if device != "cpu":
        t = t.to(device)
    return Parameter(t, requires_grad=requires_grad)


def _rebuild_buffer(array, device, persistent):
    t = Tensor._wrap(array)
    if device != "cpu":
        t = t.to(device)
    return Buffer(t, persistent=persistent)
