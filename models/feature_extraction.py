"""Intermediate features by graph node, as ``torchvision.models.feature_extraction``.

The model's forward is traced symbolically (:mod:`visionlite.fx`), in train and in eval mode. Every recorded
operation is a node named by where it happens: the qualified name of the module whose forward ran it, a
dot, and the operation (``layer1.0.add``, ``flatten``, ``encoder.layers.encoder_layer_0.getitem``); a leaf
module (visionlite.nn's layers, visionlite.ops' modules) is one node named by its qualified name
(``layer1.0.conv1``); the input is ``x``. A repeated name gets ``_1``, ``_2``, ... within its module
(``layer1.0.relu_1``). These are TorchVision's names for the same models.
"""
import inspect
import math
import re
import warnings
from collections import OrderedDict
from itertools import chain

from visionlite import fx, nn

__all__ = ["create_feature_extractor", "get_graph_node_names"]


class LeafModuleAwareTracer(fx.Tracer):
    """A tracer that does not trace into instances of ``leaf_modules`` (besides visionlite.nn's layers)."""

    def __init__(self, *args, leaf_modules=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.leaf_modules = tuple(leaf_modules)

    def is_leaf_module(self, m, module_qualname):
        if self.leaf_modules and isinstance(m, self.leaf_modules):
            return True
        return super().is_leaf_module(m, module_qualname)


class NodePathTracer(LeafModuleAwareTracer):
    """Records, for every node, its name: the path of module names from the root to the operation.

    ``node_to_qualname`` maps each node to that name, in execution order.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.current_module_qualname = ""
        self.node_to_qualname = OrderedDict()

    def call_module(self, m, forward, args, kwargs):
        previous = self.current_module_qualname
        try:
            module_qualname = self.path_of_module(m)
            self.current_module_qualname = module_qualname
            if not self.is_leaf_module(m, module_qualname):
                return forward(*args, **kwargs)
            return self.create_proxy("call_module", module_qualname, args, kwargs)
        finally:
            self.current_module_qualname = previous

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None):
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr)
        self.node_to_qualname[proxy.node] = self._get_node_qualname(self.current_module_qualname, proxy.node)
        return proxy

    def _get_node_qualname(self, module_qualname, node):
        qualname = module_qualname
        if node.op != "call_module":
            qualname = f"{qualname}.{node.name}" if qualname else node.name
        # The graph numbers repeated names globally (``add_7``); names here are numbered per module, so the
        # graph's suffix goes, and the next free local one is added: one more than the latest such name.
        if re.match(r".+_[0-9]+$", qualname) is not None:
            qualname = qualname.rsplit("_", 1)[0]
        for existing in reversed(self.node_to_qualname.values()):
            if re.match(rf"{qualname}(_[0-9]+)?$", existing) is not None:
                postfix = existing.replace(qualname, "")
                qualname += f"_{int(postfix[1:]) + 1 if postfix else 1}"
                break
        return qualname


def _is_subseq(x, y):
    """Whether ``y`` is a subsequence of ``x``."""
    it = iter(x)
    return all(any(a == b for a in it) for b in y)


def _warn_graph_differences(train_tracer, eval_tracer):
    train_nodes = list(train_tracer.node_to_qualname.values())
    eval_nodes = list(eval_tracer.node_to_qualname.values())
    if train_nodes == eval_nodes:
        return
    prefix = "The nodes obtained by tracing the model in"
    if _is_subseq(train_nodes, eval_nodes):
        msg = f"NOTE: {prefix} eval mode are a subsequence of those obtained in train mode. "
    elif _is_subseq(eval_nodes, train_nodes):
        msg = f"NOTE: {prefix} train mode are a subsequence of those obtained in eval mode. "
    else:
        msg = f"{prefix} train mode are different to those obtained in eval mode. "
    warnings.warn(msg + "When choosing nodes for feature extraction, you may need to specify output nodes "
                  "for train and eval mode separately.", stacklevel=3)


def _get_leaf_modules_for_ops():
    import visionlite.ops as ops
    return [c for _, c in inspect.getmembers(ops) if inspect.isclass(c) and issubclass(c, nn.Module)]


def _set_default_tracer_kwargs(tracer_kwargs):
    import visionlite.ops as ops
    result = dict(tracer_kwargs or {})
    known = ("autowrap_modules", "autowrap_functions", "leaf_modules", "param_shapes_constant")
    unknown = set(result) - set(known)
    if unknown:
        raise TypeError(f"tracer_kwargs {sorted(unknown)} are not NodePathTracer arguments {known}")
    modules = tuple(result.get("autowrap_modules", ())) + (math, ops)
    result["autowrap_modules"] = tuple(dict.fromkeys(modules))
    leaves = list(result.get("leaf_modules", [])) + _get_leaf_modules_for_ops()
    result["leaf_modules"] = list(dict.fromkeys(leaves))
    return result


def _trace(model, tracer_kwargs, concrete_args):
    tracer = NodePathTracer(**tracer_kwargs)
    try:
        graph = tracer.trace(model, concrete_args=concrete_args)
    except fx.TraceError as e:
        raise fx.TraceError(f"{type(model).__name__} could not be traced for feature extraction: {e}. "
                            "Make the module that fails a leaf (tracer_kwargs={'leaf_modules': [ItsClass]}) "
                            "or fix the argument with concrete_args") from e
    return tracer, graph


def get_graph_node_names(model, tracer_kwargs=None, suppress_diff_warning=False, concrete_args=None):
    """The node names usable as ``return_nodes``, in execution order, as ``(train_nodes, eval_nodes)``.

    Args:
        model: the model, traced once in train mode and once in eval mode (its mode is restored).
        tracer_kwargs: ``NodePathTracer`` arguments (``leaf_modules``, ``autowrap_modules``,
            ``autowrap_functions``); visionlite.ops' modules are always leaves, its functions always
            single nodes.
        suppress_diff_warning: do not warn when the train and eval graphs differ.
        concrete_args: ``{forward argument: value}`` fixed during tracing.
    Returns: two lists of str, e.g. ``['x', 'conv1', ..., 'layer1.0.add', 'layer1.0.relu_1', ..., 'flatten',
    'fc']`` for a ResNet.
    """
    tracer_kwargs = _set_default_tracer_kwargs(tracer_kwargs)
    was_training = model.training
    try:
        train_tracer, _ = _trace(model.train(), tracer_kwargs, concrete_args)
        eval_tracer, _ = _trace(model.eval(), tracer_kwargs, concrete_args)
    finally:
        model.train(was_training)
    if not suppress_diff_warning:
        _warn_graph_differences(train_tracer, eval_tracer)
    return list(train_tracer.node_to_qualname.values()), list(eval_tracer.node_to_qualname.values())


class DualGraphModule(fx.GraphModule):
    """A module running ``train_graph`` in training mode and ``eval_graph`` in eval mode; it holds the root's
    submodules and parameters that either graph uses, under their qualified names."""

    def __init__(self, root, train_graph, eval_graph, class_name="GraphModule"):
        nn.Module.__init__(self)
        self._class_name = class_name
        self.train_graph = train_graph
        self.eval_graph = eval_graph
        for node in chain(train_graph.nodes, eval_graph.nodes):
            if node.op in ("get_attr", "call_module"):
                graph = node.graph
                self._install(root, graph, node)
        self.training = True
        self.graph = train_graph
        eval_graph.owning_module = self

    def train(self, mode=True):
        self.graph = self.train_graph if mode else self.eval_graph
        return super().train(mode)


def _to_strdict(nodes, what):
    if isinstance(nodes, (list, tuple)):
        return {str(n): str(n) for n in nodes}
    if isinstance(nodes, dict):
        return {str(k): str(v) for k, v in nodes.items()}
    raise TypeError(f"{what} must be a list of node names or a dict {{node name: output name}}, "
                    f"got {type(nodes).__name__}")


def _close_names(query, available):
    """Up to 8 node names (or module prefixes of them, ``layer4``) spelled like ``query``: a typo's fix."""
    import difflib

    prefixes = {".".join(n.split(".")[:i]) for n in available for i in range(1, n.count(".") + 1)}
    candidates = list(dict.fromkeys(available + sorted(prefixes)))
    close = difflib.get_close_matches(query, candidates, n=8, cutoff=0.6)
    return close or [n for n in available if n.split(".")[0] == query.split(".")[0]][:8] or available[:8]


def _choose_outputs(graph, tracer, return_nodes, mode):
    """Replace the graph's output by a dict of the requested nodes (a query names the last node at or
    under it), then drop what they do not need."""
    available = list(tracer.node_to_qualname.values())
    if len(set(available)) != len(available):
        raise ValueError("There are duplicate node names in the traced graph")
    for query in return_nodes:
        if not any(re.match(rf"^{query}(\.|$)", n) is not None for n in available):
            close = _close_names(str(query), available)
            raise ValueError(f"node: '{query}' is not present in model ({mode} mode). Hint: use "
                             "`get_graph_node_names` to make sure the `return_nodes` you specified are "
                             f"present (e.g. {close}). It may even be that you need to specify "
                             "`train_return_nodes` and `eval_return_nodes` separately.")
    for node in [n for n in graph.nodes if n.op == "output"]:
        graph.erase_node(node)
    pending = dict(return_nodes)
    outputs = OrderedDict()
    for node in reversed(graph.nodes):
        qualname = tracer.node_to_qualname.get(node)
        if qualname is None:
            continue  # a tensor constant
        for query in pending:
            depth = query.count(".")
            if ".".join(qualname.split(".")[: depth + 1]) == query:
                outputs[pending.pop(query)] = node
                break
    graph.output(OrderedDict(reversed(list(outputs.items()))))
    graph.eliminate_dead_code()


def create_feature_extractor(model, return_nodes=None, train_return_nodes=None, eval_return_nodes=None,
                             tracer_kwargs=None, suppress_diff_warning=False, concrete_args=None):
    """A module whose forward returns ``{output name: tensor}`` for chosen nodes of ``model``'s graph
    (detection necks, feature probes, visualisation).

    Args:
        model: the model (its layers are shared, not copied).
        return_nodes: list of node names (outputs keyed by the same names) or dict ``{node: output name}``;
            see :func:`get_graph_node_names`. A name that is a prefix of nodes (``layer1``) means the last
            node under it.
        train_return_nodes, eval_return_nodes: instead of ``return_nodes``, separate choices for the train-
            and eval-mode graphs (both needed).
        tracer_kwargs, suppress_diff_warning, concrete_args: as for :func:`get_graph_node_names`.
    Returns: a Module (``DualGraphModule``) running the train or eval graph by its mode; operations after the
    last requested node are not run, and only the layers used are kept (so its ``state_dict`` is the model's
    keys for those).
    """
    tracer_kwargs = _set_default_tracer_kwargs(tracer_kwargs)
    if return_nodes is None and train_return_nodes is None and eval_return_nodes is None:
        raise ValueError("Either `return_nodes` or `train_return_nodes` and `eval_return_nodes` together, "
                         "should be specified")
    if (train_return_nodes is None) != (eval_return_nodes is None):
        raise ValueError("If any of `train_return_nodes` and `eval_return_nodes` are specified, then both "
                         "should be specified")
    if (return_nodes is None) == (train_return_nodes is None):
        raise ValueError("Specify either `return_nodes` or both `train_return_nodes` and "
                         "`eval_return_nodes`, not both kinds")
    if train_return_nodes is None:
        return_nodes = _to_strdict(return_nodes, "return_nodes")
        mode_return_nodes = {"train": dict(return_nodes), "eval": dict(return_nodes)}
    else:
        mode_return_nodes = {"train": _to_strdict(train_return_nodes, "train_return_nodes"),
                             "eval": _to_strdict(eval_return_nodes, "eval_return_nodes")}
    if not all(mode_return_nodes.values()):
        raise ValueError("return_nodes is empty: name at least one node, e.g. ['layer4']")

    was_training = model.training
    tracers, graphs = {}, {}
    try:
        for mode in ("train", "eval"):
            model.train(mode == "train")
            tracer, graph = _trace(model, tracer_kwargs, concrete_args)
            _choose_outputs(graph, tracer, mode_return_nodes[mode], mode)
            tracers[mode], graphs[mode] = tracer, graph
    finally:
        model.train(was_training)
    if not suppress_diff_warning:
        _warn_graph_differences(tracers["train"], tracers["eval"])
    extractor = DualGraphModule(model, graphs["train"], graphs["eval"], class_name=type(model).__name__)
    extractor.train(was_training)
    return extractor
