"""Automatic differentiation: ``backward``, ``grad``, grad modes and user-defined ``Function`` classes."""

from ..tensor import Tensor
from .anomaly_mode import detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled, set_detect_anomaly
from .engine import run_backward
from .function import Function, FunctionCtx, Node, Op
from .grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .variable import Variable

__all__ = [
    "backward",
    "grad",
    "Function",
    "FunctionCtx",
    "Node",
    "Op",
    "no_grad",
    "enable_grad",
    "inference_mode",
    "set_grad_enabled",
    "is_grad_enabled",
    "Variable",
    "set_detect_anomaly",
    "detect_anomaly",
    "is_anomaly_enabled",
    "is_anomaly_check_nan_enabled",
]


def _as_list(x):
    if x is None:
        return None
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _seed_grads(outputs, grad_outputs):
    grads = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if grad_outputs is not None else None
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(
                    "grad can be implicitly created only for scalar outputs; pass `gradient` "
                    f"(a tensor of shape {list(out.shape)}) to backward"
                )
            g = Tensor._wrap(out._array_module().ones(out._data.shape, dtype=out._data.dtype))
        elif not isinstance(g, Tensor):
            g = Tensor._wrap(out._array_module().asarray(g, dtype=out._data.dtype))
        elif g._data.shape != out._data.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {list(g.shape)} and output[{i}] "
                f"has a shape of {list(out.shape)}."
            )
        grads.append(g)
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves they depend on."""
    tensors = _as_list(tensors)
    grads = _seed_grads(tensors, _as_list(grad_tensors))
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _as_list(inputs)
        captured = run_backward(
            tensors, grads, retain_graph, create_graph, inputs=inputs, allow_unused=True, accumulate=False
        )
        from .engine import _accumulate

        for t, g in zip(inputs, captured):
            if g is not None:
                _accumulate(t, g, create_graph)
        return
    run_backward(tensors, grads, retain_graph, create_graph)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    allow_unused=None,
    materialize_grads=False,
):
    """Gradients of ``outputs`` with respect to ``inputs`` (a tuple), without touching ``.grad``."""
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}) does not require grad")
    grads = _seed_grads(outputs, _as_list(grad_outputs))
    if retain_graph is None:
        retain_graph = create_graph
    result = run_backward(
        outputs,
        grads,
        retain_graph,
        create_graph,
        inputs=inputs,
        allow_unused=bool(allow_unused or materialize_grads),
        accumulate=False,
    )
    if materialize_grads:
        result = [g if g is not None else t.new_zeros(t.shape) for g, t in zip(result, inputs)]
    return tuple(result)
