"""The Tensor: an n-dimensional array (numpy on the CPU, cupy on a GPU) that records the operations
applied to it, so gradients can flow back through them.

Operations live in ``core/ops``; the methods here are thin entry points to them.
"""

import numpy as np

from . import dtypes as _dt
from .amp_state import ACTIVE as _AUTOCAST
from .amp_state import dispatch as _autocast_dispatch
from .autograd.versions import reset_version, share_version
from .autograd.view_rebase import refresh_view
from .backend import CPU, Device, array_module, device_of, is_cupy_array, module_for, to_device
from .tensor_inplace import InplaceMethods
from .to_args import parse_to


class Tensor(InplaceMethods):
    """A multi-dimensional array with autograd, as ``torch.Tensor``. Create one with ``visionlite.tensor``."""

    __slots__ = (
        "_data",
        "requires_grad",
        "grad",
        "_ctx",
        "_out_index",
        "_version",
        "_hooks",
        "_base",
        "_view_ver",  # set with _base: the version the view's history was derived at (view_rebase.py)
        "_retains_grad",
        "__weakref__",
        "__dict__",
    )
    __array_priority__ = 1000  # numpy defers to Tensor's reflected operators

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        from .creation import _to_array

        self._data = _to_array(data, dtype, device)
        self.requires_grad = False
        self.grad = None
        self._ctx = None
        self._out_index = 0
        reset_version(self)
        self._hooks = None
        self._base = None
        self._retains_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _wrap(data):
        if type(data) is not np.ndarray and isinstance(data, np.generic):
            data = np.asarray(data)  # numpy reductions return scalars; a Tensor always holds an array
        t = object.__new__(Tensor)
        t._data = data
        t.requires_grad = False
        t.grad = None
        t._ctx = None
        t._out_index = 0
        reset_version(t)
        t._hooks = None
        t._base = None
        t._retains_grad = False
        return t

    # ------------------------------------------------------------------------------ metadata
    @property
    def shape(self):
        """The shape, a ``Size`` (a tuple of ints)."""
        return Size(self._data.shape)

    def size(self, dim=None):
        """The shape, or the length of dimension ``dim``."""
        if dim is None:
            return Size(self._data.shape)
        from .ops._util import normalize_dim

        return self._data.shape[normalize_dim(dim, self._data.ndim, "size")]

    @property
    def dtype(self):
        """The element type, a visionlite dtype (``visionlite.float32``, ...)."""
        return _dt.from_numpy_dtype(self._data.dtype)

    @property
    def device(self):
        """The device the data lives on (``cpu`` or ``cuda:N``)."""
        return device_of(self._data)

    @property
    def is_cuda(self):
        """True when the data lives on a CUDA device (a cupy array)."""
        return is_cupy_array(self._data)

    @property
    def is_cpu(self):
        """True when the data lives in host memory (a numpy array)."""
        return not is_cupy_array(self._data)

    # Devices and layouts visionlite never uses: the predicates PyTorch code checks all read False.
    is_xpu = is_mps = is_meta = is_xla = is_ipu = is_hpu = is_mtia = is_maia = property(
        lambda self: False, doc="False: visionlite tensors live on the CPU or a CUDA device only.")
    is_quantized = is_sparse = is_sparse_csr = is_mkldnn = is_vulkan = property(
        lambda self: False, doc="False: visionlite tensors are dense, strided and not quantized.")
    is_nested = property(lambda self: False, doc="False: visionlite has no nested tensors.")

    @property
    def ndim(self):
        """The number of dims (an int)."""
        return self._data.ndim

    def dim(self):
        """The number of dims (an int); ``ndimension`` is the same method."""
        return self._data.ndim

    ndimension = dim

    def numel(self):
        """The number of elements (an int); ``nelement`` is the same method."""
        return int(self._data.size)

    nelement = numel

    def element_size(self):
        """The size of one element in bytes (an int)."""
        return self._data.itemsize

    @property
    def itemsize(self):
        """The size of one element in bytes (an int)."""
        return self._data.itemsize

    @property
    def nbytes(self):
        """The size of the data in bytes (an int)."""
        return self._data.nbytes

    def is_floating_point(self):
        """True when the dtype is a floating-point one (float16/bfloat16/float32/float64)."""
        return _dt.is_float(self._data.dtype)

    def is_contiguous(self, memory_format=None):
        """True when the data is laid out row-major, or as ``memory_format`` says (channels_last: NHWC)."""
        if memory_format is None:
            return bool(self._data.flags.c_contiguous)
        from .memory_format import is_in_format

        return is_in_format(self._data, memory_format)

    def stride(self, dim=None):
        """The strides in elements (a tuple), or the stride of dim ``dim`` (an int)."""
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[dim]

    def data_ptr(self):
        """The address of the first element (an int): host memory on CPU, device memory on GPU."""
        d = self._data
        return d.ctypes.data if type(d) is np.ndarray else d.data.ptr

    @property
    def is_leaf(self):
        """True when the tensor was not produced by a recorded op (no ``grad_fn``)."""
        return self._ctx is None

    @property
    def grad_fn(self):
        """The autograd node that produced this tensor (None for leaves), named as PyTorch's."""
        from .autograd.node_names import presented

        if self._base is not None:
            refresh_view(self)

        return presented(self._ctx)

    @property
    def data(self):
        """The same storage without autograd history (as ``tensor.data`` in PyTorch)."""
        return Tensor._wrap(self._data)  # its own version counter: writes through .data go unchecked

    @data.setter
    def data(self, other):
        self._data = other._data if isinstance(other, Tensor) else other

    @property
    def T(self):
        """The tensor with all its dims reversed."""
        return self.permute(*reversed(range(self._data.ndim)))

    @property
    def mT(self):
        """The tensor with its last two dims swapped (batched matrix transpose)."""
        return self.transpose(-2, -1)

    # ------------------------------------------------------------------------------ autograd
    def requires_grad_(self, requires_grad=True):
        """Sets ``requires_grad`` in place (floating-point leaves only) and returns self."""
        if self._ctx is not None and not requires_grad:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        if requires_grad and not self.is_floating_point():
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients, got {self.dtype}"
            )
        self.requires_grad = requires_grad
        return self

    def detach(self):
        """A Tensor sharing storage with this one, cut from the graph."""
        t = Tensor._wrap(self._data)
        share_version(t, self)
        from .autograd import function as _function

        if _function.is_op_tracing():  # the ONNX exporter: in its graph the detached value is this one
            from .ops.movement import Clone

            _function.record_op(Clone.__new__(Clone), (self,), {}, t)
        return t

    def detach_(self):
        """Detaches this tensor from the graph in place (it becomes a leaf) and returns self."""
        self._ctx = None
        self.requires_grad = False
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into each leaf's ``.grad``; scalars need no ``gradient``."""
        from .autograd import backward

        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned Tensor replaces it."""
        if self._base is not None:
            refresh_view(self)
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._ctx is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            node = self._ctx
            if node.hooks is None:
                node.hooks = {}
            hooks = node.hooks.setdefault(self._out_index, [])
        hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if self._base is not None:
            refresh_view(self)
        if self._ctx is None or self._retains_grad:
            return
        import weakref

        ref = weakref.ref(self)

        def keep(grad):
            t = ref()
            if t is not None:
                t.grad = grad.detach().clone() if t.grad is None else t.grad + grad.detach()

        self._retains_grad = True
        node = self._ctx
        if node.retain_hooks is None:
            node.retain_hooks = {}
        node.retain_hooks[self._out_index] = keep  # runs after the other hooks, as in PyTorch

    @property
    def retains_grad(self):
        """True after ``retain_grad()`` on a non-leaf (its ``.grad`` is kept); False for leaves."""
        return self._retains_grad

    # ------------------------------------------------------------------------------ conversion
    def to(self, *args, **kwargs):
        """Convert: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(tensor)`` (see ``to_args``)."""
        device, dtype, _, copy, fmt = parse_to(*args, **kwargs)
        out = self
        if device is not None:
            dev = device
            if dev != out.device:
                if dev.type == "cuda":
                    module_for(dev)  # raises a clear error without cupy or a GPU
                from .ops.movement import ToDevice

                out = ToDevice.apply(out, device=dev)
        if dtype is not None:
            npd = dtype.np
            if npd != out._data.dtype:
                from .ops.elementwise import Cast

                if out.requires_grad and npd.kind not in "fV":
                    out = Tensor._wrap(out._data.astype(npd))
                else:
                    out = Cast.apply(out, dtype=npd)
        if fmt is not None:  # memory_format=: a copy in that layout unless the result already is so
            from .memory_format import check_format, preserve_format, suggest_format

            # as PyTorch, the result aliases when the strides already read as that format
            if check_format(fmt) is not preserve_format and suggest_format(out._data) is not fmt:
                from .ops.movement import Clone

                out = Clone.apply(out, fmt=fmt)
        if copy and out is self:
            out = self.clone(memory_format=fmt)
        return out

    def cpu(self):
        """This tensor on the CPU (self when it is already there)."""
        return self.to(CPU)

    def cuda(self, device=None):
        """This tensor on a CUDA device (``device``: None, an index or a device; self if already there)."""
        return self.to(
            "cuda" if device is None else Device("cuda", device) if isinstance(device, int) else device
        )

    def type(self, dtype=None):
        """With no argument the type name (``'visionlite.float32'``), else ``self.to(dtype)``."""
        if dtype is None:
            return f"visionlite.{self.dtype.name}"
        return self.to(dtype)

    def type_as(self, other):
        """This tensor converted to ``other``'s dtype."""
        return self.to(other.dtype)

    def float(self):
        """``self.to(float32)``."""
        return self.to(_dt.float32)

    def double(self):
        """``self.to(float64)``."""
        return self.to(_dt.float64)

    def half(self):
        """``self.to(float16)``."""
        return self.to(_dt.float16)

    def bfloat16(self):
        """``self.to(bfloat16)`` (needs ``ml_dtypes``)."""
        return self.to("bfloat16")

    def long(self):
        """``self.to(int64)``."""
        return self.to(_dt.int64)

    def int(self):
        """``self.to(int32)``."""
        return self.to(_dt.int32)

    def short(self):
        """``self.to(int16)``."""
        return self.to(_dt.int16)

    def byte(self):
        """``self.to(uint8)``."""
        return self.to(_dt.uint8)

    def char(self):
        """``self.to(int8)``."""
        return self.to(_dt.int8)

    def bool(self):
        """``self.to(bool)``."""
        return self.to(_dt.bool_)

    def numpy(self, force=False):
        """The CPU numpy array (shares memory). Tensors that require grad need ``.detach()`` first."""
        if self.requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
            )
        if type(self._data) is not np.ndarray:
            if not force:
                raise TypeError(
                    f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to "
                    "copy the tensor to host memory first."
                )
            return self._data.get()
        return self._data

    def __array__(self, dtype=None, copy=None):
        a = self._data if type(self._data) is np.ndarray else self._data.get()
        return a if dtype is None else a.astype(dtype)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item() if type(self._data) is np.ndarray else self._data.get().item()

    def tolist(self):
        """The data as nested Python lists of numbers (a number for a 0-d tensor)."""
        return self.__array__().tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._data.size} values is ambiguous")
        return bool(self.item())

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __hash__(self):
        return id(self)

    def __repr__(self):
        from .printing import tensor_repr

        return tensor_repr(self)

    def __format__(self, spec):
        if self._data.ndim == 0 or (spec and self._data.size == 1):
            return self.item().__format__(spec)
        return repr(self).__format__(spec)

    def __reduce_ex__(self, protocol):
        return (_rebuild, (self.__array__(), str(self.device), self.requires_grad))

    def __deepcopy__(self, memo):
        if self._ctx is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                "protocol at the moment. Use .detach() first."
            )
        t = Tensor._wrap(self._data.copy())
        t.requires_grad = self.requires_grad
        if self.grad is not None:
            t.grad = Tensor._wrap(self.grad._data.copy())
        if type(self) is not Tensor:
            t = self._copy_subclass(t)
        memo[id(self)] = t  # after the subclass copy, so a Parameter seen twice stays one Parameter
        return t

    def _copy_subclass(self, t):
        return t

    def _array_module(self):
        return array_module(self._data)

    # ------------------------------------------------------------------------------ operators
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        from .autograd.node_names import label

        return label(_ops.sub(other, self), "RsubBackward1", self)  # as PyTorch's node for number - tensor

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        if _AUTOCAST[0]:  # float32 under cuda autocast (PyTorch's __rtruediv__); one list read otherwise
            return _autocast_dispatch("__rtruediv__", _ops.div, (other, self), {})
        return _ops.div(other, self)

    def __floordiv__(self, other):
        return _ops.div(self, other, rounding_mode="floor")

    def __rfloordiv__(self, other):
        return _ops.div(other, self, rounding_mode="floor")

    def __mod__(self, other):
        return _ops.remainder(self, other)

    def __rmod__(self, other):
        return _ops.remainder(other, self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        from .autograd.node_names import label

        return label(_ops.pow(other, self), "PowBackward2", self)  # as PyTorch's node for number ** tensor

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __invert__(self):
        return _ops.bitwise_not(self)

    def __and__(self, other):
        return _ops.bitwise_and(self, other)

    __rand__ = __and__

    def __or__(self, other):
        return _ops.bitwise_or(self, other)

    __ror__ = __or__

    def __xor__(self, other):
        return _ops.bitwise_xor(self, other)

    __rxor__ = __xor__

    def __eq__(self, other):
        return _ops.eq(self, other)

    def __ne__(self, other):
        return _ops.ne(self, other)

    def __lt__(self, other):
        return _ops.lt(self, other)

    def __le__(self, other):
        return _ops.le(self, other)

    def __gt__(self, other):
        return _ops.gt(self, other)

    def __ge__(self, other):
        return _ops.ge(self, other)

    def __getitem__(self, index):
        return _ops.getitem(self, index)


def _rebuild(array, device, requires_grad):
    t = Tensor._wrap(array)
    if device != "cpu":
        t = t.to(device)
    t.requires_grad = requires_grad
    return t


class _RemovableHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class Size(tuple):
    """A shape, as ``torch.Size``: a tuple of ints."""

    def __repr__(self):
        return f"visionlite.Size({list(self)})"

    def __getitem__(self, i):
        out = tuple.__getitem__(self, i)
        return Size(out) if isinstance(i, slice) else out

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n


from . import ops as _ops  # noqa: E402  (ops need the Tensor class first)
from .ops import methods as _methods  # noqa: E402

_methods.install(Tensor)
__all__ = ["Tensor", "Size", "to_device"]
