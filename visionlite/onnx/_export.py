"""``export``: trace the model, align two traces, fold what weights alone determine, emit ONNX."""

import os
import warnings

import numpy as np

from visionlite.core.backend import array_module
from visionlite.core.tensor import Tensor

from . import _ops
from ._graph import Builder, Node
from ._trace import ExportError, host, trace

_MIN_OPSET = 13
# torch.onnx.export's options that choose between torch's own exporters or reports: no meaning here.
_TORCH_ONLY = {"dynamo", "external_data", "dynamic_shapes", "custom_translation_table", "report", "optimize",
               "verify", "profile", "dump_exported_program", "artifacts_dir", "operator_export_type",
               "custom_opsets", "export_modules_as_functions", "autograd_inlining"}


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError(
            'visionlite.onnx.export needs the onnx package: pip install "visionlite[onnx]"'
        ) from None
    return onnx


def _as_tuple(args):
    if isinstance(args, Tensor):
        return (args,)
    if isinstance(args, (tuple, list)):
        for a in args:
            if not isinstance(a, Tensor):
                raise TypeError(f"export: args must be Tensors (got a {type(a).__name__}); pass other "
                                "arguments through kwargs=")
        return tuple(args)
    raise TypeError(f"export: args must be a Tensor or a tuple of Tensors, got {type(args).__name__}")


def _dynamic_batch(dynamic_axes, input_names, output_names):
    """Whether dim 0 of the inputs is dynamic, and the ``{name: {axis: label}}`` to write in the graph."""
    if not dynamic_axes:
        return False, {}
    known = set(input_names) | set(output_names)
    labels = {}
    for name, axes in dynamic_axes.items():
        if name not in known:
            raise ValueError(f"export: dynamic_axes names {name!r}, which is neither an input nor an output "
                             f"name ({sorted(known)}); pass input_names=/output_names=")
        if not isinstance(axes, dict):
            axes = {int(a): f"{name}_dynamic_axes_{int(a) + 1}" for a in axes}
        if name in input_names and set(axes) - {0}:
            raise NotImplementedError(
                f"export: only the batch axis (0) of an input can be dynamic, got axes {sorted(axes)} for "
                f"{name!r}; export one graph per input size instead")
        labels[name] = axes
    return any(n in labels for n in input_names), labels


def _second_inputs(inputs, batch2):
    """Other inputs for the second trace, at batch size ``batch2``: rows in a rotated order, float values
    perturbed, so that a constant computed from the data (not through ops) shows as a difference."""
    rng = np.random.default_rng(0)
    out = []
    for x in inputs:
        data = x._data
        if data.ndim:
            data = data[[(i + 1) % data.shape[0] for i in range(batch2)]]
        if data.dtype.kind == "f":
            xp = array_module(data)
            scale = float(xp.abs(data).mean()) * 0.1 + 1e-3 if data.size else 1.0
            data = data + xp.asarray((rng.standard_normal(data.shape) * scale).astype(data.dtype))
        out.append(Tensor._wrap(data))
    return out


_DIVERGED = (
    "the model ran {what} on a second input (other values, and another batch size when it is dynamic): "
    "its control flow depends on the input, so one ONNX graph cannot compute it; make the path "
    "independent of the values (and of the batch size, or export with a fixed batch)"
)


class _Aligned:
    """Both traces' records side by side, with each value id mapped to one canonical key."""

    def __init__(self, t1, t2):
        if len(t1.records) != len(t2.records) or len(t1.outputs) != len(t2.outputs):
            raise ExportError(_DIVERGED.format(what="a different number of ops"))
        self.t1, self.t2 = t1, t2
        k1, k2 = self._keys(t1), self._keys(t2)
        for i, (r1, r2) in enumerate(zip(t1.records, t2.records)):
            if r1.cls is not r2.cls or [k1[v] for v in r1.ins] != [k2[v] for v in r2.ins]:
                raise ExportError(_DIVERGED.format(what=f"a different op {i} (first: {r1.cls.__name__})"))
            for name, v1 in r1.attrs.items():
                # (``*_out`` attributes are lists the op fills with side results, not inputs.)
                if not name.endswith("_out") and not _same_arrays(v1, r2.attrs.get(name)):
                    raise ExportError(
                        f"{r1.cls.__name__}'s {name} (an array the op takes as it is, e.g. indices) changes "
                        "with the input: it was computed outside visionlite's recorded ops (numpy, "
                        ".tolist(), a comparison); export needs it computed with tensor ops")
        self.ins = [[k1[v] for v in r.ins] for r in t1.records]
        self.outputs = [k1[v] for v in t1.outputs]
        if self.outputs != [k2[v] for v in t2.outputs]:
            raise ExportError(_DIVERGED.format(what="different outputs"))
        # Constants the model made: the same value in both traces, a fill whose shape follows the batch
        # (torch.zeros(n, ...)), or an error.
        self.consts, self.fills = {}, {}
        c2 = {key: src for key, src in self._const_sources(t2, k2)}
        for key, src in self._const_sources(t1, k1):
            other = c2[key]
            if src.shape != other.shape and src.ndim == other.ndim and src.dtype == other.dtype:
                flat = np.concatenate([src.ravel(), other.ravel()])
                if flat.size and np.all(flat == flat[0]):
                    self.fills[key] = (src.shape, other.shape, flat[0])
                    continue
            if src.shape != other.shape or not np.array_equal(src, other, equal_nan=True):
                raise ExportError(
                    f"a constant of shape {list(src.shape)} used by the model changes with the input (it is "
                    "computed outside visionlite's recorded ops, e.g. from .numpy()/.item()/.tolist() or "
                    "a comparison); export needs it computed with tensor ops")
            self.consts[key] = src

    @staticmethod
    def _keys(tr):
        keys, n_const = {}, 0
        for vid, src in tr.sources.items():
            if src[0] == "input":
                keys[vid] = ("input", src[1])
            elif src[0] == "param":
                keys[vid] = ("param", src[1])
        for vid in _ordered_vids(tr):
            if vid in keys:
                continue
            if vid in tr.produced:
                keys[vid] = ("node", tr.produced[vid])
            else:
                keys[vid] = ("const", n_const)
                n_const += 1
        return keys

    @staticmethod
    def _const_sources(tr, keys):
        for vid, src in tr.sources.items():
            if src[0] == "const":
                yield keys[vid], src[1]


def _same_arrays(a, b):
    """False when an array inside op attribute ``a`` differs from the one in ``b`` (other values pass)."""
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b):
        return all(_same_arrays(x, y) for x, y in zip(a, b))
    return True


def _ordered_vids(tr):
    """Value ids in order of first use (inputs of each record, then the outputs)."""
    seen = []
    got = set()
    for r in tr.records:
        for v in r.ins:
            if v not in got:
                got.add(v)
                seen.append(v)
        if r.out not in got:
            got.add(r.out)
            seen.append(r.out)
    for v in tr.outputs:
        if v not in got:
            got.add(v)
            seen.append(v)
    return seen


def _static_value(al, key, params):
    kind, ref = key
    if kind == "param":
        return host(params[ref])
    if kind == "const":
        return al.consts[key]
    return host(al.t1.records[ref].value)


def _fold_batchnorms(nodes, al, dyn, params):
    """Fold each eval-mode BatchNorm into the convolution before it when that convolution feeds nothing
    else and both have fixed weights: the convolution gets ``fold`` (new weight and bias); returns
    ``{batchnorm index: convolution index}``."""
    users = {}
    for i in nodes:
        for k in al.ins[i]:
            if k[0] == "node":
                users[k[1]] = users.get(k[1], 0) + 1
    for k in al.outputs:
        if k[0] == "node":
            users[k[1]] = users.get(k[1], 0) + 2

    def fixed(k):
        return k[0] != "input" and not (k[0] == "node" and dyn[k[1]]) and k not in al.fills

    def value(k, n):
        return np.asarray(_static_value(al, k, params), np.float64).reshape(n) if n else None

    alias = {}
    for i, n in nodes.items():
        src = al.ins[i][0]
        if n.op != "BatchNormOp" or n.attrs.get("training", True) or src[0] != "node":
            continue
        j = src[1]
        conv = nodes.get(j)
        if conv is None or conv.op != "Conv2dOp" or users.get(j) != 1 or len(n.in_shapes[0]) != 4:
            continue
        if not all(fixed(k) for k in al.ins[j][1:] + al.ins[i][1:]):
            continue
        w = np.asarray(_static_value(al, al.ins[j][1], params), np.float64)
        c = w.shape[0]
        b = value(al.ins[j][2], c) if len(al.ins[j]) > 2 else np.zeros(c)
        gamma = value(al.ins[i][1], c) if len(al.ins[i]) > 1 else np.ones(c)
        beta = value(al.ins[i][2], c) if len(al.ins[i]) > 2 else np.zeros(c)
        mean, var = (np.asarray(n.attrs[k], np.float64) for k in ("mean", "var"))
        scale = gamma / np.sqrt(var + float(n.attrs.get("eps", 1e-5)))
        conv.fold = ((w * scale[:, None, None, None]).astype(conv.dtype),
                     ((b - mean) * scale + beta).astype(conv.dtype))
        alias[i] = j
    # The folded weights take the convolution's names, unless another op still reads the originals.
    folded = set(alias.values())
    still_read = {k[1] for i in nodes if i not in alias for pos, k in enumerate(al.ins[i])
                  if k[0] == "param" and not (i in folded and pos > 0)}
    for j in folded:
        wkey = al.ins[j][1]
        base = wkey[1].rsplit(".", 1)[0] if wkey[0] == "param" else f"/Conv2dOp_{j}"
        names = [f"{base}.weight", f"{base}.bias"]
        nodes[j].fold_names = [nm if nm not in still_read else nm + ".bn_folded" for nm in names]
    return alias


def _build(model, inputs, kwargs, *, input_names, output_names, dynamic_axes, opset, fold, onnx):
    inputs = _as_tuple(inputs)
    if not inputs:
        raise ValueError("export: args must hold at least one Tensor (the model's input)")
    input_names = list(input_names) if input_names else (
        ["input"] if len(inputs) == 1 else [f"input{i}" for i in range(len(inputs))])
    if len(input_names) != len(inputs):
        raise ValueError(f"export: {len(input_names)} input_names for {len(inputs)} inputs")
    t1 = trace(model, inputs, kwargs)
    out_names = list(output_names) if output_names else list(t1.output_names)
    if len(out_names) != len(t1.outputs):
        raise ValueError(f"export: {len(out_names)} output_names for {len(t1.outputs)} outputs")
    dynamic, labels = _dynamic_batch(dynamic_axes, input_names, out_names)
    b1 = int(inputs[0].shape[0]) if inputs[0].ndim else 1
    # A second trace, at another batch size when it is dynamic, always on other values: sizes that follow
    # the batch are fitted from the two, and anything that differs otherwise is an error, not a wrong graph.
    b2 = (b1 + 1 if b1 > 1 else 2) if dynamic else b1
    if dynamic and any(x.ndim == 0 or x.shape[0] != b1 for x in inputs):
        raise ValueError("export: with a dynamic batch, every input needs the same batch size (dim 0)")
    t2 = trace(model, _second_inputs(inputs, b2), kwargs)
    al = _Aligned(t1, t2)
    recs1, recs2 = t1.records, t2.records
    params = {}
    if hasattr(model, "named_parameters"):
        params = {n: p._data for n, p in model.named_parameters(remove_duplicate=False)}
        params.update({n: b._data for n, b in model.named_buffers(remove_duplicate=False)})

    # Which values depend on the input (or on the batch size): those become graph nodes.
    dyn = [False] * len(recs1)
    for i, (r1, r2) in enumerate(zip(recs1, recs2)):
        from_input = any(k[0] == "input" or (k[0] == "node" and dyn[k[1]]) or k in al.fills
                         for k in al.ins[i])
        dyn[i] = from_input or r1.shape != r2.shape

    # Live nodes: those the outputs need.
    live = [False] * len(recs1)
    stack = [k[1] for k in al.outputs if k[0] == "node" and dyn[k[1]]]
    while stack:
        i = stack.pop()
        if live[i]:
            continue
        live[i] = True
        stack += [k[1] for k in al.ins[i] if k[0] == "node" and dyn[k[1]] and not live[k[1]]]

    g = Builder(onnx, opset, (b1, b2), input_names[0])
    names = {}  # canonical key -> ONNX value name
    const_names = {}

    def name_of(key, i=None):
        if key[0] == "input":
            return input_names[key[1]]
        if key[0] == "node" and dyn[key[1]]:
            return names[key]
        if key not in const_names and key in al.fills:  # its shape follows the batch: built in the graph
            s1, s2, v = al.fills[key]
            fill = onnx.helper.make_tensor("value", _ops.onnx_dtype(onnx, v.dtype), [1], [v.item()])
            shape = g.ints(s1, s2, "a filled constant's shape")
            const_names[key] = g.add("ConstantOfShape", [shape], value=fill)
        if key not in const_names:
            value = np.asarray(_static_value(al, key, params))
            if key[0] == "param":
                const_names[key] = g.named_const(key[1], value)
            elif key[0] == "const":
                const_names[key] = g.const(value, "const")
            else:
                const_names[key] = g.named_const(derived_name(key), value)
        return const_names[key]

    def derived_name(key):
        """``fc.weight.permute`` for a value computed from one weight by a chain of ops, else ``/Op_i``."""
        chain, k = [], key
        while k[0] == "node" and not dyn[k[1]]:
            chain.append(recs1[k[1]].cls.__name__.lower().removesuffix("op"))
            ins = al.ins[k[1]]
            if len(ins) != 1:
                break
            k = ins[0]
        if k[0] == "param":
            name = f"{k[1]}." + ".".join(reversed(chain))
        else:
            name = f"/{recs1[key[1]].cls.__name__}_{key[1]}"
        unique, n = name, 1
        while unique in g.initializers:
            n += 1
            unique = f"{name}_{n}"
        return unique

    nodes = {}
    for i, r1 in enumerate(recs1):
        if live[i]:
            names[("node", i)] = f"/{r1.cls.__name__}_{i}"
            nodes[i] = Node(i, r1, recs2[i], None, names[("node", i)])

    alias = _fold_batchnorms(nodes, al, dyn, params) if fold else {}

    for i, n in nodes.items():
        if i in alias:
            names[("node", i)] = names[("node", alias[i])]
            continue
        n.ins = [name_of(k) for k in (al.ins[i][:1] if n.fold is not None else al.ins[i])]
        if n.op in _ops.ELEMENTWISE and n.dtype.kind == "f":
            for k, (name, dt) in enumerate(zip(n.ins, n.in_dtypes)):
                if dt != n.dtype and not (n.op == "Where" and k == 0):
                    key = al.ins[i][k]
                    if key[0] != "input" and not (key[0] == "node" and dyn[key[1]]):
                        n.ins[k] = g.const(np.asarray(_static_value(al, key, params)).astype(n.dtype))
                    else:
                        n.ins[k] = g.add("Cast", [name], to=_ops.onnx_dtype(onnx, n.dtype))
        conv = _ops.CONVERTERS.get(n.op)
        if conv is None:
            where = f" in {n.module}" if n.module else ""
            raise ExportError(f"the op {n.op} (core/ops) has no ONNX converter yet; it was reached{where} "
                              f"with an input of shape {list(n.in_shapes[0]) if n.in_shapes else []}")
        conv(g, n)

    helper = onnx.helper
    graph_outputs, out_nodes = [], []
    for key, name in zip(al.outputs, out_names):
        src = name_of(key)
        out_nodes.append(helper.make_node("Identity", [src], [name], name=f"{name}_identity"))
    to_proto = onnx.numpy_helper.from_array
    inits = [to_proto(np.ascontiguousarray(v), name) for name, v in g.initializers.items()]

    def value_info(name, dtype, shape, axes):
        dims = [axes.get(d, s) if isinstance(axes.get(d), str) else s for d, s in enumerate(shape)]
        return helper.make_tensor_value_info(name, _ops.onnx_dtype(onnx, dtype), dims)

    graph_inputs = [value_info(nm, x._data.dtype, x.shape, labels.get(nm, {}))
                    for nm, x in zip(input_names, inputs)]
    for key, name in zip(al.outputs, out_names):
        if key[0] == "node":
            shape, dtype = recs1[key[1]].shape, recs1[key[1]].dtype
        elif key[0] == "input":
            shape, dtype = tuple(inputs[key[1]].shape), inputs[key[1]]._data.dtype
        elif key in al.fills:
            shape, dtype = al.fills[key][0], al.fills[key][2].dtype
        else:
            v = np.asarray(_static_value(al, key, params))
            shape, dtype = v.shape, v.dtype
        axes = labels.get(name, {})
        if dynamic and not axes and key[0] == "node" and recs1[key[1]].shape != recs2[key[1]].shape:
            pairs = zip(recs1[key[1]].shape, recs2[key[1]].shape)
            axes = {d: "batch" for d, (a, b) in enumerate(pairs) if a != b}
        graph_outputs.append(value_info(name, dtype, shape, axes))
    graph = helper.make_graph(g.nodes + out_nodes, getattr(model, "__class__", type(model)).__name__,
                              graph_inputs, graph_outputs, initializer=inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="visionlite")
    proto.ir_version = min(onnx.IR_VERSION, helper.find_min_ir_version_for(list(proto.opset_import)) + 1, 10)
    return proto


def export(model, args=(), f=None, *, kwargs=None, input_names=None, output_names=None, opset_version=None,
           dynamic_axes=None, do_constant_folding=True, export_params=True, verbose=None, training=None,
           keep_initializers_as_inputs=False, **torch_options):
    """Write ``model`` as an ONNX graph, as ``torch.onnx.export`` does (TorchScript-style arguments).

    Runs ``model(*args, **kwargs)`` (in eval mode, restored afterwards) and records each primitive op it
    executes; weights become initializers (``conv1.weight`` keeps its state-dict name), values that
    weights alone determine are computed at export, and with ``do_constant_folding`` an eval-mode
    BatchNorm after a convolution is folded into its weights. ``dynamic_axes`` (as torch:
    ``{"input": {0: "batch"}, "output": {0: "batch"}}`` or ``{"input": [0]}``) makes the batch axis
    dynamic: the model is traced at two batch sizes and every size that depends on the batch is
    computed in the graph from the input's shape, so the graph runs at any batch size.

    ``args``: a Tensor or a tuple of Tensors (batch first). ``f``: a path or a binary file object, or
    None. ``opset_version``: 13 or newer (default 17); 10-12 write 13 with a warning. Returns the
    ``onnx.ModelProto``.
    torch's exporter-specific options (``dynamo``, ``optimize``, ``report``, ...) are accepted and have
    no effect. Needs the ``onnx`` package (``pip install "visionlite[onnx]"``).
    """
    unknown = sorted(set(torch_options) - _TORCH_ONLY)
    if unknown:
        raise TypeError(f"export() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}")
    if training is not None and training is not False and "EVAL" not in str(training).upper():
        raise NotImplementedError(f"export: training={training!r}: only eval-mode graphs are exported "
                                  "(BatchNorm with running statistics, no dropout)")
    onnx = _import_onnx()
    opset = 17 if opset_version is None else int(opset_version)
    newest = onnx.defs.onnx_opset_version()
    if 10 <= opset < _MIN_OPSET:
        # Tutorials still ask for opsets 10-12 (the super-resolution one: 10). The converters write opset-13
        # forms (Squeeze/Reduce axes as inputs), which every ONNX Runtime since 1.8 runs, so say so and
        # write 13 rather than fail a script that torch runs.
        warnings.warn(f"export: opset_version={opset} is older than the oldest this exporter writes "
                      f"({_MIN_OPSET}); writing opset {_MIN_OPSET}", UserWarning, stacklevel=2)
        opset = _MIN_OPSET
    if not _MIN_OPSET <= opset <= newest:
        raise ValueError(f"export: opset_version must be between {_MIN_OPSET} and {newest} (this onnx "
                         f"package), got {opset_version}")
    if not export_params:
        raise NotImplementedError("export: export_params=False is not supported; weights are initializers")
    train_flag = getattr(model, "training", None)
    if train_flag and hasattr(model, "eval"):
        model.eval()
    try:
        proto = _build(model, args, kwargs, input_names=input_names, output_names=output_names,
                       dynamic_axes=dynamic_axes, opset=opset, fold=bool(do_constant_folding), onnx=onnx)
    finally:
        if train_flag and hasattr(model, "train"):
            model.train(True)
    if keep_initializers_as_inputs:
        have = {i.name for i in proto.graph.input}
        for init in proto.graph.initializer:
            if init.name not in have:
                info = onnx.helper.make_tensor_value_info(init.name, init.data_type, init.dims)
                proto.graph.input.append(info)
    if verbose:
        print(onnx.helper.printable_graph(proto.graph))
    if f is not None:
        _save(onnx, proto, f)
    return proto


_PROTO_LIMIT = 2**31 - 2**26  # protobuf's 2 GiB message limit, with room for the graph itself


def _save(onnx, proto, f):
    big = sum(t.ByteSize() for t in proto.graph.initializer) > _PROTO_LIMIT
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        if big:  # weights beside the graph, as torch does past 2 GiB
            onnx.save_model(proto, path, save_as_external_data=True, all_tensors_to_one_file=True,
                            location=os.path.basename(path) + ".data")
            return
        from visionlite.core.serialization.atomic import write_atomically

        data = proto.SerializeToString()
        write_atomically(path, lambda fh: fh.write(data))
    else:
        if big:
            raise ValueError("export: the model's weights exceed protobuf's 2 GiB limit; pass a file path "
                             "so they can be written as external data beside it")
        f.write(proto.SerializeToString())
