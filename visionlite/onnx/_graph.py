"""From two traces of the same model (two batch sizes) to an ONNX graph.

The two traces must execute the same ops on the same wiring. Values computed from weights and
constants alone are evaluated at export (they become initializers); the rest become ONNX nodes.
Integers that differ between the traces (a reshape target that holds the batch size, an expand
shape) are fitted as ``a * batch + b`` and computed in the graph from the input's shape, so the graph
runs at any batch size.
"""

import numpy as np

from ._trace import ExportError

_INT64 = np.int64


class Node:
    """One op of the aligned traces, as the converters see it."""

    def __init__(self, index, rec, rec2, ins, out):
        self.index = index
        self.cls = rec.cls
        self.op = rec.cls.__name__
        self.attrs, self.attrs2 = rec.attrs, rec2.attrs
        self.ins = ins  # ONNX value names of the inputs
        self.out = out  # ONNX value name of the output
        self.shape, self.shape2 = rec.shape, rec2.shape
        self.dtype = rec.dtype
        self.in_shapes, self.in_shapes2 = rec.in_shapes, rec2.in_shapes
        self.in_dtypes = rec.in_dtypes
        self.module = rec.module  # "layer1.0.conv1 (Conv2d)": where the model ran it, for errors
        self.in_static = []  # per input: its value when it is an initializer, else None
        self.fold = None  # (weight, bias) of this convolution with the BatchNorm after it folded in
        self.fold_names = None  # their initializer names


class Builder:
    """Collects ONNX nodes and initializers; converters call ``add``, ``const`` and ``ints``."""

    def __init__(self, onnx, opset, batches, batch_input):
        self.onnx = onnx
        self.helper = onnx.helper
        self.opset = opset
        self.nodes = []
        self.initializers = {}  # name -> array
        self.batches = batches  # the two traced batch sizes
        self.batch_input = batch_input  # graph input whose dim 0 is the batch
        self._batch = None
        self._counter = 0
        self._const_cache = {}

    def fresh(self, hint):
        self._counter += 1
        return f"/{hint}.{self._counter}"  # node outputs are "/Op_i": no clash

    def add(self, op_type, inputs, out=None, n_out=1, **attrs):
        """Append a node; returns its output name (or names when ``n_out > 1``)."""
        outs = [out] if out is not None else [self.fresh(op_type) for _ in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs, name=outs[0] + "_node", **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, array, hint="const", dtype=None):
        """An initializer holding ``array`` (deduplicated for small arrays); returns its name."""
        a = np.asarray(array, dtype=dtype)
        key = None
        if a.size <= 64:
            key = (a.dtype.str, a.shape, a.tobytes())
            if key in self._const_cache:
                return self._const_cache[key]
        name = self.fresh(hint)
        self.initializers[name] = a
        if key is not None:
            self._const_cache[key] = name
        return name

    def named_const(self, name, array):
        if name not in self.initializers:
            self.initializers[name] = np.asarray(array)
        return name

    def batch(self):
        """A 1-D int64 tensor ``[B]``: the graph's batch size, read from the input's shape."""
        if self._batch is None:
            shape = self.add("Shape", [self.batch_input])
            self._batch = self.add("Gather", [shape, self.const(np.array([0], _INT64))], axis=0)
        return self._batch

    def ints(self, v1, v2, what):
        """An int64 1-D tensor for the integer list ``v1`` (trace 1) / ``v2`` (trace 2): a constant where
        they agree, else each differing entry computed as ``a * batch + b``."""
        v1, v2 = [int(v) for v in v1], [int(v) for v in v2]
        if len(v1) != len(v2):
            raise ExportError(f"{what}: the two traces disagree on its length ({v1} vs {v2}); the model's "
                              "structure depends on the batch size")
        if v1 == v2:
            return self.const(np.array(v1, _INT64), "ints")
        pieces, run = [], []
        for a, b in zip(v1, v2):
            if a == b:
                run.append(a)
                continue
            if run:
                pieces.append(self.const(np.array(run, _INT64), "ints"))
                run = []
            pieces.append(self.linear(a, b, what))
        if run:
            pieces.append(self.const(np.array(run, _INT64), "ints"))
        return pieces[0] if len(pieces) == 1 else self.add("Concat", pieces, axis=0)

    def linear(self, a, b, what):
        """``[k * B + c]`` (1-D int64) with ``k * B1 + c == a`` and ``k * B2 + c == b``."""
        b1, b2 = self.batches
        k, rem = divmod(b - a, b2 - b1)
        c = a - k * b1
        if rem or k * b2 + c != b:
            raise ExportError(f"{what}: a size that goes {a} -> {b} when the batch goes {b1} -> {b2} is not "
                              "a multiple of the batch; export with a fixed batch (no dynamic_axes)")
        out = self.batch()
        if k != 1:
            out = self.add("Mul", [out, self.const(np.array([k], _INT64), "ints")])
        if c:
            out = self.add("Add", [out, self.const(np.array([c], _INT64), "ints")])
        return out

    @staticmethod
    def same(v1, v2, what):
        if v1 != v2:
            raise ExportError(f"{what} changes with the batch size ({v1!r} vs {v2!r}); export with a fixed "
                              "batch (no dynamic_axes)")
        return v1

    def reduce(self, op_type, x, axes, keepdims, out=None):
        """Reduce ops take ``axes`` as an attribute before opset 18 (ReduceSum: 13) and an input after."""
        axes = [int(a) for a in axes]
        as_input = self.opset >= (13 if op_type == "ReduceSum" else 18)
        if as_input:
            return self.add(op_type, [x, self.const(np.array(axes, _INT64), "axes")], out=out,
                            keepdims=int(keepdims))
        return self.add(op_type, [x], out=out, axes=axes, keepdims=int(keepdims))
