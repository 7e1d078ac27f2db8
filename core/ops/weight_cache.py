"""Arrays derived from weights that stay fixed between calls (inference, frozen layers), kept for reuse.

Convolutions rearrange their weights before the GEMMs: the Winograd path transforms them (``G w G^T``),
the column paths transpose them to tap-major order. Each is a full pass over the weights (a 4.7 MB copy
for a 512-channel 3x3 layer: 0.4 ms of a 1.5 ms batch-1 convolution) that gives the same result while the
weight does not change. Entries are keyed by the weight Tensor's version counter (``key = (counter,
version)``, see ``autograd.versions.counter_of``) and by what was derived; an entry is rebuilt when the
weight is replaced, changed in place (the version) or through ``.data`` (a sample of its elements), and
dropped as soon as the weight's array dies. Bounded in bytes, least recently used first out.
"""

import threading
import weakref
from collections import OrderedDict

from ..autograd.versions import sample_elements

_ENTRIES = OrderedDict()  # (id(counter), kind) -> (counter, version, weakref to w, sample, derived array)
_LOCK = threading.RLock()  # several inference threads; re-entrant for the weakref callback
_MAX_BYTES = 256 << 20


def _forget(slot, ref):
    entries, lock = _ENTRIES, _LOCK
    if entries is None or lock is None:  # interpreter shutdown: the module's globals are already gone
        return
    with lock:
        entry = entries.get(slot)
        if entry is not None and entry[2] is ref:
            del entries[slot]


def derived(w, kind, key, build):
    """``build(w)``, cached under ``kind`` (hashable: what is derived, with its parameters) when ``key``
    names the weight's version counter and version; with ``key=None`` always built anew. ``build`` must
    return a new array (not a view of ``w``: that would keep a dead weight alive in the cache)."""
    if key is None:
        return build(w)
    counter, version = key
    slot = (id(counter), kind)
    with _LOCK:
        hit = _ENTRIES.get(slot)
        if hit is not None:
            c, v, ref, sample, value = hit
            if c is counter and v == version and ref() is w and sample == sample_elements(w):
                _ENTRIES.move_to_end(slot)
                return value
            del _ENTRIES[slot]
    value = build(w)
    ref = weakref.ref(w, lambda r, slot=slot: _forget(slot, r))  # a dead weight frees its entries at once
    with _LOCK:
        _ENTRIES[slot] = (counter, version, ref, sample_elements(w), value)
        total = sum(e[4].nbytes for e in _ENTRIES.values())
        while total > _MAX_BYTES and len(_ENTRIES) > 1:
            total -= _ENTRIES.popitem(last=False)[1][4].nbytes
    return value


def clear():
    """Drop every entry."""
    with _LOCK:
        _ENTRIES.clear()
