"""``Tracer``: runs a module's Python forward on :class:`Proxy` objects and records a :class:`Graph`.

How calls are intercepted while a trace runs (all undone when it ends, also on error):

* ``Module.__call__`` goes through :meth:`Tracer.call_module`: a leaf module (visionlite.nn's built-in layers,
  visionlite.ops' modules, anything in ``leaf_modules``) becomes one ``call_module`` node; any other module
  runs its forward, so its operations are recorded one by one.
* ``Module.__getattr__`` hands out a ``get_attr`` proxy for the root's parameters (``self.class_token``).
* Free functions (``vl.cat``, ``vl.flatten``, ``F.relu``, ``math.sqrt``, functions of the ``autowrap_modules``
  and ``autowrap_functions``) are replaced, in their modules and in the globals of every traced forward, by
  wrappers that record a ``call_function`` node when an argument is a proxy and otherwise just call through.
* Tensor operators return ``NotImplemented`` for a proxy operand, so ``tensor + proxy`` records a node.

Only the tracing thread sees proxies: the patched entry points check a thread-local tracer, so other threads
keep computing normally; traces themselves are serialized by a lock.
"""
import functools
import inspect
import math
import threading

from .graph import Graph, side_effectful
from .node import map_aggregate
from .proxy import Proxy, TraceError

__all__ = ["Tracer", "symbolic_trace", "wrap", "_assert", "is_tracing"]

_state = threading.local()
_TRACE_LOCK = threading.RLock()


def is_tracing():
    """Whether the calling thread is inside a symbolic trace."""
    return getattr(_state, "tracer", None) is not None


def _find_proxy(value):
    """The first Proxy inside nested tuples/lists/dicts/slices, else None (without copying anything)."""
    if isinstance(value, Proxy):
        return value
    if isinstance(value, (tuple, list)):
        items = value
    elif isinstance(value, dict):
        items = value.values()
    elif isinstance(value, slice):
        items = (value.start, value.stop, value.step)
    else:
        return None
    for item in items:
        found = _find_proxy(item)
        if found is not None:
            return found
    return None


def _has_proxy(args, kwargs):
    found = _find_proxy(args)
    return found if found is not None else _find_proxy(kwargs)  # not `or`: a proxy has no truth value


def _traceable(fn, name=None):
    """``fn`` that records a ``call_function`` node (named ``name``) when called with a proxy argument."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        proxy = _has_proxy(args, kwargs)
        if proxy is None:
            return fn(*args, **kwargs)
        return proxy.tracer.create_proxy("call_function", fn, args, kwargs, name=name)

    wrapper._fx_original = fn
    return wrapper


_WRAPPED_GLOBALS = []  # (module globals, function name) registered by wrap("name")


def wrap(fn_or_name):
    """Make a free function a single ``call_function`` node in traces instead of being traced through
    (``torch.fx.wrap``): for functions with Python control flow on their arguments.

    ``@wrap`` on the function returns a version that records itself when called with traced values and
    behaves as before otherwise; ``wrap("name")`` at a module's top level does the same for that module's
    function ``name`` during traces only. Returns its argument's function (or the name).
    """
    if isinstance(fn_or_name, str):
        caller = inspect.currentframe().f_back
        if caller.f_code.co_name != "<module>":
            raise NotImplementedError("wrap('name') must be called at the top level of a module")
        _WRAPPED_GLOBALS.append((caller.f_globals, fn_or_name))
        return fn_or_name
    if not callable(fn_or_name):
        raise TypeError(f"wrap expects a function or a function's name, got {type(fn_or_name).__name__}")
    return _traceable(fn_or_name)


@side_effectful
def _assert(condition, message):
    """``torch._assert``: raise ``AssertionError(message)`` unless ``condition``; a traced call is an
    ``_assert`` node (kept by dead-code elimination), so the check also runs in the traced graph."""
    if isinstance(condition, Proxy):
        return condition.tracer.create_proxy("call_function", _assert, (condition, message), {})
    if not condition:
        raise AssertionError(message)


@side_effectful
def _assert_is_none(value, message):
    if value is not None:
        raise AssertionError(message)


class Tracer:
    """Records a module's forward as a :class:`Graph` (``Tracer().trace(model)``).

    Args:
        autowrap_modules: modules whose functions become single nodes when called with traced values
            (default ``(math,)``; ``visionlite``, ``visionlite.nn.functional`` and ``visionlite.linalg`` are
            always recorded this way).
        autowrap_functions: further such functions.
        leaf_modules: module classes not traced through (besides visionlite.nn's built-in layers).
        param_shapes_constant: accepted for torch.fx compatibility; parameter shapes are read as nodes.
    """

    def __init__(self, autowrap_modules=(math,), autowrap_functions=(), leaf_modules=(),
                 param_shapes_constant=False):
        self.autowrap_modules = tuple(autowrap_modules)
        self.autowrap_functions = tuple(autowrap_functions)
        self.leaf_modules = tuple(leaf_modules)
        self.param_shapes_constant = param_shapes_constant

    # ------------------------------------------------------------------------------ overridable hooks
    def is_leaf_module(self, m, module_qualname):
        """visionlite.nn's built-in layers (not ``Sequential``) and ``leaf_modules`` are leaves."""
        from visionlite import nn
        if self.leaf_modules and isinstance(m, self.leaf_modules):
            return True
        return type(m).__module__.startswith("visionlite.core.nn.") and not isinstance(m, nn.Sequential)

    def path_of_module(self, mod):
        path = self._module_paths.get(id(mod))
        if path is None:
            raise TraceError(f"{type(mod).__name__} module is not installed as a submodule of the traced "
                             "model: create modules in __init__, not in forward")
        return path

    def call_module(self, m, forward, args, kwargs):
        """A leaf module becomes one ``call_module`` node; any other module's forward is traced through."""
        module_qualname = self.path_of_module(m)
        if not self.is_leaf_module(m, module_qualname):
            return forward(*args, **kwargs)
        return self.create_proxy("call_module", module_qualname, args, kwargs)

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None):
        """Record a node of ``kind`` (``call_function``, ...) and return the proxy standing for its value."""
        node = self.graph.create_node(kind, target, self.create_arg(args), self.create_arg(kwargs), name)
        return Proxy(node, self)

    def create_arg(self, a):
        """Proxies inside ``a`` become their nodes; tensors that are not parameters become constants."""
        from visionlite.core.tensor import Tensor

        def convert(v):
            if isinstance(v, Proxy):
                return v.node
            if isinstance(v, Tensor):
                # the root's own parameters and buffers are read by name (kept in sync with the model),
                # any other tensor becomes a constant of the graph, as torch.fx does
                qualname = self._param_paths.get(id(v)) or self._buffer_paths.get(id(v))
                if qualname is not None:
                    return self.graph.create_node("get_attr", qualname, (), {})
                return self._constant(v)
            return v

        return map_aggregate(a, convert)

    def iter(self, obj):
        raise TraceError(f"{obj} cannot be iterated over during tracing")

    def to_bool(self, obj):
        raise TraceError(f"{obj} cannot be used in control flow during tracing")

    # ------------------------------------------------------------------------------------ tracing
    def trace(self, root, concrete_args=None):
        """Trace ``root.forward`` (placeholders named after its arguments) and return the graph.

        Args:
            root: the module.
            concrete_args: ``{argument name: value}`` for arguments fixed to a constant (e.g. a flag the
                forward branches on); the graph checks that later calls pass the same value.
        """
        from visionlite import nn
        if not isinstance(root, nn.Module):
            raise TypeError(f"Tracer.trace expects a visionlite nn.Module, got {type(root).__name__}")
        if is_tracing():
            raise TraceError("A symbolic trace is already running in this thread (nested traces unsupported)")
        self.root = root
        self.graph = Graph()
        self._module_paths = {}
        for name, m in root.named_modules():
            self._module_paths.setdefault(id(m), name)
        self._param_paths = {}
        for name, p in root.named_parameters():
            self._param_paths.setdefault(id(p), name)
        self._buffer_paths = {}
        for name, b in root.named_buffers():
            self._buffer_paths.setdefault(id(b), name)
        self._param_proxies = {}
        self._constant_ids = {}
        with _TRACE_LOCK:
            patcher = _Patcher(self)
            _state.tracer = self
            try:
                patcher.patch()
                forward = type(root).forward
                patcher.patch_globals(forward)
                args = self._placeholders(forward, concrete_args)
                out = forward(root, *args)
                self.graph.output(self.create_arg(out))
            finally:
                _state.tracer = None
                patcher.restore()
        return self.graph

    def _placeholders(self, forward, concrete_args):
        concrete_args = dict(concrete_args or {})
        params = list(inspect.signature(forward).parameters.values())[1:]
        unknown = set(concrete_args) - {p.name for p in params}
        if unknown:
            raise TraceError(f"concrete_args {sorted(unknown)} are not arguments of "
                             f"{type(self.root).__name__}.forward {[p.name for p in params]}")
        args = []
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TraceError(f"{type(self.root).__name__}.forward takes *{p.name}: trace a module whose "
                                 "forward names its arguments")
            default = () if p.default is p.empty else (p.default,)
            if p.name not in concrete_args:
                args.append(self.create_proxy("placeholder", p.name, default, {}))
                continue
            value = concrete_args[p.name]
            ph = self.create_proxy("placeholder", f"{p.name}_1", default, {})
            message = f"{p.name} has been specialized to have value {value} but got another value"
            if value is None:
                self.create_proxy("call_function", _assert_is_none, (ph, message), {})
            elif isinstance(value, (bool, int, float, str)):
                _assert(ph == value, message)
            args.append(value)
        return args

    def _module_call(self, module, args, kwargs):
        def forward(*a, **k):
            shim = _builtin_forward(module)
            if shim is not None:
                return shim(module, *a, **k)
            self._patcher.patch_globals(type(module).forward)
            return _ORIGINAL["call"](module, *a, **k)

        return self.call_module(module, forward, args, kwargs)

    def _param_proxy(self, value):
        name = self._param_paths.get(id(value))
        if name is None:
            return value
        if name not in self._param_proxies:
            self._param_proxies[name] = self.create_proxy("get_attr", name, (), {})
        return self._param_proxies[name]

    def _constant(self, tensor):
        key = id(tensor)
        if key not in self._constant_ids:
            target = f"_tensor_constant{len(self._constant_ids)}"
            self.graph.constants[target] = tensor
            self._constant_ids[key] = self.graph.create_node("get_attr", target, (), {})
        return self._constant_ids[key]


def _builtin_forward(module):
    """For a subclass of a built-in layer that is traced through (not a leaf) but keeps the layer's forward:
    that forward spelled with traceable functional calls, as torch.nn writes it (``F.conv3d(input,
    self.weight, ...)``), since visionlite's own forward may use internals a trace cannot see. Else None."""
    from visionlite import nn
    for cls, name in ((nn.Conv1d, "conv1d"), (nn.Conv2d, "conv2d"), (nn.Conv3d, "conv3d")):
        if isinstance(module, cls) and type(module).forward is cls.forward:
            return functools.partial(_conv_forward, name)
    if isinstance(module, nn.Linear) and type(module).forward is nn.Linear.forward:
        return _linear_forward
    return None


def _conv_forward(name, self, input):
    import visionlite.nn.functional as F
    weight, bias = self.weight, self.bias
    if self.padding_mode != "zeros":
        padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
        return getattr(F, name)(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
    return getattr(F, name)(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)


def _linear_forward(self, input):
    import visionlite.nn.functional as F
    return F.linear(input, self.weight, self.bias)


# ------------------------------------------------------------------------------------------- patching
_ORIGINAL = {}
_TENSOR_OPERATORS = ("add", "sub", "mul", "floordiv", "truediv", "mod", "pow", "matmul", "and", "or", "xor",
                     "lshift", "rshift", "eq", "ne", "lt", "gt", "le", "ge")


def _traced_call(self, *args, **kwargs):
    tracer = getattr(_state, "tracer", None)
    if tracer is None:
        return _ORIGINAL["call"](self, *args, **kwargs)
    return tracer._module_call(self, args, kwargs)


def _traced_getattr(self, name):
    value = _ORIGINAL["getattr"](self, name)
    tracer = getattr(_state, "tracer", None)
    if tracer is not None and isinstance(value, _ORIGINAL["Parameter"]):
        return tracer._param_proxy(value)
    return value


def _defer_to_proxy(method):
    @functools.wraps(method)
    def op(self, other):
        if isinstance(other, Proxy):
            return NotImplemented  # Python then asks the proxy's reflected operator, which records a node
        return method(self, other)

    return op


class _Patcher:
    """Installs the interceptions of one trace and restores every replaced attribute afterwards."""

    def __init__(self, tracer):
        self.tracer = tracer
        tracer._patcher = self
        self._saved = []  # (namespace dict or class, name, original value)
        self._patched_dicts = set()
        self._wrappers = {}
        self._functions = self._wrappable(tracer)

    @staticmethod
    def _wrappable(tracer):
        """id(function) -> (function, node name) for every function recorded as one call_function node."""
        import visionlite
        import visionlite.linalg as linalg
        import visionlite.nn.functional as F
        found = {}
        for module in (F, visionlite, linalg, *tracer.autowrap_modules):
            for name, value in vars(module).items():
                if name.startswith("__") or isinstance(value, type) or not callable(value):
                    continue
                if not (inspect.isfunction(value) or inspect.isbuiltin(value)):
                    continue
                if getattr(value, "_fx_original", None) is not None:
                    continue  # already traceable (wrap)
                known = found.get(id(value))
                # A function's node is named as torch names it: by its public name, preferring __name__.
                if known is None or name == getattr(value, "__name__", None):
                    found[id(value)] = (value, name)
        for fn in tracer.autowrap_functions:
            found[id(fn)] = (fn, fn.__name__)
        return found

    def _namespaces(self):
        import visionlite
        import visionlite.linalg as linalg
        import visionlite.nn.functional as F
        return (F, visionlite, linalg, *self.tracer.autowrap_modules)

    def patch(self):
        from visionlite import nn
        from visionlite.core.tensor import Tensor
        _ORIGINAL.setdefault("call", nn.Module.__call__)
        _ORIGINAL.setdefault("getattr", nn.Module.__getattr__)
        _ORIGINAL.setdefault("Parameter", nn.Parameter)
        self._set(nn.Module, "__call__", _traced_call)
        self._set(nn.Module, "__getattr__", _traced_getattr)
        for op in _TENSOR_OPERATORS:
            for name in (f"__{op}__", f"__r{op}__"):
                method = Tensor.__dict__.get(name)
                if method is not None:
                    self._set(Tensor, name, _defer_to_proxy(method))
        self._library_dicts = {id(vars(module)) for module in self._namespaces()}
        for module in self._namespaces():
            self._patch_dict(vars(module))
        for namespace, name in _WRAPPED_GLOBALS:
            fn = namespace.get(name)
            if callable(fn) and getattr(fn, "_fx_original", None) is None:
                self._saved.append((namespace, name, fn, "dict"))
                namespace[name] = _traceable(fn)

    def patch_globals(self, fn):
        fn = inspect.unwrap(fn)
        namespace = getattr(fn, "__globals__", None)
        if namespace is not None and id(namespace) not in self._patched_dicts:
            self._patch_dict(namespace)

    def _patch_dict(self, namespace):
        self._patched_dicts.add(id(namespace))
        for name, value in list(namespace.items()):
            entry = self._functions.get(id(value))
            if entry is None or entry[0] is not value:
                continue
            # In a library namespace the node is named by the entry (vl.swapaxes is vl.transpose, but torch
            # has both names); in a model's globals by the function's public name.
            node_name = name if id(namespace) in self._library_dicts else entry[1]
            wrapper = self._wrappers.get((id(value), node_name))
            if wrapper is None:
                wrapper = self._wrappers[id(value), node_name] = _traceable(value, node_name)
            self._saved.append((namespace, name, value, "dict"))
            namespace[name] = wrapper

    def _set(self, cls, name, value):
        self._saved.append((cls, name, cls.__dict__[name] if name in cls.__dict__ else None, "class"))
        setattr(cls, name, value)

    def restore(self):
        for target, name, original, kind in reversed(self._saved):
            if kind == "class":
                setattr(target, name, original)
            else:
                target[name] = original
        self._saved.clear()


def symbolic_trace(root, concrete_args=None):
    """Trace ``root`` (a Module) into a :class:`~visionlite.fx.GraphModule`, as
    ``torch.fx.symbolic_trace``."""
    from .graph_module import GraphModule
    tracer = Tracer()
    graph = tracer.trace(root, concrete_args)
    return GraphModule(root, graph, type(root).__name__)

