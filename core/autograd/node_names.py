"""How graph nodes present themselves, as PyTorch's do: ``grad_fn`` names (``MulBackward0``,
``AddmmBackward0``, ...), ``next_functions`` with ``AccumulateGrad`` nodes for leaves, and
``<MulBackward0 object at 0x...>`` reprs, so tutorials that walk the graph print what they say.

visionlite's graph is built from a small set of primitives, and a composite (``linear``, ``mse_loss``)
ends in whichever primitive ran last. ``label(out, name, *inputs)`` lets a composite present its output
node under PyTorch's name, with the composite's inputs as its ``next_functions``; the gradient still
flows through the real primitives (``parents``), so this is presentation only.
"""

__all__ = ["AccumulateGrad", "label", "node_name", "next_edges"]

# primitive class name -> PyTorch's node name, where they differ only by the suffix or the spelling
_NAMES = {
    "Add": "AddBackward0", "Sub": "SubBackward0", "Mul": "MulBackward0", "Div": "DivBackward0",
    "Neg": "NegBackward0", "Abs": "AbsBackward0", "Exp": "ExpBackward0", "Expm1": "Expm1Backward0",
    "Log": "LogBackward0", "Log1p": "Log1PBackward0", "Sqrt": "SqrtBackward0", "Rsqrt": "RsqrtBackward0",
    "Sin": "SinBackward0", "Cos": "CosBackward0", "Tan": "TanBackward0", "Tanh": "TanhBackward0",
    "Sigmoid": "SigmoidBackward0", "Relu": "ReluBackward0", "Gelu": "GeluBackward0", "Silu": "SiluBackward0",
    "Erf": "ErfBackward0", "Softplus": "SoftplusBackward0", "LeakyRelu": "LeakyReluBackward0",
    "Elu": "EluBackward0", "Hardtanh": "HardtanhBackward0", "Hardswish": "HardswishBackward0",
    "Hardsigmoid": "HardsigmoidBackward0", "Clamp": "ClampBackward1", "Where": "WhereBackward0",
    "Maximum": "MaximumBackward0", "Minimum": "MinimumBackward0", "Atan2": "Atan2Backward0",
    "Hypot": "HypotBackward0", "Fmod": "FmodBackward0", "Cast": "ToCopyBackward0",
    "ToDevice": "ToCopyBackward0", "Clone": "CloneBackward0", "Reshape": "ViewBackward0",
    "Permute": "PermuteBackward0", "Expand": "ExpandBackward0", "Repeat": "RepeatBackward0",
    "Cat": "CatBackward0", "Flip": "FlipBackward0", "Roll": "RollBackward0",
    "PadConstant": "ConstantPadNdBackward0", "Prod": "ProdBackward0", "Cumsum": "CumsumBackward0",
    "Cumprod": "CumprodBackward0", "Softmax": "SoftmaxBackward0", "LogSoftmax": "LogSoftmaxBackward0",
    "Norm2": "LinalgVectorNormBackward0", "AdvancedIndex": "IndexBackward0", "IndexAdd": "IndexAddBackward0",
    "SetItem": "CopySlices", "Gather": "GatherBackward0", "Scatter": "ScatterBackward0",
    "Conv2dOp": "ConvolutionBackward0", "ConvTranspose2dOp": "ConvolutionBackward0",
    "MaxPool2dOp": "MaxPool2DWithIndicesBackward0", "AvgPool2dOp": "AvgPool2DBackward0",
    "AdaptiveAvgPool2dOp": "AdaptiveAvgPool2DBackward0",
    "AdaptiveMaxPool2dOp": "AdaptiveMaxPool2DWithIndicesBackward0",
    "BatchNormOp": "NativeBatchNormBackward0", "RowNormOp": "NativeLayerNormBackward0",
    # the recorded backward of pooling (create_graph): PyTorch's double-backward node names
    "PlaneScatterOp": "MaxPool2DWithIndicesBackwardBackward0",
    "AvgPoolAdjointOp": "AvgPool2DBackwardBackward0",
    "AdaptiveAvgAdjointOp": "AdaptiveAvgPool2DBackwardBackward0",
    "Embedding": "EmbeddingBackward0", "Cdist": "CdistBackward0",
    "BinaryCrossEntropy": "BinaryCrossEntropyBackward0", "Pow": "PowBackward0",
}


def _sum_name(node):
    axes = getattr(node, "axes", None)
    full = axes is None or len(axes) == len(getattr(node, "shape", ())) or axes == ()
    return "SumBackward0" if full else "SumBackward1"


def _maxmin_name(node):  # max/min along a dim (values and indices)
    return "MaxBackward0" if getattr(node, "largest", True) else "MinBackward0"


def _amaxmin_name(node):  # max()/min() of everything, or amax/amin over dims
    return "MaxBackward1" if getattr(node, "largest", True) else "MinBackward1"


def _slice_name(node):
    index = getattr(node, "index", ())
    index = index if isinstance(index, tuple) else (index,)
    if any(isinstance(i, int) for i in index):
        return "SelectBackward0"
    if any(i is None for i in index):
        return "UnsqueezeBackward0"
    return "SliceBackward0"


def _matmul_name(node):
    meta = [m for m in node.in_meta]
    ndims = [len(m[0]) for m in meta if m is not None]
    if len(ndims) == 2 and ndims == [2, 2] or (len(ndims) < 2 and all(n == 2 for n in ndims)):
        return "MmBackward0"
    return "UnsafeViewBackward0"


_DYNAMIC = {"Sum": _sum_name, "MaxMin": _maxmin_name, "AMaxMin": _amaxmin_name, "Slice": _slice_name,
            "MatMul": _matmul_name}


def node_name(node):
    """PyTorch's name for ``node``: its label, else its primitive's name (``<Class>Backward`` if unknown)."""
    label_ = node.__dict__.get("label") if hasattr(node, "__dict__") else None
    if label_:
        return label_
    cls = _primitive(type(node)).__name__
    if cls in _DYNAMIC:
        return _DYNAMIC[cls](node)
    return _NAMES.get(cls, cls + "Backward")


_PRESENTED = {}  # (primitive class, name) -> its subclass named as PyTorch's node


def _primitive(cls):
    return cls.__dict__.get("_presents", cls)


def presented(node):
    """``node`` with its class renamed as PyTorch's (``type(loss.grad_fn).__name__ == "MseLossBackward0"``,
    which graph drawers such as torchviz print): a behaviour-free subclass, made once per name."""
    if node is None or isinstance(node, AccumulateGrad) or not hasattr(node, "__dict__"):
        return node
    name = str(node.name)
    cls = type(node)
    if cls.__name__ != name:
        base = _primitive(cls)
        sub = _PRESENTED.get((base, name))
        if sub is None:
            sub = type(name, (base,), {"_presents": base, "__module__": base.__module__})
            _PRESENTED[(base, name)] = sub
        node.__class__ = sub
    return node


class AccumulateGrad:
    """The node PyTorch shows where a leaf's gradient lands; ``variable`` is the leaf tensor."""

    __slots__ = ("variable", "__weakref__")

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "torch::autograd::AccumulateGrad"

    next_functions = ()

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self):#x}>"


def _accumulator(leaf):
    # one per leaf, as in PyTorch (the same object each time the graph is walked)
    node = leaf.__dict__.get("_grad_accumulator")
    if node is None:
        node = leaf.__dict__["_grad_accumulator"] = AccumulateGrad(leaf)
    return node


def _edge(parent, slot):
    from ..tensor import Tensor

    if isinstance(parent, Tensor):
        return (_accumulator(parent), 0)
    return (presented(parent), slot if parent is not None else 0)


def next_edges(node):
    """``node.next_functions``: (node or AccumulateGrad or None, output index) per input."""
    shown = node.__dict__.get("shown_inputs") if hasattr(node, "__dict__") else None
    if shown is not None:
        return tuple(_edge(p, s) for p, s in shown)
    return tuple(_edge(p, s) for p, s in zip(node.parents, node.parent_slots))


def label(out, name, *inputs):
    """Present ``out``'s node as PyTorch's ``name`` with ``inputs`` (Tensors or None) as its
    ``next_functions``; returns ``out``. A result that is one of the inputs, or has no node, is left alone."""
    node = out._ctx
    if node is None or any(t is not None and t._ctx is node for t in inputs):
        return out
    node.label = name
    node.shown_inputs = tuple(
        (None, 0) if t is None else
        (t._ctx, t._out_index) if t._ctx is not None else (t if t.requires_grad else None, 0)
        for t in inputs)
    return out


def presents_as(name, *params, each=False):
    """Decorator for a composite function: its output node presents as ``name`` (a string, or a function of
    the call's ``(args, kwargs)``; None leaves it alone) with the arguments named ``params`` as
    ``next_functions`` (a list argument counts as its tensors). ``each``: the function returns several
    tensors, and each presents so (``split``)."""
    import functools
    import inspect

    def deco(fn):
        names = list(inspect.signature(fn).parameters)
        where = [(names.index(p), p) for p in params]

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            out = fn(*args, **kwargs)
            outs = out if each and isinstance(out, (tuple, list)) else (out,)
            if any(getattr(o, "_ctx", None) is not None for o in outs):
                shown = name(args, kwargs) if callable(name) else name
                if shown is None:
                    return out
                inputs = []
                for i, p in where:
                    value = args[i] if i < len(args) else kwargs.get(p)
                    inputs.extend(value if isinstance(value, (list, tuple)) else [value])
                inputs = [t if hasattr(t, "_ctx") else None for t in inputs]
                for o in outs:
                    if getattr(o, "_ctx", None) is not None:
                        label(o, shown, *inputs)
            return out

        return wrapper

    return deco
