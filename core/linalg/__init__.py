"""``visionlite.linalg``, as ``torch.linalg``: decompositions, solvers, inverses and norms over batches
of matrices ``(*, m, n)``, differentiable as PyTorch's (see ``_decomp`` for the primitives)."""

import numpy as np

from ..autograd.node_names import label
from ..backend import array_module
from ..ops import elementwise as ew
from ..ops.matmul import matmul
from ..tensor import Tensor
from ._decomp import (
    QR,
    SVD,
    Cholesky,
    Det,
    Eigh,
    Inv,
    LinAlgError,
    LogAbsDet,
    Solve,
    check_float,
    check_square,
)
from ._norms import matrix_norm, norm, vector_norm

__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "det", "eigh", "eigvalsh", "inv", "inv_ex", "lstsq",
           "matmul", "matrix_norm", "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet", "solve",
           "svd", "svdvals", "vector_norm", "vecdot", "diagonal", "cross", "matrix_power", "solve_triangular"]


def _square_float(A, name):
    check_float(A._data, name)
    check_square(A._data, name)


def inv(A):
    """Inverse of the square matrices ``A (*, n, n)``; raises ``LinAlgError`` if one is singular."""
    _square_float(A, "inv")
    return Inv.apply(A)


def inv_ex(A, *, check_errors=False):
    """``(inverse, info)`` with ``info`` 0 where the inverse exists."""
    out = inv(A)
    return out, Tensor._wrap(np.zeros(A.shape[:-2], dtype=np.int32))


def det(A):
    """Determinants ``(*)`` of ``A (*, n, n)``."""
    _square_float(A, "det")
    return Det.apply(A)


def slogdet(A):
    """``(sign, logabsdet)`` of ``A (*, n, n)``; only ``logabsdet`` is differentiable (as PyTorch)."""
    _square_float(A, "slogdet")
    xp = array_module(A._data)
    sign = Tensor._wrap(xp.asarray(xp.linalg.slogdet(A._data)[0]).astype(A._data.dtype, copy=False))
    return _SlogdetResult(sign, LogAbsDet.apply(A))


def _vector_rhs(A, B):
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


def solve(A, B, *, left=True):
    """``X`` with ``A X = B`` (``left=False``: ``X A = B``); ``A (*, n, n)``, ``B (*, n, k)`` or
    ``(*, n)``."""
    _square_float(A, "solve")
    if not left:
        return solve(A.mT, B.mT).mT
    if _vector_rhs(A, B):
        return label(Solve.apply(A, B.unsqueeze(-1)).squeeze(-1), "LinalgSolveExBackward0", A, B)
    if B.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({A.shape[-2]}x{A.shape[-1]} and {B.shape[-2]}x{B.shape[-1]})")
    return Solve.apply(A, B)


def cholesky(A, *, upper=False):
    """Lower factor ``L`` with ``A = L L^T`` (``upper=True``: ``U = L^T``) of positive-definite ``A``."""
    _square_float(A, "cholesky")
    L = Cholesky.apply(A)
    return L.mT if upper else L


def cholesky_ex(A, *, upper=False, check_errors=False):
    return cholesky(A, upper=upper), Tensor._wrap(np.zeros(A.shape[:-2], dtype=np.int32))


def eigh(A, UPLO="L"):
    """``(eigenvalues (*, n) ascending, eigenvectors (*, n, n) in columns)`` of symmetric ``A``; only
    the ``UPLO`` triangle is read."""
    _square_float(A, "eigh")
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return _EighResult(*Eigh.apply(A, UPLO))


def eigvalsh(A, UPLO="L"):
    return eigh(A, UPLO)[0]


def qr(A, mode="reduced"):
    """``(Q, R)`` with ``A = Q R``; ``mode`` 'reduced', 'complete' or 'r' (Q empty)."""
    check_float(A._data, "qr")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
                           "'r', or 'complete'")
    if mode == "r":
        q, r = QR.apply(A, "reduced")
        return _QRResult(Tensor._wrap(array_module(A._data).zeros((0,), dtype=A._data.dtype)), r)
    return _QRResult(*QR.apply(A, mode))


def svd(A, full_matrices=True, *, driver=None):
    """``(U, S, Vh)`` with ``A = U diag(S) Vh``; singular values descending."""
    check_float(A._data, "svd")
    return _SVDResult(*SVD.apply(A, full_matrices))


def svdvals(A, *, driver=None):
    return SVD.apply(A, False)[1]


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """Moore-Penrose pseudo-inverse ``(*, n, m)`` of ``A (*, m, n)``: singular values at or below
    ``max(atol, rtol * s_max)`` (default ``rtol = eps * max(m, n)``) are dropped."""
    check_float(A._data, "pinv")
    u, s, vh = SVD.apply(A, False)
    eps = np.finfo(A._data.dtype).eps
    smax = s.amax(-1, keepdim=True).detach() if s.shape[-1] else s.detach()
    if rtol is None:
        rtol = 0.0 if (atol is not None and atol > 0) else eps * max(A.shape[-2:])
    tol = smax * rtol
    if atol is not None:
        tol = tol.clamp(min=atol)
    keep = s.detach() > tol
    sinv = ew.where(keep, 1 / ew.where(keep, s, 1.0), 0.0)
    return (vh.mT * sinv.unsqueeze(-2)) @ u.mT


def lstsq(A, B, rcond=None, *, driver=None):
    """Least squares ``X`` minimising ``|A X - B|`` for ``A (*, m, n)``, ``B (*, m, k)``; returns
    ``(solution, residuals, rank, singular_values)`` filled as PyTorch's default CPU driver 'gelsy'
    does (residuals and singular values empty)."""
    check_float(A._data, "lstsq")
    driver = driver or "gelsy"
    vec = B.ndim == A.ndim - 1
    b = B.unsqueeze(-1) if vec else B
    m, n = A.shape[-2:]
    eps = np.finfo(A._data.dtype).eps
    rtol = eps * max(m, n) if rcond is None or rcond < 0 else rcond
    x = pinv(A, rtol=rtol) @ b
    xp = array_module(A._data)
    s = xp.linalg.svd(A._data, compute_uv=False)
    rank = (s > rtol * s[..., :1]).sum(-1) if s.shape[-1] else xp.zeros(s.shape[:-1])
    rank = rank.astype(np.int64)
    empty = Tensor._wrap(xp.zeros((0,), dtype=A._data.dtype))
    residuals, svals = empty, empty
    if driver in ("gelsd", "gelss"):
        svals = Tensor._wrap(s.astype(A._data.dtype))
    if driver != "gelsy" and m > n and bool((rank == n).all()):
        residuals = ((A @ x - b) ** 2).sum(-2).detach()
    if vec:
        x = x.squeeze(-1)
    return _LstsqResult(x, residuals, Tensor._wrap(rank), svals)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    xp = array_module(A._data)
    s = xp.linalg.svd(A._data, compute_uv=False)
    smax = s[..., :1] if s.shape[-1] else s
    if rtol is None:
        rtol = 0.0 if (atol is not None and atol > 0) else np.finfo(A._data.dtype).eps * max(A.shape[-2:])
    tol = xp.maximum(smax * rtol, atol or 0.0)
    return Tensor._wrap((s > tol).sum(-1).astype(np.int64))


def multi_dot(tensors):
    out = tensors[0]
    for t in tensors[1:]:
        out = out @ t
    return out


def vecdot(x, y, *, dim=-1):
    return (x * y).sum(dim)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return A.diagonal(offset, dim1, dim2)


def cross(input, other, *, dim=-1):
    """Cross product of 3-vectors along ``dim`` (inputs broadcast)."""
    from ..ops.compat import cross as _cross

    return _cross(input, other, dim)


def matrix_power(A, n):
    """``A`` to the integer power ``n`` (negative: of the inverse)."""
    from ..ops.compat import matrix_power as _power

    return _power(A, n)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """``X`` with ``A X = B`` (``left=False``: ``X A = B``) reading only the ``upper`` or lower triangle of
    ``A`` (its diagonal taken as ones with ``unitriangular``); the gradient of ``A`` is triangular too."""
    from ..ops.extra import tril, triu

    T = triu(A) if upper else tril(A)
    if unitriangular:
        eye = Tensor._wrap(array_module(A._data).eye(A.shape[-1], dtype=A._data.dtype))
        T = T - T * eye + eye
    if not left:
        return solve_triangular(A.mT, B.mT, upper=not upper, unitriangular=unitriangular).mT
    return Solve.apply(T, B)


class _Named(tuple):
    _fields = ()

    def __new__(cls, *items):
        return super().__new__(cls, items)

    def __getattr__(self, name):
        try:
            return self[self._fields.index(name)]
        except ValueError:
            raise AttributeError(name) from None

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
        return f"torch.return_types.{self._kind}(\n{body})"


def _result(kind, fields):
    return type(f"_{kind}", (_Named,), {"_fields": fields, "_kind": kind})


_SlogdetResult = _result("linalg_slogdet", ("sign", "logabsdet"))
_EighResult = _result("linalg_eigh", ("eigenvalues", "eigenvectors"))
_QRResult = _result("linalg_qr", ("Q", "R"))
_SVDResult = _result("linalg_svd", ("U", "S", "Vh"))
_LstsqResult = _result("linalg_lstsq", ("solution", "residuals", "rank", "singular_values"))
