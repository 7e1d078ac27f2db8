"""``Graph``: the ordered list of :class:`Node` a trace records, as ``torch.fx.Graph``.

Node names follow torch.fx: a function's or method's name in snake case (``add``, ``flatten``,
``getitem``), a parameter's qualified name with dots as underscores (``encoder_pos_embedding``), made unique
with ``_1``, ``_2``, ... suffixes; Python builtins and keywords (``getattr``, ``input``) always get a suffix.
"""
import builtins
import keyword
import re
from collections import defaultdict

from .node import Node

__all__ = ["Graph", "side_effectful"]

_snake_case_sub = re.compile(r"(?<=[a-z])([A-Z])").sub
_illegal_chars = re.compile(r"[^0-9a-zA-Z_]+")
_suffix = re.compile(r"(.*)_(\d+)$")

# Functions whose calls are kept by dead-code elimination although nothing uses their result (asserts).
_SIDE_EFFECTFUL = set()


def side_effectful(fn):
    """Mark ``fn`` as having side effects: its ``call_function`` nodes survive
    :meth:`Graph.eliminate_dead_code` (as ``torch._assert`` does in torch.fx)."""
    _SIDE_EFFECTFUL.add(fn)
    return fn


def _target_to_str(target):
    if callable(target):
        op = target.__name__
    else:
        op = str(target)
        if op.startswith("__") and op.endswith("__"):
            op = op[2:-2]
    return _snake_case_sub(r"_\1", op).lower()


class _Namespace:
    """Unique Python-identifier names, numbered per base name as torch.fx numbers them."""

    def __init__(self):
        self._used = set()
        self._base_count = defaultdict(int)

    def create_name(self, candidate):
        candidate = _illegal_chars.sub("_", candidate) or "_unnamed"
        if candidate[0].isdigit():
            candidate = "_" + candidate
        match = _suffix.match(candidate)
        base, num = (candidate, None) if match is None else (match.group(1), int(match.group(2)))
        name = base if num is None else f"{base}_{num}"
        if not num:
            num = self._base_count[base]
        while name in self._used or keyword.iskeyword(name) or name in builtins.__dict__:
            num += 1
            name = f"{base}_{num}"
        self._used.add(name)
        self._base_count[base] = num
        return name


class Graph:
    """The operations of a traced program, in execution order (``graph.nodes``)."""

    def __init__(self):
        self.nodes = []
        self._namespace = _Namespace()
        self.constants = {}  # get_attr target -> tensor, for tensors that are neither parameters nor inputs
        self._version = 0  # bumped on every change, so a GraphModule's cached run plan stays valid

    def create_node(self, op, target, args=(), kwargs=None, name=None):
        """Append a node; ``name`` defaults to one derived from ``target``."""
        name = self._namespace.create_name(name if name is not None else _target_to_str(target))
        node = Node(self, name, op, target, tuple(args), dict(kwargs or {}))
        self.nodes.append(node)
        self._version += 1
        return node

    def placeholder(self, name, default=()):
        return self.create_node("placeholder", name, default)

    def output(self, result):
        """Append the ``output`` node returning ``result`` (nodes inside containers allowed)."""
        return self.create_node("output", "output", (result,))

    def erase_node(self, node):
        """Remove a node that nothing uses any more."""
        if node.users:
            raise RuntimeError(f"Cannot erase node {node.name}: it is still used by {list(node.users)}")
        for used in node.all_input_nodes:
            used.users.pop(node, None)
        self.nodes.remove(node)
        self._version += 1

    @staticmethod
    def is_impure(node):
        """Placeholders, outputs and side-effectful calls (asserts) are kept even when unused."""
        if node.op in ("placeholder", "output"):
            return True
        if node.op == "call_function":
            return node.target in _SIDE_EFFECTFUL
        if node.op == "call_module":
            module = node.graph.owning_module
            sub = module.get_submodule(node.target) if module is not None else None
            return bool(getattr(sub, "_is_impure", False))
        return False

    owning_module = None

    def eliminate_dead_code(self):
        """Remove every node whose value nothing reads (last to first). Returns whether anything changed."""
        changed = False
        for node in reversed(list(self.nodes)):
            if not node.users and not self.is_impure(node):
                self.erase_node(node)
                changed = True
        return changed

    def find_nodes(self, op, target=None):
        return [n for n in self.nodes if n.op == op and (target is None or n.target == target)]

    def __str__(self):
        lines = ["graph():"] + ["    " + n.format_node() for n in self.nodes]
        return "\n".join(lines)

    def lint(self):
        """Check that every node only uses nodes recorded before it."""
        seen = set()
        for node in self.nodes:
            for used in node.all_input_nodes:
                if used not in seen:
                    raise RuntimeError(f"Node {node.name} uses {used.name}, which is not defined before it")
            seen.add(node)
        if not self.nodes or self.nodes[-1].op != "output":
            raise RuntimeError("The graph does not end with an output node")
