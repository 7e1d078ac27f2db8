"""``linalg.vector_norm``, ``matrix_norm`` and ``norm`` (PyTorch's dispatch between them), built from
reductions and ``svdvals`` so their gradients come from those."""

import math

from ..ops import elementwise as ew
from ..ops import reduce as rd
from ..ops._util import normalize_dims


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """``ord``-norm of ``x`` over ``dim`` (all elements when None), treating them as one vector."""
    if dtype is not None:
        x = x.to(dtype)
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. "
                           f"Got {x.dtype}")
    if isinstance(dim, int):
        dim = (dim,)
    if ord in (math.inf, -math.inf) and x.numel() == 0:
        raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty tensor because "
                           "the operation does not have an identity")
    return rd.norm(x, p=float(ord) if not isinstance(ord, str) else ord, dim=dim, keepdim=keepdim)


def _svdvals(x):
    from . import svdvals
    return svdvals(x)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """Matrix norm of the planes ``dim`` of ``A``: 'fro', 'nuc', inf, -inf, 1, -1, 2, -2."""
    if dtype is not None:
        A = A.to(dtype)
    if A.ndim < 2:
        raise RuntimeError(f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions, "
                           f"got {A.ndim}")
    d0, d1 = normalize_dims(tuple(dim), A.ndim, "matrix_norm")
    if ord == "fro":
        return rd.norm(A, 2, dim=(d0, d1), keepdim=keepdim)
    if ord in ("nuc", 2, -2):
        moved = A.movedim((d0, d1), (-2, -1))
        s = _svdvals(moved)
        out = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
        if keepdim:
            out = out.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1))
        return out
    if ord in (1, -1, math.inf, -math.inf):
        # 1: max column sum (sum over rows d0, best column); inf: max row sum
        over, best = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = rd.sum(ew.abs(A), over, keepdim=True)
        out = rd.amax(sums, best, keepdim=True) if ord > 0 else rd.amin(sums, best, keepdim=True)
        return out if keepdim else out.squeeze((d0, d1) if d0 < d1 else (d1, d0))
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported; use 'fro', 'nuc', inf, -inf, 1, -1, "
                       "2 or -2")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """``vector_norm`` or ``matrix_norm`` as PyTorch picks: ``ord=None`` is the 2-norm of the flattened
    input (or of ``dim``); a string ``ord`` or a 2-tuple ``dim`` (or a 2-D input with ``ord`` and no
    ``dim``) asks for a matrix norm."""
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) == 2 or (dim is None and ord is not None and A.ndim == 2) \
            or isinstance(ord, str):
        if dim is None:
            if A.ndim != 2:
                raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D "
                                   f"or 2D. Got {A.ndim}D.")
            dim = (-2, -1)
        return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
    if dim is None and ord is not None and A.ndim != 1:
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
                           f"Got {A.ndim}D.")
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
