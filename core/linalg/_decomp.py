"""Matrix primitives of ``linalg``: inverse, determinant, solve, Cholesky, symmetric eigen, QR and SVD.

Each forward is the array module's LAPACK routine (numpy or cupy); each backward is written with Tensor
operations, so that ``create_graph=True`` can differentiate it again. The formulas are the standard ones
PyTorch also uses (its ``FunctionsManual.cpp``): for a factorisation, the gradient is the adjoint of the
forward's differential, projected as the factorisation's structure requires (a symmetric ``gA`` for
Cholesky and eigh, the triangular parts for QR, the skew parts for SVD).
"""

import numpy as np

from ..autograd.function import Function, Op
from ..backend import array_module
from ..ops.extra import tril
from ..ops.linalg_like import diag_embed
from ..ops.movement import cat
from ..tensor import Tensor


class LinAlgError(RuntimeError):
    """A matrix was singular or not positive-definite (``torch.linalg.LinAlgError``)."""


def check_square(a, name):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.{name}: A must be batches of square matrices, but they are "
                           f"{a.shape[-2] if a.ndim >= 2 else 1} by {a.shape[-1] if a.ndim else 1} matrices")


def check_float(a, name):
    if a.dtype.kind not in "fc":
        raise RuntimeError(f"linalg.{name}: Expected a floating point or complex tensor as input. "
                           f"Got {a.dtype.name}; convert it with .float() or .double()")


def _lapack(fn, name, *arrays, **kw):
    xp = array_module(arrays[0])
    try:
        return fn(*arrays, **kw)
    except xp.linalg.LinAlgError as e:
        raise LinAlgError(f"linalg.{name}: {e}") from None


def _diag(x):
    return x.diagonal(0, -2, -1)


class Inv(Op):
    saves_output = True

    def forward(self, a):
        self.label = "LinalgInvExBackward0"
        xp = array_module(a)
        return _lapack(xp.linalg.inv, "inv", a).astype(a.dtype, copy=False)

    def backward(self, g):
        inv = self.output().mT
        return -(inv @ g @ inv)


class Solve(Op):
    """``X = A^-1 B`` for ``A (*, n, n)`` and ``B (*, n, k)``."""

    saves_output = True

    def forward(self, a, b):
        self.label = "LinalgSolveExBackward0"
        if self.recording:
            self.save(self.inputs[0])
        xp = array_module(a)
        return _lapack(xp.linalg.solve, "solve", a, b).astype(a.dtype, copy=False)

    def backward(self, g):
        (a,) = self.saved_values()
        gb = Solve.apply(a.mT, g)
        ga = -(gb @ self.output().mT) if self.needs_input_grad[0] else None
        return ga, gb


class Det(Op):
    saves_output = True

    def forward(self, a):
        self.label = "LinalgDetBackward0"
        if self.recording:
            self.save(self.inputs[0])
        xp = array_module(a)
        return xp.asarray(xp.linalg.det(a)).astype(a.dtype, copy=False)

    def backward(self, g):
        (a,) = self.saved_values()
        # d det = det tr(A^-1 dA); solve(A^T, det g I) stays finite for det != 0 only, as PyTorch's
        # non-singular path
        scale = (g * self.output()).unsqueeze(-1).unsqueeze(-1)
        return scale * Inv.apply(a).mT


class LogAbsDet(Op):
    def forward(self, a):
        self.label = "LinalgSlogdetBackward0"
        if self.recording:
            self.save(self.inputs[0])
        xp = array_module(a)
        return xp.asarray(xp.linalg.slogdet(a)[1]).astype(a.dtype, copy=False)

    def backward(self, g):
        (a,) = self.saved_values()
        return g.unsqueeze(-1).unsqueeze(-1) * Inv.apply(a).mT


class Cholesky(Op):
    """Lower factor ``L`` of ``A = L L^T``."""

    saves_output = True

    def forward(self, a):
        self.label = "LinalgCholeskyExBackward0"
        xp = array_module(a)
        try:
            return xp.linalg.cholesky(a)
        except xp.linalg.LinAlgError:
            raise LinAlgError("linalg.cholesky: The factorization could not be completed because the input "
                              "is not positive-definite.") from None

    def backward(self, g):
        L = self.output()
        p = L.mT @ g
        phi = tril(p, -1) + diag_embed(_diag(p) * 0.5)
        linv = Inv.apply(L)
        s = linv.mT @ phi @ linv
        return (s + s.mT) * 0.5


class Eigh(Function):
    """``(eigenvalues ascending, eigenvectors in columns)`` of a symmetric matrix (one triangle read)."""

    @staticmethod
    def forward(ctx, a, uplo="L"):
        xp = array_module(a._data)
        w, v = _lapack(xp.linalg.eigh, "eigh", a._data, UPLO=uplo)
        w, v = Tensor._wrap(w.astype(a._data.dtype, copy=False)), Tensor._wrap(v)
        ctx.save_for_backward(w, v)
        return w, v

    @staticmethod
    def backward(ctx, gw, gv):
        w, v = ctx.saved_tensors
        gap = w.unsqueeze(-2) - w.unsqueeze(-1)  # [i, j] = w_j - w_i
        n = w.shape[-1]
        eye = Tensor._wrap(np.eye(n, dtype=w._data.dtype)) if n else None
        inner = v.mT @ gv
        # only the skew part of V^T gV moves the eigenvectors (they stay orthonormal)
        off = (inner - inner.mT) * 0.5 / (gap + eye) * (1 - eye)
        ga = v @ (diag_embed(gw) + off) @ v.mT
        return ga, None


class QR(Function):
    """Reduced QR (``m >= n`` or ``'reduced'``/``'complete'`` with square Q for ``m <= n``)."""

    @staticmethod
    def forward(ctx, a, mode="reduced"):
        xp = array_module(a._data)
        q, r = xp.linalg.qr(a._data, mode=mode)
        q, r = Tensor._wrap(q), Tensor._wrap(r)
        m, n = a.shape[-2:]
        ctx.mode, ctx.mn = mode, (m, n)
        ctx.save_for_backward(q, r)
        return q, r

    @staticmethod
    def backward(ctx, gq, gr):
        q, r = ctx.saved_tensors
        m, n = ctx.mn
        if ctx.mode == "complete" and m > n:
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'"
                               " or uniquely determined when mode='complete' and m > n; use mode='reduced'")
        if m >= n:
            # gA = (gQ + Q copyltu(M)) R^-T with M = R gR^T - gQ^T Q
            mm = r @ gr.mT - gq.mT @ q
            low = tril(mm, -1)
            sym = low + low.mT + diag_embed(_diag(mm))
            b = gq + q @ sym
            return Solve.apply(r, b.mT).mT, None
        # m < n: A = [A1 | A2] with A1 = Q X (a square QR) and Y = Q^T A2, so gA2 = Q gY and Y feeds back
        # into Q through gQ += A2 gY^T = Q Y gY^T
        x, gx = r[..., :, :m], gr[..., :, :m]
        y, gy = r[..., :, m:], gr[..., :, m:]
        gq2 = gq + q @ (y @ gy.mT)
        mm = x @ gx.mT - gq2.mT @ q
        low = tril(mm, -1)
        sym = low + low.mT + diag_embed(_diag(mm))
        ga1 = Solve.apply(x, (gq2 + q @ sym).mT).mT
        return cat([ga1, q @ gy], -1), None


class SVD(Function):
    """Reduced SVD ``A = U diag(S) Vh`` (``full_matrices`` only for square A when differentiated)."""

    @staticmethod
    def forward(ctx, a, full_matrices=False):
        xp = array_module(a._data)
        u, s, vh = _lapack(xp.linalg.svd, "svd", a._data, full_matrices=full_matrices)
        u, s, vh = Tensor._wrap(u), Tensor._wrap(s.astype(a._data.dtype, copy=False)), Tensor._wrap(vh)
        m, n = a.shape[-2:]
        ctx.full = full_matrices and m != n
        ctx.save_for_backward(u, s, vh)
        return u, s, vh

    @staticmethod
    def backward(ctx, gu, gs, gvh):
        if ctx.full:
            raise RuntimeError("linalg.svd: The derivative of linalg.svd is not implemented when "
                               "full_matrices=True and A is not square; pass full_matrices=False")
        u, s, vh = ctx.saved_tensors
        v, gv = vh.mT, gvh.mT
        k = s.shape[-1]
        eye = Tensor._wrap(np.eye(k, dtype=s._data.dtype))
        s2 = s * s
        e = s2.unsqueeze(-2) - s2.unsqueeze(-1)  # [i, j] = s_j^2 - s_i^2
        f = (1 - eye) / (e + eye)
        utgu = u.mT @ gu
        vtgv = v.mT @ gv
        j = f * (utgu - utgu.mT)
        kk = f * (vtgv - vtgv.mT)
        sd = diag_embed(s)
        inner = diag_embed(gs) + j @ sd + sd @ kk
        ga = u @ inner @ v.mT
        m, n = u.shape[-2], v.shape[-2]
        sinv = (1 / s).unsqueeze(-2)
        if m > k:  # the part of gU outside span(U)
            ga = ga + (gu - u @ utgu) * sinv @ v.mT
        if n > k:
            ga = ga + u @ ((gv - v @ vtgv) * sinv).mT
        return ga, None
