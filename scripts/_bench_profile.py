"""Where visionlite's time goes in one run: GEMM, copies/layout, elementwise, optimizer, Python/other.

cProfile cannot say this: numpy's ufuncs and operators (``matmul`` included) are not calls it sees. This
profiler instead wraps, for the duration of one profiled run only, the places where array work happens:

* every ``Op`` subclass's ``forward`` and ``backward`` (the primitives; their own time is classified by
  the module that defines them: convolution and movement ops are copies/layout, everything else is
  elementwise arithmetic),
* numpy's GEMM entry points (``matmul``, ``dot``, ``tensordot``, ``einsum``; the library calls them as
  ``xp.matmul(...)`` so replacing the module attribute catches them) and ``_blas.gemm`` (direct BLAS),
* a few named helpers that would otherwise hide inside the convolution (the depthwise multiply-adds,
  the phase-plane split/merge/crop copies),
* ``Optimizer.step``.

Each wrapper measures wall time on the calling thread and keeps *exclusive* time (a nested call's time
is taken out of its caller's), so the categories add up to the run's wall time; whatever is outside every
wrapper is Python/other (module calls, Tensor wrappers, the autograd engine, argument checks). Work that
the op pool's threads do runs while the main thread waits inside an op, so it counts in that op; a GEMM
issued from a pool thread counts in its op's copies/elementwise share (rare: the depthwise blocks).

Overhead: two ``perf_counter`` calls and a list push/pop per wrapped call (~1 us), so the Python share
of a batch-1 run is slightly overstated.
"""

import threading
import time

CATEGORIES = ("GEMM", "copies/layout", "elementwise", "optimizer", "Python/other")
# Op modules whose own (non-GEMM) time is data movement rather than arithmetic.
_LAYOUT_MODULES = ("conv", "conv3d", "conv_exact", "movement", "indexing", "index_write", "strided",
                   "view_nodes", "view_rebase", "pool_adjoint", "compat")
_GEMM_FUNCS = ("matmul", "dot", "tensordot", "einsum", "vdot", "inner")


def _op_category(cls):
    module = cls.__module__.rsplit(".", 1)[-1]
    return "copies/layout" if module in _LAYOUT_MODULES else "elementwise"


class Profiler:
    """Context manager: while active, times the wrapped entry points (see the module docstring)."""

    def __init__(self):
        self.own = {}  # (label, category) -> exclusive seconds
        self.gemm_under = {}  # op label -> GEMM seconds its own calls issued (directly or nested)
        self.wall = 0.0
        self._stack = []  # [label, category, start, child seconds]
        self._main = threading.get_ident()
        self._undo = []

    # ---------------------------------------------------------------- timing
    def _timed(self, fn, label, category):
        prof = self

        def wrapper(*args, **kwargs):
            if threading.get_ident() != prof._main:
                return fn(*args, **kwargs)
            frame = [label, category, time.perf_counter(), 0.0]
            prof._stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - frame[2]
                prof._stack.pop()
                key = (label, category)
                prof.own[key] = prof.own.get(key, 0.0) + elapsed - frame[3]
                if prof._stack:
                    prof._stack[-1][3] += elapsed
                if category == "GEMM":
                    # credit the GEMM to the innermost op (not a GEMM or a "module:" helper) that issued it
                    for outer in reversed(prof._stack):
                        if outer[1] != "GEMM" and ":" not in outer[0]:
                            prof.gemm_under[outer[0]] = prof.gemm_under.get(outer[0], 0.0) + elapsed
                            break

        wrapper.__wrapped__ = fn
        return wrapper

    def _patch(self, owner, name, label, category):
        fn = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        if isinstance(fn, (staticmethod, classmethod)):
            return
        setattr(owner, name, self._timed(fn, label, category))
        self._undo.append((owner, name, fn))

    def __enter__(self):
        import numpy as np

        from visionlite.core.autograd.function import Op
        from visionlite.core.ops import _blas, conv
        from visionlite.core.optim.optimizer import Optimizer

        for cls in _subclasses(Op):
            category = _op_category(cls)
            for phase in ("forward", "backward"):
                if phase in cls.__dict__:
                    self._patch(cls, phase, f"{cls.__name__}.{phase}", category)
        for name in _GEMM_FUNCS:
            if hasattr(np, name):
                self._patch(np, name, f"numpy.{name}", "GEMM")
        self._patch(_blas, "gemm", "blas.gemm", "GEMM")  # the convolutions' per-tap GEMMs (conv_implicit)
        for name in ("depthwise_forward", "depthwise_backward"):
            self._patch(conv, name, f"conv:{name}", "elementwise")
        for name in ("split", "merge", "embed", "crop"):
            self._patch(conv.ConvGeometry, name, f"conv:ConvGeometry.{name}", "copies/layout")
        self._patch(Optimizer, "step", "Optimizer.step", "optimizer")
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall += time.perf_counter() - self._start
        for owner, name, fn in reversed(self._undo):
            setattr(owner, name, fn)
        self._undo.clear()
        return False

    # ---------------------------------------------------------------- results
    def categories(self):
        """{category: seconds}; Python/other is the wall time outside every wrapper."""
        out = dict.fromkeys(CATEGORIES, 0.0)
        for (_, category), sec in self.own.items():
            out[category] += sec
        out["Python/other"] = max(0.0, self.wall - sum(out.values()))
        return out

    def top_ops(self, n=5):
        """[(op label, own seconds + GEMM seconds it issued, GEMM seconds)] of the most expensive ops."""
        per = {}
        for (label, category), sec in self.own.items():
            if category != "GEMM":
                per[label] = per.get(label, 0.0) + sec
        for label, sec in self.gemm_under.items():
            per[label] = per.get(label, 0.0) + sec
        best = sorted(per.items(), key=lambda kv: -kv[1])[:n]
        return [(label, sec, self.gemm_under.get(label, 0.0)) for label, sec in best]


def _subclasses(cls):
    seen, todo = [], [cls]
    while todo:
        c = todo.pop()
        for sub in c.__subclasses__():
            if sub not in seen:
                seen.append(sub)
                todo.append(sub)
    return [cls] + seen


def profile_run(fn):
    """Run ``fn`` once under the profiler; a JSON-ready dict of the breakdown."""
    prof = Profiler()
    with prof:
        fn()
    return {"wall": prof.wall, "categories": prof.categories(),
            "top": [[label, sec, gemm] for label, sec, gemm in prof.top_ops()]}


def format_breakdown(result):
    """Two indented lines: the category shares of one profiled run, then its most expensive ops."""
    wall = result["wall"] or 1e-9
    cells = "  ".join(f"{name} {100 * sec / wall:3.0f}%" for name, sec in result["categories"].items())
    tops = ", ".join(_top_cell(label, sec, gemm, wall)
                     for label, sec, gemm in result["top"])
    return f"    profile [{1e3 * wall:.0f} ms]: {cells}\n    top ops: {tops}"


def _top_cell(label, sec, gemm, wall):
    cell = f"{label} {100 * sec / wall:.0f}%"
    return cell + (f" (GEMM {100 * gemm / wall:.0f}%)" if gemm else "")
