"""The graph nodes of an in-place op on a view (see ``view_rebase.py``): ``CopySlices`` on the base and
``AsStridedBackward0`` on the view, both working on the view's flat positions in its base."""

import numpy as np

from ..backend import array_module
from .function import Node


def edge(t):
    """(node or leaf or None, output index): where ``t``'s gradient goes."""
    if t._ctx is not None:
        return t._ctx, t._out_index
    return (t if t.requires_grad else None), 0


class _ViewNode(Node):
    def release(self):
        pass  # holds only the positions, which a second backward may still use, as PyTorch's nodes do


class CopySlices(_ViewNode):
    """The base after an in-place op on its view: ``base_old`` with ``result`` written at ``pos``."""

    def __init__(self, base, old_edge, result, pos):
        self.label = "CopySlices"
        new_edge = edge(result)
        self.parents = (old_edge[0], new_edge[0])
        self.parent_slots = (old_edge[1], new_edge[1])
        self.in_meta = (
            (base._data.shape, base._data.dtype) if old_edge[0] is not None else None,
            (result._data.shape, result._data.dtype),
        )
        self.saved = (pos,)
        self.saved_versions = (None,)

    def backward(self, g):
        from ..ops.indexing import AdvancedIndex

        pos = self.saved[0]
        flat = g.reshape(-1)
        g_result = AdvancedIndex.apply(flat, index=(pos,))
        g_base = None
        if self.parents[0] is not None:
            xp = array_module(g._data)
            keep = xp.ones(flat._data.shape, dtype=g._data.dtype)
            keep[pos] = 0
            g_base = g * g._wrap(keep.reshape(g._data.shape))
        return g_base, g_result


class AsStridedView(_ViewNode):
    """A view re-derived from its base's current history: the base's elements at ``pos``."""

    def __init__(self, base, edge, pos):
        self.label = "AsStridedBackward0"
        self.parents = (edge[0],)
        self.parent_slots = (edge[1],)
        self.in_meta = ((base._data.shape, base._data.dtype),)
        self.saved = (pos,)
        self.saved_versions = (None,)
        self.base_shape = base._data.shape

    def backward(self, g):
        from ..ops.indexing import IndexAdd

        pos = self.saved[0]
        n = int(np.prod(self.base_shape))
        return IndexAdd.apply(g, in_shape=(n,), index=(pos,)).reshape(self.base_shape)
