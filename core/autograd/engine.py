"""The backward pass: walks the recorded graph from the outputs to the leaves, iteratively.

Nodes are processed in topological order (Kahn's algorithm, so a chain of any length needs no
recursion), each node's incoming gradients are summed before its backward runs, and what a node
saved is released right after its backward unless ``retain_graph`` is set.
"""

import sys
import threading

import numpy as np

from .function import Node, _UserFunctionNode
from .grad_mode import _set_enabled
from .versions import reset_version
from .view_rebase import refresh_view


def sum_to_shape(grad, shape):
    """Reduce a broadcast gradient back to ``shape``: the one place where unbroadcasting happens."""
    gshape = grad._data.shape
    if gshape == shape:
        return grad
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and gshape[i + lead] != 1
    )
    if axes:
        grad = grad.sum(axes, keepdim=True)
    if lead:
        grad = grad.reshape(shape)
    elif grad._data.shape != shape:
        grad = grad.reshape(shape)
    return grad


def _fit(grad, meta):
    shape, dtype = meta
    if grad._data.shape != shape:
        grad = sum_to_shape(grad, shape)
    if grad._data.dtype != dtype:
        grad = grad.to(dtype)
    return grad


def _graph_dependencies(roots):
    """Count, for every node reachable from ``roots``, how many edges lead into it."""
    deps = {}
    stack = list(roots)
    seen = set(id(n) for n in roots)
    for n in roots:
        deps.setdefault(n, 0)
    leaves = {}
    while stack:
        node = stack.pop()
        for p in node.parents:
            if isinstance(p, Node):
                deps[p] = deps.get(p, 0) + 1
                if id(p) not in seen:
                    seen.add(id(p))
                    stack.append(p)
            elif p is not None:
                leaves[id(p)] = leaves.get(id(p), 0) + 1
    return deps, leaves


def run_backward(
    tensors,
    grad_tensors,
    retain_graph=False,
    create_graph=False,
    inputs=None,
    allow_unused=False,
    accumulate=True,
):
    """Propagate ``grad_tensors`` from ``tensors`` back through the graph.

    With ``accumulate`` the gradients of leaves are added into their ``.grad``; otherwise the
    gradients of ``inputs`` are returned (``autograd.grad``).
    """
    wanted = {}
    if inputs is not None:
        for i, t in enumerate(inputs):
            if t._base is not None:
                refresh_view(t)
            wanted.setdefault((id(t._ctx) if t._ctx is not None else id(t), t._out_index), []).append(i)
    captured = [None] * (len(inputs) if inputs is not None else 0)

    grads = {}
    leaf_grads = {}
    roots = []
    for t, g in zip(tensors, grad_tensors):
        if t._base is not None:
            refresh_view(t)
        if not t.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        node = t._ctx
        if node is None:
            _add_leaf(leaf_grads, t, g)
            continue
        slots = grads.get(node)
        if slots is None:
            slots = grads[node] = [None] * node.n_outputs
            roots.append(node)
        i = t._out_index
        slots[i] = g if slots[i] is None else slots[i] + g

    _pass.depth += 1
    try:
        return _run(tensors, grad_tensors, retain_graph, create_graph, inputs, allow_unused, accumulate,
                    wanted, captured, grads, leaf_grads, roots)
    finally:
        _pass.depth -= 1
        if not _pass.depth:
            _pass.callbacks.clear()  # left over by a backward that raised


def _run(tensors, grad_tensors, retain_graph, create_graph, inputs, allow_unused, accumulate, wanted,
         captured, grads, leaf_grads, roots):
    prev = _set_enabled(create_graph)
    # inf/nan in gradients are values, not events: PyTorch stays silent and so does numpy here.
    quiet = np.errstate(divide="ignore", invalid="ignore", over="ignore")
    quiet.__enter__()
    try:
        deps, leaf_deps = _graph_dependencies(roots)
        ready = [n for n in roots if deps[n] == 0]
        complete = []
        while ready:
            node = ready.pop()
            slots = grads.pop(node, None)
            if slots is not None and node.hooks:
                for i, hooks in node.hooks.items():
                    for hook in hooks:
                        if slots[i] is not None:
                            new = hook(slots[i])
                            if new is not None:
                                slots[i] = new
            if slots is not None and node.retain_hooks:
                for i, keep in node.retain_hooks.items():
                    if slots[i] is not None:
                        keep(slots[i])
            if wanted and slots is not None:
                for i, g in enumerate(slots):
                    for j in wanted.get((id(node), i), ()):
                        captured[j] = g
            if slots is None or all(g is None for g in slots):
                in_grads = (None,) * len(node.parents)
            elif isinstance(node, _UserFunctionNode):
                in_grads = node.run_backward(slots)
            else:
                if node.saved is None:
                    from .function import _FREED_MSG

                    raise RuntimeError(_FREED_MSG)
                in_grads = node.backward(slots[0])
                if type(in_grads) is not tuple:
                    in_grads = (in_grads,)
            if not retain_graph:
                node.release()
            for parent, slot, meta, g in zip(node.parents, node.parent_slots, node.in_meta, in_grads):
                if parent is None:
                    continue
                if g is not None:
                    g = _fit(g, meta)
                if isinstance(parent, Node):
                    if g is not None:
                        pslots = grads.get(parent)
                        if pslots is None:
                            pslots = grads[parent] = [None] * parent.n_outputs
                        pslots[slot] = g if pslots[slot] is None else pslots[slot] + g
                    d = deps[parent] - 1
                    deps[parent] = d
                    if d == 0:
                        ready.append(parent)
                else:
                    if g is not None:
                        _add_leaf(leaf_grads, parent, g)
                    left = leaf_deps[id(parent)] - 1
                    leaf_deps[id(parent)] = left
                    if left == 0 and id(parent) in leaf_grads:
                        complete.append(id(parent))
            if complete:
                # A leaf whose every incoming edge is done gets its hooks and .grad now, while the rest
                # of the graph still runs (DistributedDataParallel starts reducing gradients from here).
                in_grads = g = None
                for key in complete:
                    _finish_leaf(leaf_grads, key, wanted, captured, accumulate, create_graph)
                complete.clear()
        for key in list(leaf_grads):  # leaves passed directly as roots
            _finish_leaf(leaf_grads, key, wanted, captured, accumulate, create_graph)
    finally:
        _set_enabled(prev)
        quiet.__exit__(None, None, None)
    _run_callbacks()

    if inputs is not None:
        for j, g in enumerate(captured):
            if g is None and not allow_unused:
                raise RuntimeError(
                    f"One of the differentiated Tensors (input {j}) appears to not have been "
                    "used in the graph. Set allow_unused=True if this is the desired behavior."
                )
        return captured
    return None


def _finish_leaf(leaf_grads, key, wanted, captured, accumulate, create_graph):
    """Run ``leaf``'s hooks on its summed gradient, capture it for ``autograd.grad``, accumulate ``.grad``."""
    leaf, g = leaf_grads.pop(key)
    if leaf._hooks:
        for hook in leaf._hooks:
            new = hook(g)
            if new is not None:
                g = new
    if wanted:
        for j in wanted.get((id(leaf), 0), ()):
            captured[j] = g
    if accumulate:
        steal = _stealable(g)  # before the call below, whose pushed arguments would count as references
        _accumulate(leaf, g, create_graph, steal)


class _PerThread(threading.local):
    def __init__(self):
        self.depth = 0  # nesting of backward passes in this thread
        self.callbacks = []


_pass = _PerThread()


def queue_callback(fn):
    """Run ``fn()`` once the current backward pass has finished (every ``.grad`` written), as PyTorch's
    ``Variable._execution_engine.queue_callback``; only valid while a backward pass runs."""
    if not _pass.depth:
        raise RuntimeError("queue_callback: no backward pass is running (call it from a hook during "
                           "backward)")
    _pass.callbacks.append(fn)


def _run_callbacks():
    if _pass.depth == 1:
        while _pass.callbacks:
            _pass.callbacks.pop(0)()


def _add_leaf(leaf_grads, leaf, g):
    entry = leaf_grads.get(id(leaf))
    if entry is None:
        leaf_grads[id(leaf)] = (leaf, g)
    else:
        leaf_grads[id(leaf)] = (leaf, entry[1] + g)


def _stealable(g):
    """True when nothing but the engine holds gradient ``g`` and it owns a plain writable array.

    Such a gradient becomes ``.grad`` as it is; any other is copied, since it may be a read-only
    broadcast view or the very Tensor another leaf receives (add's backward hands one to both inputs).
    """
    d = g._data
    # References to g: the leaf_grads entry, the loop variable and getrefcount's argument.
    return (
        sys.getrefcount(g) <= 3
        and sys.getrefcount(d) <= 2
        and d.base is None
        and getattr(d.flags, "writeable", True)
        and d.flags.c_contiguous
        and g._ctx is None
    )


def _accumulate(leaf, g, create_graph, stealable=False):
    if leaf.grad is None:
        if create_graph:
            leaf.grad = g
        elif stealable:
            reset_version(g)
            leaf.grad = g
        else:
            leaf.grad = g.detach().clone()
    elif create_graph or leaf.grad.requires_grad:
        leaf.grad = leaf.grad + g
    else:
        leaf.grad._data += g._data
