"""Symbolic tracing, as ``torch.fx``: record a model's forward as a graph of named operations and run it.

``symbolic_trace(model)`` gives a :class:`GraphModule` whose ``graph`` lists ``placeholder``, ``get_attr``,
``call_module``, ``call_function``, ``call_method`` and ``output`` nodes; ``Tracer`` is the customizable
recorder (leaf modules, wrapped functions) that ``models.feature_extraction`` builds on.
"""
from .graph import Graph, side_effectful
from .graph_module import GraphModule
from .node import Node, map_arg
from .proxy import Attribute, Proxy, TraceError
from .tracer import Tracer, _assert, is_tracing, symbolic_trace, wrap

__all__ = ["Graph", "GraphModule", "Node", "Proxy", "Attribute", "TraceError", "Tracer", "symbolic_trace",
           "wrap", "map_arg", "side_effectful", "is_tracing"]
