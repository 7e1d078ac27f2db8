"""Graph nodes: the primitive ``Op`` that built-in operations subclass, and the user-facing ``Function``.

An ``Op`` runs its forward on raw arrays (numpy or cupy) and its backward on Tensors, so that the
backward pass can itself be recorded when ``create_graph=True`` asks for higher-order gradients.
"""

from .grad_mode import _set_enabled, is_grad_enabled
from .node_names import next_edges, node_name
from .versions import counter_of, counter_value, share_version, version_of

# The ONNX exporter's recorder (visionlite/onnx/_trace.py): None unless an export is tracing, so the
# only cost to every op is one global read. Called as _TRACER(op, inputs, attrs, result). Code outside this
# module goes through the functions below, never the global itself.
_TRACER = None


def is_op_tracing():
    """True while an exporter records the ops that run (ops whose array code derives indices from values
    then take a recordable path)."""
    return _TRACER is not None


def set_op_tracer(recorder):
    """Install ``recorder(op, inputs, attrs, result)`` (or None to remove it); returns the previous one."""
    global _TRACER
    previous, _TRACER = _TRACER, recorder
    return previous


def record_op(op, inputs, attrs, result):
    """Hand an op that did not run through ``Op.apply`` (a detach, say) to the recorder, if one is active."""
    if _TRACER is not None:
        _TRACER(op, inputs, attrs, result)

_FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)


class _CallableName(str):
    # PyTorch spells it grad_fn.name(); visionlite code reads grad_fn.name: both work.
    def __call__(self):
        return str(self)


class Node:
    """A recorded operation. ``parents[i]`` is the node (or leaf Tensor) that produced input ``i``."""

    n_outputs = 1
    parents = ()
    parent_slots = ()
    in_meta = ()
    saved = ()
    hooks = None  # {output index: [hook, ...]} for hooks registered on non-leaf outputs
    retain_hooks = None  # {output index: hook} storing .grad for retain_grad()

    @property
    def name(self):
        """PyTorch's node name (``MulBackward0``); a string that can also be called, as ``grad_fn.name()``."""
        return _CallableName(node_name(self))

    def __repr__(self):
        return f"<{self.name} object at {id(self):#x}>"

    @property
    def next_functions(self):
        """``((node, output index), ...)`` per input: ``AccumulateGrad`` for leaves, None where no grad."""
        return next_edges(self)

    def release(self):
        """Drop what backward needed; a later backward through this node then raises."""
        if self.saved is not None and (self.saved or getattr(self, "out_data", None) is not None):
            self.saved = None
            self.out_data = None

    def saved_values(self):
        """The saved tensors/arrays, after checking none was modified in place since it was saved."""
        saved = self.saved
        if saved is None:
            raise RuntimeError(_FREED_MSG)
        versions = self.saved_versions
        for i, x in enumerate(saved):
            v = versions[i]
            if v is not None and version_of(x) != v:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: [{x.dtype.name} {list(x.shape)}] is at version {version_of(x)}; expected "
                    f"version {v} instead (saved by {self.name}). Clone it before modifying it in place."
                )
        return saved


class Op(Node):
    """A primitive operation: subclasses define ``forward(*arrays, **attrs) -> array`` and
    ``backward(grad) -> grad or tuple of grads`` (Tensors, or None where an input gets no gradient).

    ``forward`` may call ``self.save(...)`` (only useful when ``self.recording``) with input Tensors
    (``self.inputs``) or raw arrays, and reads ``self.needs_input_grad``. Ops with
    ``saves_output = True`` read their result in backward through ``self.output()``.
    """

    saves_output = False
    is_view = False  # output shares memory (and so the version counter) with input 0

    @classmethod
    def apply(cls, *inputs, **attrs):
        op = cls.__new__(cls)
        grad_on = is_grad_enabled()
        if grad_on:
            # A view whose storage was changed in place re-derives its history first (refresh_view).
            needs = tuple([t.requires_grad if t._base is None else refresh_view(t) for t in inputs])
            recording = True in needs
        else:
            recording = False
        op.recording = recording
        if recording:
            op.needs_input_grad = needs
            op.inputs = inputs
        out = op.forward(*[t._data for t in inputs], **attrs)
        result = Tensor._wrap(out)
        if op.is_view:
            src = inputs[0]
            share_version(result, src)
            if out.base is not None:  # a real view (numpy copies some reshapes): in-place ops must know
                result._base = src._base if src._base is not None else src
                result._view_ver = version_of(result) if grad_on else None  # None: made in no_grad
        if recording:
            op.inputs = None
            op.parents = tuple(
                [t._ctx if t._ctx is not None else (t if t.requires_grad else None) for t in inputs]
            )
            op.parent_slots = tuple([t._out_index for t in inputs])
            op.in_meta = tuple([(t._data.shape, t._data.dtype) if n else None for t, n in zip(inputs, needs)])
            if cls.saves_output:
                op.out_data = out
                op.out_version = counter_of(result)
                op.out_version_at = version_of(result)
            result.requires_grad = True
            result._ctx = op
        if _TRACER is not None:
            _TRACER(op, inputs, attrs, result)
        return result

    def save(self, *items):
        """Keep Tensors (version-checked at backward) or raw arrays for the backward pass."""
        self.saved = items
        self.saved_versions = tuple([version_of(x) if isinstance(x, Tensor) else None for x in items])

    def output(self):
        """The forward result as a Tensor that belongs to this node (for ops that save their output)."""
        if self.out_data is None:
            raise RuntimeError(_FREED_MSG)
        if counter_value(self.out_version) != self.out_version_at:
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: the output of {self.name} was changed in place after it was computed. "
                f"Clone it before modifying it in place."
            )
        out = Tensor._wrap(self.out_data)
        if is_grad_enabled():  # double backward: the output stays connected to this node
            out.requires_grad = True
            out._ctx = self
        return out

    def forward(self, *arrays, **attrs):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError(f"{type(self).__name__} is not differentiable")


class FunctionCtx(Node):
    """The ``ctx`` handed to a user ``Function``'s forward and backward."""

    def save_for_backward(self, *tensors):
        self.saved = tensors
        self.saved_versions = tuple([version_of(t) if isinstance(t, Tensor) else None for t in tensors])

    @property
    def saved_tensors(self):
        return self.saved_values()

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable = {id(t) for t in tensors}

    def mark_dirty(self, *tensors):
        pass

    def set_materialize_grads(self, value):
        self.materialize_grads = value


class Function:
    """Base class for user-defined differentiable operations, as ``torch.autograd.Function``.

    A subclass defines static ``forward(ctx, *args)`` and ``backward(ctx, *grads)`` and is called through
    ``apply``::

        class Exp(Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, grad):
                (y,) = ctx.saved_tensors
                return grad * y

        y = Exp.apply(x)
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = _UserFunctionNode()
        ctx.function = cls
        ctx.materialize_grads = True
        tensor_args = [a for a in args if isinstance(a, Tensor)]
        for a in tensor_args:
            if a._base is not None:
                refresh_view(a)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        record = is_grad_enabled() and any(t.requires_grad for t in tensor_args)
        prev = _set_enabled(False)
        try:
            outputs = cls.forward(ctx, *args, **kwargs)
        finally:
            _set_enabled(prev)
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        if record:
            arg_tensors = [a if isinstance(a, Tensor) else None for a in args]
            ctx.parents = tuple(
                None if t is None else (t._ctx if t._ctx is not None else (t if t.requires_grad else None))
                for t in arg_tensors
            )
            ctx.parent_slots = tuple(0 if t is None else t._out_index for t in arg_tensors)
            ctx.in_meta = tuple(
                None if t is None or not t.requires_grad else (t._data.shape, t._data.dtype)
                for t in arg_tensors
            )
            ctx.n_outputs = len(outs)
            ctx.out_meta = [(o._data.shape, o._data.dtype) if isinstance(o, Tensor) else None for o in outs]
            skip = getattr(ctx, "non_differentiable", set())
            wrapped = []
            for i, o in enumerate(outs):
                if isinstance(o, Tensor) and id(o) not in skip and o.dtype.is_floating_point:
                    if any(o is a for a in tensor_args):
                        o = o.view_as(o)
                    o = Tensor._wrap(o._data) if o._ctx is not None else o
                    o.requires_grad = True
                    o._ctx = ctx
                    o._out_index = i
                wrapped.append(o)
            outs = tuple(wrapped)
        return outs[0] if single else outs


class _UserFunctionNode(FunctionCtx):
    @property
    def name(self):
        return _CallableName(self.function.__name__ + "Backward")

    def run_backward(self, grads):
        if self.materialize_grads:
            from ..creation import zeros

            grads = [
                g if g is not None else zeros(m[0], dtype=m[1], device=None) if m else None
                for g, m in zip(grads, self.out_meta)
            ]
        result = self.function.backward(self, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        if len(result) != len(self.parents):
            raise RuntimeError(
                f"function {self.name} returned {len(result)} gradients, expected "
                f"{len(self.parents)} (one per forward argument)"
            )
        return result


from ..tensor import Tensor  # noqa: E402  (the Tensor module imports this one)
from .view_rebase import refresh_view  # noqa: E402
