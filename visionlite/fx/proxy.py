"""``Proxy``: the stand-in for a value (tensor, shape, int) while a model's forward is traced.

Every operation on a proxy records a node instead of computing: operators become ``call_function`` nodes
on :mod:`operator` (``add``, ``getitem``, ``floordiv``), attribute reads ``getattr`` nodes, method calls
``call_method`` nodes. Python control flow on a proxy cannot be recorded and raises :class:`TraceError`.
"""
import dis
import inspect
import operator
from bisect import bisect_left

__all__ = ["Proxy", "Attribute", "TraceError"]


class TraceError(ValueError):
    """A forward pass did something a symbolic trace cannot record (branching on a traced value, ...)."""


def _where():
    """``" (at file:line: source)"`` of the traced code that used a proxy in Python control flow: the first
    frame outside visionlite.fx, so the error names the model's line to change."""
    import linecache
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    frame = inspect.currentframe().f_back
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == here:
        frame = frame.f_back
    if frame is None:
        return ""
    source = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return f" (at {frame.f_code.co_filename}:{frame.f_lineno}, in {frame.f_code.co_name}: {source})"


class Proxy:
    """Stands for the value of ``node`` during tracing; ``tracer`` records what is done with it."""

    def __init__(self, node, tracer):
        self.node = node
        self.tracer = tracer

    def __repr__(self):
        return f"Proxy({self.node.name})"

    def __getattr__(self, name):
        # Only reached for names a Proxy lacks: tensor attributes and methods of the traced value.
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # copy/pickle/numpy protocol probes are not tensor attributes
        return Attribute(self, name)

    def __call__(self, *args, **kwargs):
        return self.tracer.create_proxy("call_method", "__call__", (self, *args), kwargs)

    def __iter__(self):
        # ``a, b = proxy`` unpacks into getitem nodes: the caller's bytecode says how many values it wants.
        frame = inspect.currentframe().f_back
        instructions = list(dis.get_instructions(frame.f_code))
        inst = instructions[bisect_left(instructions, frame.f_lasti, key=lambda i: i.offset)]
        if inst.opname == "UNPACK_SEQUENCE":
            return (self[i] for i in range(inst.argval))
        raise TraceError(f"Proxy({self.node.name}) cannot be iterated over during tracing except in a "
                         "tuple unpacking `a, b = value`; index it (`value[0]`) instead")

    def __bool__(self):
        raise TraceError(f"symbolically traced variables cannot be used as inputs to control flow "
                         f"(Proxy({self.node.name}) in an `if`, `while`, `and`/`or` or `bool()`)"
                         f"{_where()}; use concrete_args to fix such an argument, or make the module a "
                         "leaf module")

    def __len__(self):
        raise RuntimeError("'len' is not supported in symbolic tracing by default: use `x.shape[0]` or "
                           "`x.size(0)`, which trace")

    def __index__(self):
        raise TraceError(f"Proxy({self.node.name}) cannot be used as a Python int during tracing{_where()}")

    def __abs__(self):
        return self.tracer.create_proxy("call_function", operator.abs, (self,), {})

    __hash__ = object.__hash__


class Attribute(Proxy):
    """``proxy.name``: a ``call_method`` node when called, else (on first use) a ``getattr`` node."""

    def __init__(self, root, attr):
        self.root = root
        self.attr = attr
        self.tracer = root.tracer
        self._node = None

    @property
    def node(self):
        if self._node is None:
            self._node = self.tracer.create_proxy("call_function", getattr, (self.root, self.attr), {}).node
        return self._node

    def __call__(self, *args, **kwargs):
        return self.tracer.create_proxy("call_method", self.attr, (self.root, *args), kwargs)


_MAGIC = ("eq", "ne", "lt", "gt", "le", "ge", "pos", "neg", "invert")
_REFLECTABLE = ("add", "sub", "mul", "floordiv", "truediv", "mod", "pow", "lshift", "rshift", "and_", "or_",
                "xor", "getitem", "matmul")


def _define_magic(method):
    target = getattr(operator, method)

    def impl(*args, **kwargs):
        return args[0].tracer.create_proxy("call_function", target, args, kwargs)

    impl.__name__ = f"__{method.strip('_')}__"
    setattr(Proxy, impl.__name__, impl)


def _define_reflected(method):
    target = getattr(operator, method)

    def impl(self, other):
        return self.tracer.create_proxy("call_function", target, (other, self), {})

    impl.__name__ = f"__r{method.strip('_')}__"
    setattr(Proxy, impl.__name__, impl)


for _m in _MAGIC + _REFLECTABLE:
    _define_magic(_m)
for _m in _REFLECTABLE:
    if _m != "getitem":
        _define_reflected(_m)
Proxy.__hash__ = object.__hash__  # __eq__ above records a node; hashing stays by identity
