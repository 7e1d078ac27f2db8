"""Recording the primitive ops a model executes (one forward pass), for the ONNX exporter.

Every primitive goes through ``Op.apply`` (core/autograd/function.py), which calls the recorder installed
with ``set_op_tracer``. The trace runs with gradients enabled and the inputs marked as
requiring grad, so every value computed from an input or a weight carries its autograd node: a value
is identified by ``(node, output index)``, which stays right through in-place ops (they hand the
tensor the new node) and through aliases. Values without a node are weights/buffers (found by
identity) or constants the model built from nothing (captured by value).
"""

import threading

import numpy as np

import visionlite.core.autograd.function as _function
from visionlite.core.autograd.grad_mode import enable_grad
from visionlite.core.backend import is_cupy_array
from visionlite.core.tensor import Tensor


def host(a):
    """A numpy array of ``a`` (cupy arrays are copied to the host; the graph's weights live there)."""
    return a.get() if is_cupy_array(a) else a


def _host_attr(v):
    if isinstance(v, (list, tuple)) and not hasattr(v, "_fields"):  # e.g. resampling taps [(idx, w), ...]
        return type(v)(_host_attr(x) for x in v)
    return host(v)


def _host_attrs(attrs):
    return {k: _host_attr(v) for k, v in attrs.items()}


class Record:
    """One executed op: its class, keyword attributes, input value ids and output value id."""

    __slots__ = ("cls", "attrs", "ins", "out", "shape", "dtype", "value", "in_shapes", "in_dtypes", "module")

    def __init__(self, cls, attrs, ins, out, result, inputs, module=""):
        self.cls, self.attrs, self.ins, self.out = cls, _host_attrs(attrs), ins, out
        self.module = module  # qualified name of the innermost submodule running it, for error messages
        self.shape, self.dtype = tuple(result._data.shape), result._data.dtype
        self.value = result._data  # only read for values computed from weights/constants alone
        self.in_shapes = [tuple(t._data.shape) for t in inputs]
        self.in_dtypes = [t._data.dtype for t in inputs]


class Trace:
    """The ops of one forward pass in execution order, with what each value id refers to.

    ``sources[vid]`` is ``("input", i)``, ``("param", name)`` or ``("const", array)`` for values no
    recorded op produced; ``outputs`` are the value ids of the model's flattened outputs.
    """

    def __init__(self):
        self.records = []
        self.sources = {}
        self.produced = {}  # value id -> index of the record that produced it
        self.outputs = []
        self.output_names = []
        self.keep = []  # holds every traced object so that ids stay unique while tracing


class ExportError(RuntimeError):
    """The model does something the exporter cannot express as an ONNX graph."""


def _value_id(t, trace, params):
    """The value id of tensor ``t`` as an op input; registers weights and constants on first sight."""
    ctx = t._ctx
    if ctx is not None:
        vid = ("n", id(ctx), t._out_index)
        if vid not in trace.produced and vid not in trace.sources:
            raise ExportError(
                f"a {list(t.shape)} tensor reaches an op through {type(ctx).__name__}, which the ONNX "
                "exporter cannot record (a custom autograd Function or an in-place write into a view); "
                "rewrite that part of the model with out-of-place tensor ops"
            )
        return vid
    vid = ("t", id(t))
    if vid not in trace.produced and vid not in trace.sources:
        name = params.get(id(t))
        if name is not None:
            trace.sources[vid] = ("param", name)
        else:
            # A constant the model made itself (an attention mask, an index table): its value now.
            trace.sources[vid] = ("const", np.array(host(t._data), copy=True))
        trace.keep.append(t)
    return vid


def _flatten_outputs(out, prefix=""):
    """``[(name, Tensor), ...]`` for a Tensor, a tuple/list or a dict of them (dict order, as torch)."""
    if isinstance(out, Tensor):
        return [(prefix or "output", out)]
    if isinstance(out, dict):
        items = []
        for k, v in out.items():
            items += _flatten_outputs(v, str(k))
        return items
    if isinstance(out, (tuple, list)):
        items = []
        for i, v in enumerate(out):
            items += _flatten_outputs(v, f"{prefix or 'output'}{i}")
        return items
    raise ExportError(f"the model returned a {type(out).__name__}; export supports Tensors and tuples, "
                      "lists and dicts of Tensors")


def _module_label(name, module):
    return f"{name} ({type(module).__name__})" if name else f"the model ({type(module).__name__})"


def _track_modules(model, stack):
    """Forward hooks keeping ``stack`` = the running submodules' names, so an op names its module."""
    if not hasattr(model, "named_modules"):
        return []
    handles = []
    for name, module in model.named_modules():
        label = _module_label(name, module)

        def enter(mod, args, label=label):
            stack.append(label)

        def leave(mod, args, output):
            if stack:
                stack.pop()

        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave, always_call=True))
    return handles


def trace(model, inputs, kwargs=None):
    """Run ``model(*inputs, **kwargs)`` once and record every primitive op: a ``Trace``."""
    if _function.is_op_tracing():
        raise ExportError("an export is already tracing (visionlite.onnx.export is not re-entrant)")
    tr = Trace()
    params = {}
    if hasattr(model, "named_parameters"):
        for name, p in model.named_parameters(remove_duplicate=False):
            params.setdefault(id(p), name)
        for name, b in model.named_buffers(remove_duplicate=False):
            params.setdefault(id(b), name)
    leaves = []
    for i, x in enumerate(inputs):
        # A fresh leaf that requires grad: everything computed from it then carries a node.
        leaf = Tensor._wrap(x._data.copy())
        if leaf._data.dtype.kind == "f":
            leaf.requires_grad = True
        vid = ("t", id(leaf))
        tr.sources[vid] = ("input", i)
        tr.keep.append(leaf)
        leaves.append(leaf)

    me = threading.get_ident()
    stack = []  # qualified names of the submodules running now, innermost last
    from_input = {vid for vid, src in tr.sources.items() if src[0] == "input"}

    def record(op, op_inputs, attrs, result):
        if threading.get_ident() != me:  # another thread's ops (a data loader, another model): not ours
            return
        try:
            ins = [_value_id(t, tr, params) for t in op_inputs]
        except ExportError as e:  # say which op, and in which module, met the unrecordable value
            where = f" in {stack[-1]}" if stack else ""
            raise ExportError(f"{e} (the op {type(op).__name__}{where})") from None
        out = ("n", id(op), 0) if result._ctx is op else ("t", id(result))
        tr.produced[out] = len(tr.records)
        rec = Record(type(op), attrs, ins, out, result, op_inputs, stack[-1] if stack else "")
        if any(v in from_input for v in ins):
            from_input.add(out)
            rec.value = None  # computed in the graph: only weight-derived values are kept
        tr.records.append(rec)
        tr.keep.append(op)
        tr.keep.append(result)

    _function.set_op_tracer(record)
    handles = _track_modules(model, stack)
    try:
        with enable_grad():
            out = model(*leaves, **(kwargs or {}))
    finally:
        _function.set_op_tracer(None)
        for h in handles:
            h.remove()
    for name, t in _flatten_outputs(out):
        try:
            tr.outputs.append(_value_id(t, tr, params))
        except ExportError as e:
            raise ExportError(f"{e} (the model's output {name!r})") from None
        tr.output_names.append(name)
    tr.keep = []  # ids need not stay unique any longer: free the activations and their graph
    return tr
