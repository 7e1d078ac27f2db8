"""In-place operations on Tensors: the in-place protocol (``_assign``) and the ``*_`` methods.

An in-place op is computed out of place and written back into the same storage, so views see the
change; the version counter then moves on (saved copies of the old value are detected at backward)
and the tensor takes the result's place in the graph. On a view of a tensor in the graph, the base's
history is rebased instead (``CopySlices``; see ``autograd/view_rebase.py``), as in PyTorch.
"""

from . import dtypes as _dt
from .autograd.grad_mode import is_grad_enabled
from .autograd.versions import bump_version
from .autograd.view_rebase import (
    follow_retained_grad,
    no_grad_view_error,
    rebase,
    rebase_checks,
    refresh_view,
)
from .backend import array_module


class InplaceMethods:
    """Mixed into ``Tensor``."""

    __slots__ = ()

    def _check_inplace(self):
        if self._base is not None:
            refresh_view(self)
        if is_grad_enabled():
            if self.requires_grad and self._ctx is None:
                raise RuntimeError(
                    "a leaf Variable that requires grad is being used in an in-place operation."
                )
            base = self._base
            if base is not None and base.requires_grad:
                if getattr(self, "_view_ver", 0) is None:
                    no_grad_view_error()
                if base._ctx is None:
                    raise RuntimeError(
                        "a view of a leaf Variable that requires grad is being used in an in-place operation."
                    )

    def _snapshot(self):
        """The current value in a separate buffer that takes self's place in the graph.

        A recorded in-place op runs on the snapshot, so it may save its input for backward while self's
        storage is overwritten with the result.
        """
        t = self._wrap(self._data.copy())
        t.requires_grad = self.requires_grad
        t._ctx = self._ctx
        t._out_index = self._out_index
        return t

    def _assign(self, result):
        """Write ``result`` (computed out of place from self) into self's storage: the in-place protocol.

        The storage is kept so that views see the change, the version counter moves on so that saved
        copies of the old value are detected, and self takes over result's place in the graph.
        """
        data = result._data
        if data.dtype != self._data.dtype:
            if data.dtype.kind == "f" and self._data.dtype.kind in "iub":
                raise RuntimeError(
                    f"result type {_dt.from_numpy_dtype(data.dtype).name} can't be cast to the "
                    f"desired output type {self.dtype.name}"
                )
        if data.shape != self._data.shape:
            try:
                data = array_module(self._data).broadcast_to(data, self._data.shape)
            except ValueError:
                raise RuntimeError(
                    f"output with shape {list(self._data.shape)} doesn't match the broadcast shape "
                    f"{list(data.shape)}"
                ) from None
        rebasing = result.requires_grad and self._base is not None and is_grad_enabled()
        if rebasing:
            rebase_checks(self)
        xp = array_module(self._data)
        if getattr(self._data.flags, "writeable", True):  # cupy arrays have no such flag
            xp.copyto(self._data, data, casting="unsafe")
        else:
            self._data = data.astype(self._data.dtype, copy=True)
        bump_version(self)
        if rebasing:
            rebase(self, result)  # the base's history now ends in CopySlices, as in PyTorch
        elif result.requires_grad:
            old = self._ctx, self._out_index
            self._ctx = result._ctx
            self._out_index = result._out_index
            self.requires_grad = True
            follow_retained_grad(self, *old)
        return self

    def _inplace_arith(self, other, np_fn, op_fn):
        self._check_inplace()
        other_needs = isinstance(other, InplaceMethods) and other.requires_grad
        if not is_grad_enabled() or not (self.requires_grad or other_needs):
            od = other._data if isinstance(other, InplaceMethods) else other
            try:
                np_fn(self._data, od, out=self._data, casting="same_kind")
            except TypeError:
                raise RuntimeError(
                    f"result type of {np_fn.__name__} can't be cast to the desired output type "
                    f"{self.dtype.name}"
                ) from None
            except ValueError as e:
                raise RuntimeError(f"in-place {np_fn.__name__}: {e}") from None
            bump_version(self)
            return self
        return self._assign(op_fn(self._snapshot(), other))

    def add_(self, other, alpha=1):
        """In-place ``self += alpha * other`` (broadcast, cast to self's dtype); returns self."""
        if alpha != 1:
            other = other * alpha
        return self._inplace_arith(other, array_module(self._data).add, _ops().add)

    def sub_(self, other, alpha=1):
        """In-place ``self -= alpha * other`` (broadcast, cast to self's dtype); returns self."""
        if alpha != 1:
            other = other * alpha
        return self._inplace_arith(other, array_module(self._data).subtract, _ops().sub)

    def mul_(self, other):
        """In-place ``self *= other`` (broadcast, cast to self's dtype); returns self."""
        return self._inplace_arith(other, array_module(self._data).multiply, _ops().mul)

    def div_(self, other, rounding_mode=None):
        """In-place ``self /= other`` (``rounding_mode``: None, ``'trunc'`` or ``'floor'``); returns self."""
        if rounding_mode is not None:
            self._check_inplace()
            return self._assign(_ops().div(self._snapshot(), other, rounding_mode=rounding_mode))
        return self._inplace_arith(other, array_module(self._data).true_divide, _ops().div)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    def _generic_inplace(name):
        def method(self, *args, **kwargs):
            self._check_inplace()
            src = self._snapshot() if is_grad_enabled() and self.requires_grad else self
            return self._assign(getattr(src, name)(*args, **kwargs))

        method.__name__ = name + "_"
        method.__doc__ = f"In-place ``{name}``."
        return method

    for _name in (
        "pow",
        "exp",
        "log",
        "sqrt",
        "abs",
        "neg",
        "clamp",
        "relu",
        "sigmoid",
        "tanh",
        "floor",
        "ceil",
        "round",
        "masked_fill",
        "sin",
        "cos",
        "reciprocal",
        "sign",
        "trunc",
        "lerp",
        "addcmul",
        "addcdiv",
        "scatter",
        "scatter_add",
        "index_fill",
        "index_add",
        "index_copy",
        "put",
        "maximum",
        "minimum",
    ):
        locals()[_name + "_"] = _generic_inplace(_name)
    del _name
    clip_ = locals()["clamp_"]
    __ipow__ = locals()["pow_"]

    def copy_(self, src, non_blocking=False):
        """Copy ``src`` (broadcast, cast, moved across devices) into this tensor's storage."""
        self._check_inplace()
        if not isinstance(src, InplaceMethods):
            src = self._wrap(array_module(self._data).asarray(src))
        if src.device != self.device:
            src = src.to(self.device)
        if is_grad_enabled() and src.requires_grad:
            return self._assign(src.to(self.dtype).expand(self.shape) + self._zero_like_detached())
        data = src._data
        if data.dtype != self._data.dtype:
            data = data.astype(self._data.dtype)
        array_module(self._data).copyto(self._data, data)
        bump_version(self)
        return self

    def _restride(self, out):
        """Shape-changing in-place views (``unsqueeze_``, ``transpose_``, ...): self becomes ``out``, a
        view of its own storage, and takes out's place in the graph; the values do not change."""
        if self.requires_grad and self._ctx is None and is_grad_enabled():
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        self._data = out._data
        if out.requires_grad:
            self._ctx, self._out_index = out._ctx, out._out_index
        return self

    def unsqueeze_(self, dim):
        """In-place ``unsqueeze``: inserts a size-1 axis at ``dim``; returns self."""
        return self._restride(self.unsqueeze(dim))

    def squeeze_(self, *dim):
        """In-place ``squeeze``: drops size-1 axes (all, or those in ``dim``); returns self."""
        return self._restride(self.squeeze(*dim))

    def transpose_(self, dim0, dim1):
        """In-place ``transpose`` of axes ``dim0`` and ``dim1``; returns self."""
        return self._restride(self.transpose(dim0, dim1))

    swapdims_ = swapaxes_ = transpose_

    def t_(self):
        """In-place ``t``: transposes a tensor of at most 2 dimensions; returns self."""
        return self._restride(self.t())

    def _zero_like_detached(self):
        return self._wrap(array_module(self._data).zeros(self._data.shape, self._data.dtype))

    def zero_(self):
        """Fills self with zeros in place; returns self."""
        return self.fill_(0)

    def fill_(self, value):
        """Fills self in place with ``value`` (a number or a one-element tensor); returns self."""
        self._check_inplace()
        if isinstance(value, InplaceMethods):
            if value.numel() != 1:
                raise RuntimeError("fill_ only supports 0-dimension value tensor")
            value = value.item()
        if is_grad_enabled() and self.requires_grad:
            # Stay in the graph (the old value then gets a zero gradient), as PyTorch does.
            src = self._snapshot()
            xp = array_module(self._data)
            filled = self._wrap(xp.full((), value, dtype=self._data.dtype))
            keep_old = self._wrap(xp.zeros(self._data.shape, dtype=bool))
            return self._assign(_ops().where(keep_old, src, filled))
        self._data[...] = value
        bump_version(self)
        return self

    def uniform_(self, a=0.0, b=1.0, generator=None):
        """Fills self in place with samples from U(``a``, ``b``); returns self."""
        from .random import _fill_uniform

        self._check_inplace()
        return _fill_uniform(self, a, b, generator)

    def normal_(self, mean=0.0, std=1.0, generator=None):
        """Fills self in place with samples from N(``mean``, ``std`` squared); returns self."""
        from .random import _fill_normal

        self._check_inplace()
        return _fill_normal(self, mean, std, generator)

    def bernoulli_(self, p=0.5, generator=None):
        """Fills self in place with 0/1 draws that are 1 with probability ``p``; returns self."""
        from .random import _fill_bernoulli

        self._check_inplace()
        return _fill_bernoulli(self, p, generator)

    def random_(self, *args, generator=None, **kwargs):
        """Fills self in place with random integers; returns self.

        As ``torch.Tensor.random_``: ``random_()`` draws from ``[0, max]`` (``max`` is the dtype's
        largest integer, or 2**digits for floating dtypes: 2**24 for float32), ``random_(to)`` from
        ``[0, to)``, ``random_(from, to)`` from ``[from, to)`` and ``random_(from, None)`` from
        ``[from, max]``. ``from`` and ``to`` may also be passed as keywords."""
        from .random import _fill_randint

        names = ("from", "to")
        unknown = set(kwargs) - set(names)
        if unknown or len(args) > 2:
            raise TypeError(
                f"random_() takes (from=0, to=None, *, generator=None); got {len(args)} positional "
                f"arguments and keywords {sorted(kwargs)}"
            )
        given = dict(zip(names if len(args) == 2 or "to" in kwargs else ("to",), args))
        for k, v in kwargs.items():
            if k in given:
                raise TypeError(f"random_() got multiple values for argument '{k}'")
            given[k] = v
        self._check_inplace()
        return _fill_randint(self, given.get("from", 0), given.get("to"), generator)

    def exponential_(self, lambd=1.0, generator=None):
        """Fills self in place with samples from Exp(``lambd``) (mean ``1 / lambd``); returns self."""
        from .random import _fill_exponential

        self._check_inplace()
        return _fill_exponential(self, lambd, generator)

    def __setitem__(self, index, value):
        from .ops.indexing import setitem

        setitem(self, index, value)


def _ops():
    from . import ops

    return ops
