"""``nn.modules.utils``, as in PyTorch: the ``_single``/``_pair``/``_triple``/``_quadruple`` helpers that
custom layers use to expand an int argument into a tuple."""
import collections.abc
import itertools

__all__ = []


def _ntuple(n, name="parse"):
    """A function turning ``x`` into an ``n``-tuple: iterables pass through as tuples, scalars repeat."""

    def parse(x):
        if isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
            return tuple(x)
        return tuple(itertools.repeat(x, n))

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def _reverse_repeat_tuple(t, n):
    """``(a, b)`` -> ``(b, b, a, a)`` for ``n=2``: a per-dimension padding as ``F.pad`` reads it."""
    return tuple(x for x in reversed(t) for _ in range(n))
