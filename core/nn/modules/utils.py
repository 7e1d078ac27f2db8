"""``nn.modules.utils``, as in PyTorch: the ``_single``/``_pair``/``_triple``/``_quadruple`` helpers that
custom layers use to expand an int argument into a tuple."""
import collections.abc
import itertools

__all__ = ["consume_prefix_in_state_dict_if_present"]


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


def consume_prefix_in_state_dict_if_present(state_dict, prefix):
    """Strip ``prefix`` (e.g. ``"module."``, what DistributedDataParallel adds) from the keys of
    ``state_dict`` that start with it, in place, and from its ``_metadata`` entries, as PyTorch."""
    for key in [k for k in state_dict if k.startswith(prefix)]:
        state_dict[key[len(prefix):]] = state_dict.pop(key)
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is not None:
        bare = prefix.replace(".", "")
        for key in [k for k in metadata if k and (k == bare or k.startswith(prefix))]:
            metadata[key[len(prefix):]] = metadata.pop(key)
