"""``summary(model, input_size)``: the per-layer table people install torchinfo for.

One forward pass (under ``no_grad``, in the model's current mode) with forward hooks on every module records
each module's output shape; parameters are counted from the modules themselves, and multiply-accumulates
(MACs, "mult-adds") from the layers that do the arithmetic:

- ``Conv{1,2,3}d``: ``weight.numel() * output positions`` (per sample: out_channels x in/groups x kernel,
  once per output pixel); ``ConvTranspose``: the same over input positions;
- ``Linear`` / ``Bilinear``: ``weight.numel()`` per output row;
- ``MultiheadAttention``: its input and output projections (``out_proj`` is applied as a function, as in
  PyTorch, so it is counted here) and the two attention products (``Q K^T`` and ``A V``).

Elementwise layers (norms, activations, pooling) count 0 MACs: their cost is memory traffic, not MACs, as in
torchinfo and in ``torch.utils.flop_counter`` (whose FLOPs are 2 x these MACs for conv/linear/attention).
"""
from dataclasses import dataclass, field

import visionlite as vl
from visionlite import nn

__all__ = ["LayerInfo", "ModelSummary", "summary"]


@dataclass
class LayerInfo:
    """One module call: its qualified name, class, nesting depth and what it produced and holds."""

    name: str
    class_name: str
    depth: int
    output_shape: list = field(default_factory=list)
    num_params: int = 0  # parameters owned directly or by descendants
    trainable_params: int = 0
    mult_adds: int = 0  # of this call alone (leaf arithmetic), descendants excluded
    total_mult_adds: int = 0  # this call's and its descendants' calls'
    output_bytes: int = 0
    is_leaf: bool = True


@dataclass
class ModelSummary:
    """What :func:`summary` measured; ``str()`` of it is the table."""

    layers: list
    total_params: int
    trainable_params: int
    total_mult_adds: int
    input_bytes: int
    activation_bytes: int  # outputs of the leaf layers of one forward pass (what backward keeps, at most)
    param_bytes: int
    depth: int = 3
    col_names: tuple = ("output_size", "num_params", "mult_adds")

    @property
    def non_trainable_params(self):
        return self.total_params - self.trainable_params

    @property
    def total_bytes(self):
        return self.input_bytes + self.activation_bytes + self.param_bytes

    def __str__(self):
        return _format(self)

    __repr__ = __str__


def summary(model, input_size=None, *, input_data=None, dtypes=None, device=None, depth=3,
            col_names=("output_size", "num_params", "mult_adds"), verbose=1):
    """Run ``model`` once and tabulate its layers.

    Args:
        model: an ``nn.Module``.
        input_size: the input's shape including the batch, e.g. ``(1, 3, 224, 224)``, or a list of shapes
            for several inputs (zeros of ``dtypes``, default float32, are fed).
        input_data: the input(s) themselves instead (a Tensor, or a list/tuple of arguments).
        device: where the generated inputs go (default: the model's parameters' device).
        depth: rows nested deeper than this are folded into their parent.
        col_names: columns among ``"output_size"``, ``"num_params"``, ``"mult_adds"``, ``"trainable"``,
            ``"kernel_size"``.
        verbose: 1 prints the table; 0 prints nothing.
    Returns a :class:`ModelSummary` (``total_params``, ``total_mult_adds``, ``layers``, ...).
    """
    unknown = set(col_names) - set(_COLUMNS)
    if unknown:
        raise ValueError(f"summary: unknown col_names {sorted(unknown)}; choose from {list(_COLUMNS)}")
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
        raise ValueError(f"summary: depth must be an int >= 0 (rows nested deeper are folded), got {depth!r}")
    args = _inputs(model, input_size, input_data, dtypes, device)
    rows, handles, stack = [], [], []
    names = {id(m): n for n, m in model.named_modules()}

    def pre_hook(module, inputs):
        name = names.get(id(module), type(module).__name__)
        info = LayerInfo(name=name, class_name=type(module).__name__, depth=len(stack),
                         is_leaf=not any(True for _ in module.children()))
        held = list(module.parameters())  # its own and its descendants'
        info.num_params = sum(p.numel() for p in held)
        info.trainable_params = sum(p.numel() for p in held if p.requires_grad)
        rows.append(info)
        stack.append((info, inputs))

    def hook(module, inputs, output):
        info, _ = stack.pop()
        info.output_shape = _shape_of(output)
        info.output_bytes = _bytes_of(output)
        info.mult_adds = _mult_adds(module, inputs, output)

    for module in model.modules():
        handles.append(module.register_forward_pre_hook(pre_hook))
        handles.append(module.register_forward_hook(hook))
    try:
        with vl.no_grad():
            model(*args)
    except Exception as e:
        # as torchinfo: a RuntimeError saying where the run stopped, the model's own error chained
        failed = stack[-1][0] if stack else None
        where = ""
        if failed is not None and failed.depth:  # depth 0 is the model itself
            where = f" in layer '{failed.name}' ({failed.class_name})"
        shapes = [_shape_of(a) for a in args]
        raise RuntimeError(f"summary: {type(model).__name__} failed{where} on input(s) of shape {shapes}: "
                           f"{type(e).__name__}: {e}") from e
    finally:
        for h in handles:
            h.remove()
    _sum_subtrees(rows)
    params = {id(p): p for p in model.parameters()}.values()  # shared weights once
    result = ModelSummary(
        layers=rows[1:],  # the model itself is the total line
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        total_mult_adds=sum(r.mult_adds for r in rows),
        input_bytes=sum(_bytes_of(a) for a in args),
        activation_bytes=sum(r.output_bytes for r in rows[1:] if r.is_leaf),
        param_bytes=sum(p.numel() * p.element_size() for p in params)
        + sum(b.numel() * b.element_size() for b in model.buffers()),
        depth=depth, col_names=tuple(col_names))
    if verbose:
        print(result)
    return result


def _sum_subtrees(rows):
    """Fill ``total_mult_adds``: rows are in call (pre-)order, a row's descendants follow it, deeper."""
    open_rows = []
    for row in rows:
        while open_rows and open_rows[-1].depth >= row.depth:
            open_rows.pop()
        row.total_mult_adds = row.mult_adds
        for parent in open_rows:
            parent.total_mult_adds += row.mult_adds
        open_rows.append(row)


# ---------------------------------------------------------------------------------------------- inputs

def _inputs(model, input_size, input_data, dtypes, device):
    if input_data is not None:
        return list(input_data) if isinstance(input_data, (list, tuple)) else [input_data]
    if input_size is None:
        raise ValueError("summary: pass input_size (e.g. (1, 3, 224, 224)) or input_data")
    sizes = _check_sizes(input_size)
    dtypes = list(dtypes) if dtypes is not None else [vl.float32] * len(sizes)
    if len(dtypes) != len(sizes):
        raise ValueError(f"summary: {len(dtypes)} dtypes for {len(sizes)} input sizes; pass one dtype per "
                         "input")
    if device is None:
        first = next(iter(model.parameters()), None)
        device = first.device if first is not None else "cpu"
    return [vl.zeros(*size, dtype=dt, device=device) for size, dt in zip(sizes, dtypes)]


def _check_sizes(input_size):
    """``input_size`` as a list of shapes; ValueError for anything but positive int sizes (typos such as a
    string "1,3,224,224", a float side or a negative one)."""
    def is_shape(v):
        return isinstance(v, (tuple, list)) and len(v) > 0 and all(
            isinstance(d, int) and not isinstance(d, bool) for d in v)

    if isinstance(input_size, (tuple, list)) and is_shape(input_size):
        sizes = [list(input_size)]
    elif isinstance(input_size, (tuple, list)) and input_size and all(is_shape(v) for v in input_size):
        sizes = [list(v) for v in input_size]
    else:
        raise ValueError(f"summary: input_size must be a shape of ints including the batch, e.g. (1, 3, 224, "
                         f"224), or a list of such shapes (one per input); got {input_size!r:.80}")
    for size in sizes:
        if any(d <= 0 for d in size):
            raise ValueError(f"summary: input_size {tuple(size)} has a size <= 0; every size must be "
                             "positive")
    return sizes


def _tensors(value):
    if isinstance(value, vl.Tensor):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)


def _shape_of(value):
    if isinstance(value, vl.Tensor):
        return list(value.shape)
    found = [list(t.shape) for t in _tensors(value)]
    return found[0] if len(found) == 1 else found


def _bytes_of(value):
    return sum(t.numel() * t.element_size() for t in _tensors(value))


# ------------------------------------------------------------------------------------------ mult-adds

def _mult_adds(module, inputs, output):
    from visionlite.core.nn.modules.conv import _ConvNd, _ConvTransposeNd

    if isinstance(module, _ConvTransposeNd):  # each input position scatters the whole kernel
        return module.weight.numel() * inputs[0].numel() // module.in_channels
    if isinstance(module, _ConvNd):  # each output position gathers in/groups x kernel per out channel
        return module.weight.numel() * output.numel() // module.out_channels
    if isinstance(module, (nn.Linear, nn.Bilinear)):
        return module.weight.numel() * (output.numel() // module.out_features)
    if isinstance(module, nn.MultiheadAttention):
        return _attention_mult_adds(module, inputs)
    return 0


def _attention_mult_adds(mha, inputs):
    query, key, value = inputs[:3]
    batched = query.dim() == 3
    if batched and mha.batch_first:
        n, lq, e = query.shape
        s = key.shape[1]
    elif batched:
        lq, n, e = query.shape
        s = key.shape[0]
    else:
        (lq, e), n, s = query.shape, 1, key.shape[0]
    kdim, vdim = key.shape[-1], value.shape[-1]
    projections = n * (lq * e * e + s * kdim * e + s * vdim * e + lq * e * e)  # q, k, v and out projections
    products = 2 * n * lq * s * e  # Q K^T and A V over all heads
    return projections + products


# ------------------------------------------------------------------------------------------------ table

_COLUMNS = {"output_size": "Output Shape", "num_params": "Param #", "mult_adds": "Mult-Adds",
            "trainable": "Trainable", "kernel_size": "Kernel Shape"}


def _cell(row, col, module_folded):
    if col == "output_size":
        return str(row.output_shape)
    if col == "num_params":
        if row.num_params == 0:
            return "--"
        return f"{row.num_params:,}" if row.is_leaf or module_folded else f"({row.num_params:,})"
    if col == "mult_adds":
        value = row.total_mult_adds if module_folded else row.mult_adds
        return f"{value:,}" if value else "--"
    if col == "trainable":
        if row.num_params == 0:
            return "--"
        return "True" if row.trainable_params == row.num_params else (
            "False" if row.trainable_params == 0 else "Partial")
    return "--"  # kernel_size: not recorded per call


def _format(s):
    title = "Layer (type:depth-idx)"
    lines, counters = [], {}
    for row in s.layers:
        if row.depth > s.depth:
            continue
        counters[row.depth] = counters.get(row.depth, 0) + 1
        for deeper in [d for d in counters if d > row.depth]:
            del counters[deeper]
        indent = "│    " * (row.depth - 1) + "├─" if row.depth > 0 else ""
        label = f"{indent}{row.class_name}: {row.depth}-{counters[row.depth]}"
        folded = row.depth == s.depth
        lines.append([label] + [_cell(row, c, folded) for c in s.col_names])
    header = [title] + [_COLUMNS[c] for c in s.col_names]
    widths = [max(len(r[i]) for r in lines + [header]) + 2 for i in range(len(header))]
    fmt = "".join(f"{{:<{w}}}" for w in widths)
    rule = "=" * sum(widths)
    out = [rule, fmt.format(*header), rule] + [fmt.format(*r) for r in lines] + [rule]
    out += [f"Total params: {s.total_params:,}", f"Trainable params: {s.trainable_params:,}",
            f"Non-trainable params: {s.non_trainable_params:,}",
            f"Total mult-adds (G): {s.total_mult_adds / 1e9:.2f}", rule,
            f"Input size (MB): {s.input_bytes / 1e6:.2f}",
            f"Forward pass activations (MB): {s.activation_bytes / 1e6:.2f}",
            f"Params size (MB): {s.param_bytes / 1e6:.2f}",
            f"Estimated total size (MB): {s.total_bytes / 1e6:.2f}", rule]
    return "\n".join(out)
