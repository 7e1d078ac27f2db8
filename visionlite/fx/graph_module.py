"""``GraphModule``: a Module that runs a recorded :class:`Graph`, as ``torch.fx.GraphModule``.

It holds only what the graph reads from the root (the leaf submodules of ``call_module`` nodes and the
parameters of ``get_attr`` nodes, under their qualified names), so its ``state_dict`` keys are the root's
keys for those. ``forward`` interprets the nodes in order and drops each value after its last use.
"""
from .node import map_arg

__all__ = ["GraphModule"]


def _module_base():
    from visionlite import nn
    return nn.Module


def _copy_attr(from_module, to_module, target):
    """Make ``to_module.<target>`` the object ``from_module.<target>`` (creating empty parent modules)."""
    from visionlite import nn
    from visionlite.core.tensor import Tensor
    *prefix, field = target.split(".")
    for item in prefix:
        f = getattr(from_module, item)
        t = getattr(to_module, item, None)
        if f is t:
            return  # a parent is already installed, so everything under it is present
        if t is None:
            t = nn.Module()
            setattr(to_module, item, t)
        from_module, to_module = f, t
    orig = getattr(from_module, field)
    if isinstance(orig, Tensor) and not isinstance(orig, nn.Parameter):
        to_module.register_buffer(field, orig)
    else:
        setattr(to_module, field, orig)


def _fetch(module, target):
    for item in target.split("."):
        module = getattr(module, item)
    return module


class _Runner:
    """Runs one graph: the nodes with, for each, the values that can be freed once it has run."""

    def __init__(self, graph):
        self.version = graph._version
        nodes = list(graph.nodes)
        last_use = {}
        for i, node in enumerate(nodes):
            for used in node.all_input_nodes:
                last_use[used] = i
        frees = [[] for _ in nodes]
        for node, i in last_use.items():
            frees[i].append(node)
        self.plan = list(zip(nodes, frees))

    def run(self, owner, args, kwargs):
        env = {}
        load = lambda value: map_arg(value, env.__getitem__)
        positional = list(args)
        for node, free in self.plan:
            op = node.op
            if op == "placeholder":
                env[node] = _placeholder_value(node, positional, kwargs)
            elif op == "get_attr":
                env[node] = _fetch(owner, node.target)
            elif op == "call_function":
                env[node] = node.target(*load(node.args), **load(node.kwargs))
            elif op == "call_method":
                obj, *rest = load(node.args)
                env[node] = getattr(obj, node.target)(*rest, **load(node.kwargs))
            elif op == "call_module":
                env[node] = _fetch(owner, node.target)(*load(node.args), **load(node.kwargs))
            else:  # output
                return load(node.args[0])
            for done in free:
                del env[done]
        raise RuntimeError("The graph has no output node")


def _placeholder_value(node, positional, kwargs):
    name = node.target
    if positional:
        return positional.pop(0)
    if name in kwargs:
        return kwargs[name]
    if name.endswith("_1") and name[:-2] in kwargs:  # a concrete_args placeholder, passed by its name
        return kwargs[name[:-2]]
    if node.args:
        return node.args[0]
    raise TypeError(f"forward() missing the input {name!r}")


class GraphModule(_module_base()):
    """A module whose ``forward`` runs ``graph``; ``root``'s submodules and parameters that the graph uses
    are shared (not copied).

    Args:
        root: the traced module.
        graph: its :class:`Graph` (e.g. from ``Tracer().trace(root)``).
        class_name: the name shown by ``repr``.
    """

    def __init__(self, root, graph, class_name="GraphModule"):
        super().__init__()
        self._class_name = class_name
        for node in graph.nodes:
            if node.op in ("get_attr", "call_module"):
                self._install(root, graph, node)
        self.graph = graph

    def _install(self, root, graph, node):
        if node.target in graph.constants:
            value = graph.constants[node.target]
            if hasattr(self, node.target) and getattr(self, node.target) is not value:
                # another graph (train vs eval) holds a different tensor under this name: rename this one
                i = 0
                while hasattr(self, f"_tensor_constant{i}") or f"_tensor_constant{i}" in graph.constants:
                    i += 1
                del graph.constants[node.target]
                node.target = f"_tensor_constant{i}"
                graph.constants[node.target] = value
            if not hasattr(self, node.target):
                self.register_buffer(node.target, value, persistent=False)
        else:
            _copy_attr(root, self, node.target)

    @property
    def graph(self):
        return self.__dict__["_graph"]

    @graph.setter
    def graph(self, graph):
        self.__dict__["_graph"] = graph
        self.__dict__["_runner"] = None
        graph.owning_module = self

    def recompile(self):
        """Kept for torch.fx compatibility: the graph is interpreted, so changes apply on the next call."""
        self.__dict__["_runner"] = None

    @property
    def code(self):
        """The graph, one node a line (what runs on ``forward``)."""
        return str(self.graph)

    def forward(self, *args, **kwargs):
        runner = self.__dict__.get("_runner")
        if runner is None or runner.version != self.graph._version:
            runner = self.__dict__["_runner"] = _Runner(self.graph)
        return runner.run(self, args, kwargs)

    def _get_name(self):
        return self._class_name

    def print_readable(self, print_output=True):
        text = f"class {self._class_name}:\n" + "\n".join("    " + line for line in self.code.splitlines())
        if print_output:
            print(text)
        return text
