"""``Node``: one recorded operation of a traced program, as ``torch.fx.Node``.

A node's ``op`` is one of ``placeholder`` (an input), ``get_attr`` (a parameter or constant of the root),
``call_module`` (a leaf submodule, ``target`` its qualified name), ``call_function`` (``target`` the
function), ``call_method`` (``target`` the method name, ``args[0]`` its object) or ``output``.
"""

__all__ = ["Node", "map_arg", "map_aggregate"]

OPS = ("placeholder", "get_attr", "call_module", "call_function", "call_method", "output")


class Node:
    """One operation in a :class:`~visionlite.fx.Graph`. ``args``/``kwargs`` hold other nodes (the values
    they stand for) and constants; ``users`` are the nodes that read this one."""

    __slots__ = ("graph", "name", "op", "target", "args", "kwargs", "users", "meta")

    def __init__(self, graph, name, op, target, args, kwargs):
        if op not in OPS:
            raise ValueError(f"Node op {op!r} is not one of {OPS}")
        self.graph = graph
        self.name = name
        self.op = op
        self.target = target
        self.args = args
        self.kwargs = kwargs
        self.users = {}  # insertion-ordered set of the nodes using this one
        self.meta = {}
        for used in self.all_input_nodes:
            used.users[self] = None

    @property
    def all_input_nodes(self):
        """The distinct nodes among ``args`` and ``kwargs``, in order of appearance."""
        found = {}
        map_arg((self.args, self.kwargs), lambda n: found.setdefault(n, None))
        return list(found)

    def __repr__(self):
        return self.name

    def format_node(self):
        """One line describing the node, e.g. ``%add : call_function[target=add](args = (%x, %y))``."""
        target = self.target
        if not isinstance(target, str):
            target = getattr(target, "__name__", target)
        return (f"%{self.name} : {self.op}[target={target}](args = {_fmt(self.args)}, "
                f"kwargs = {_fmt(self.kwargs)})")


def _fmt(value):
    return repr(map_arg(value, lambda n: _Ref(n.name)))


class _Ref:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "%" + self.name


def map_aggregate(value, fn):
    """Apply ``fn`` to every leaf of nested tuples (named tuples included), lists, dicts and slices."""
    if isinstance(value, tuple):
        mapped = [map_aggregate(v, fn) for v in value]
        return type(value)(*mapped) if hasattr(value, "_fields") else tuple(mapped)
    if isinstance(value, list):
        return [map_aggregate(v, fn) for v in value]
    if isinstance(value, dict):
        return type(value)((k, map_aggregate(v, fn)) for k, v in value.items())
    if isinstance(value, slice):
        return slice(*(map_aggregate(v, fn) for v in (value.start, value.stop, value.step)))
    return fn(value)


def map_arg(value, fn):
    """Apply ``fn`` to every :class:`Node` inside ``value`` (nested containers), keeping everything else."""
    return map_aggregate(value, lambda v: fn(v) if isinstance(v, Node) else v)
