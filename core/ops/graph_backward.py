"""Differentiable backward passes for the fused raw-array ops (convolution, pooling, normalization).

The fused ops' backward runs on raw arrays for speed. When ``create_graph=True`` asks for higher-order
gradients, grad mode is on while a node's backward runs; the ops then call the functions here, which
compute the same gradients out of recorded operations (convolutions, im2col, matmuls, elementwise), so
the backward is itself differentiable. Ordinary first-order training never comes here.

An op that keeps a raw copy of an input (the convolution's phase planes, a normalization's output)
rebuilds that input as a Tensor attached to the input's own place in the graph (``graph_input``), so
second-order terms flow to whatever produced it, without the first-order path holding the input alive.
"""

from ..tensor import Tensor


def graph_input(op, i, data):
    """Input ``i`` of the recorded ``op`` as a Tensor holding ``data``, wired to the node that produced it.

    Gradients through it then reach the rest of the graph; a leaf input is returned itself."""
    parent = op.parents[i]
    if isinstance(parent, Tensor):  # a leaf: the Tensor itself is the graph's handle
        return parent
    t = Tensor._wrap(data)
    if parent is not None:
        t.requires_grad = True
        t._ctx = parent
        t._out_index = op.parent_slots[i]
    return t


def conv_weight_grad(x, g, geom, w_shape):
    """Weight gradient ``(O, C/groups, kh, kw)`` of the convolution ``geom``, as recorded ops.

    ``x (N, C, H, W)`` is its input, ``g (N, O, Ho, Wo)`` its output gradient. The input's im2col
    columns (``(N, C*kh*kw, L)``, rows over channel then taps, as the weight's own flattening) against
    ``g``: one batched matmul per image and group, summed over the batch."""
    from ..nn.functional.fold import _Im2Col
    from .movement import pad

    top, bottom, left, right = geom.pad
    xpad = pad(x, (left, right, top, bottom)) if any(geom.pad) else x
    cols = _Im2Col.apply(xpad, kernel=geom.k, dilation=geom.dilation, stride=geom.stride, blocks=geom.out_hw)
    n, groups = g.shape[0], geom.groups
    o, cg, kh, kw = w_shape
    lcols = geom.out_hw[0] * geom.out_hw[1]
    cols = cols.reshape(n, groups, cg * kh * kw, lcols)
    gw = g.reshape(n, groups, o // groups, lcols).matmul(cols.transpose(2, 3))
    return gw.sum(0).reshape(w_shape)
