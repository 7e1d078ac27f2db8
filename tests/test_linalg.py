"""visionlite.linalg against torch.linalg: forward, gradients of a weighted sum, float64 gradchecks.

Decompositions whose factors carry a sign or rotation freedom are compared through quantities free of
it (``V * V``, ``U @ Vh``), so the test checks the mathematics, not LAPACK's sign choice."""
import math

import numpy as np
import pytest

import visionlite as vl
from tests.helpers import op_check
from tests.helpers.op_check import gradcheck, helper_test_op
from tests.helpers.refs import require

torch = require("torch")


@pytest.fixture(autouse=True)
def _run_on(device):
    op_check.current["device"] = device
    yield
    op_check.current["device"] = "cpu"


def both(make):
    """``make(lib)`` -> fn; the same body runs on torch and on visionlite."""
    return make(torch), make(vl)


def well(lib, a):  # well conditioned: a + 4 I
    return a + 4 * lib.eye(a.shape[-1], dtype=a.dtype)


def spd(lib, a):
    return a @ a.mT + 2 * lib.eye(a.shape[-1], dtype=a.dtype)


def sym(a):
    return (a + a.mT) / 2


def check(shapes, make, inputs=None, grad=True, **kw):
    t_fn, v_fn = both(make)
    helper_test_op(shapes, t_fn, v_fn, inputs=inputs, **kw)
    if grad:
        rng = np.random.default_rng(3)
        arrays = inputs if inputs is not None else [rng.uniform(-1, 1, s) for s in shapes]
        gradcheck(v_fn, [np.asarray(a, np.float64) for a in arrays])


# ------------------------------------------------------------------------------ inverses and solves
def test_inv(): check([(2, 3, 3)], lambda L: lambda a: L.linalg.inv(well(L, a)))
def test_det(): check([(3, 3)], lambda L: lambda a: L.linalg.det(a))
def test_det_batch(): check([(2, 4, 4)], lambda L: lambda a: L.linalg.det(well(L, a)))
def test_slogdet(): check([(2, 3, 3)], lambda L: lambda a: L.linalg.slogdet(a).logabsdet)
def test_slogdet_sign(): check([(4, 3, 3)], lambda L: lambda a: L.linalg.slogdet(a)[0], grad=False,
                               forward_only=True)
def test_solve(): check([(2, 3, 3), (2, 3, 2)], lambda L: lambda a, b: L.linalg.solve(well(L, a), b))
def test_solve_vector(): check([(3, 3), (3,)], lambda L: lambda a, b: L.linalg.solve(well(L, a), b))
def test_solve_batched_vector():
    check([(2, 3, 3), (2, 3)], lambda L: lambda a, b: L.linalg.solve(well(L, a), b))
def test_solve_broadcast(): check([(3, 3), (2, 3, 2)], lambda L: lambda a, b: L.linalg.solve(well(L, a), b))
def test_solve_right():
    check([(3, 3), (2, 3)], lambda L: lambda a, b: L.linalg.solve(well(L, a), b, left=False))
def test_cholesky(): check([(2, 3, 3)], lambda L: lambda a: L.linalg.cholesky(spd(L, a)))
def test_cholesky_upper(): check([(3, 3)], lambda L: lambda a: L.linalg.cholesky(spd(L, a), upper=True))
def test_pinv_tall(): check([(4, 3)], lambda L: lambda a: L.linalg.pinv(a))
def test_pinv_wide(): check([(2, 3, 5)], lambda L: lambda a: L.linalg.pinv(a))
def test_lstsq(): check([(5, 3), (5, 2)], lambda L: lambda a, b: L.linalg.lstsq(a, b).solution)
def test_lstsq_vector(): check([(5, 3), (5,)], lambda L: lambda a, b: L.linalg.lstsq(a, b)[0])


# ------------------------------------------------------------------------------ decompositions
def _eigh(L):
    def fn(a):
        w, v = L.linalg.eigh(a)
        return L.cat([w.flatten(), (v * v).flatten()])
    return fn


def _svd(L):
    def fn(a):
        u, s, vh = L.linalg.svd(a, full_matrices=False)
        return L.cat([s.flatten(), (u * u).flatten(), (vh * vh).flatten(), (u @ vh).flatten()])
    return fn


def _qr(mode):
    return lambda L: lambda a: L.cat([x.flatten() for x in L.linalg.qr(a, mode=mode)])


def _sym_input(shape, seed=0):
    a = np.random.default_rng(seed).uniform(-1, 1, shape)
    return (a + np.swapaxes(a, -1, -2)).astype(np.float32)


def test_eigh():  # raw symmetric input: torch's gradient convention (the symmetrised one checked below)
    check([], _eigh, inputs=[_sym_input((2, 4, 4))], grad_atol=1e-3, grad=False)
def test_eigh_of_symmetrised(): check([(3, 3)], lambda L: lambda a: _eigh(L)(sym(a)))
def test_eigvalsh(): check([(3, 3)], lambda L: lambda a: L.linalg.eigvalsh(sym(a)))
def test_qr_tall(): check([(5, 3)], _qr("reduced"))
def test_qr_square(): check([(2, 3, 3)], _qr("reduced"))
def test_qr_wide(): check([(3, 5)], _qr("reduced"))
def test_qr_complete_wide(): check([(3, 5)], _qr("complete"))
def test_svd_tall(): check([(5, 3)], _svd)
def test_svd_wide(): check([(2, 3, 4)], _svd)
def test_svdvals(): check([(4, 3)], lambda L: lambda a: L.linalg.svdvals(a))


def test_svd_full_matrices_shapes():
    a = np.random.default_rng(0).uniform(-1, 1, (5, 3)).astype(np.float32)
    ours, ref = vl.linalg.svd(vl.tensor(a)), torch.linalg.svd(torch.tensor(a))
    assert [tuple(x.shape) for x in ours] == [tuple(x.shape) for x in ref]
    np.testing.assert_allclose(ours.S.numpy(), ref.S.numpy(), rtol=1e-5)


def test_qr_r_mode_and_complete_tall():
    a = np.random.default_rng(0).uniform(-1, 1, (5, 3)).astype(np.float32)
    for mode in ("r", "complete"):
        q, r = vl.linalg.qr(vl.tensor(a), mode=mode)
        tq, tr = torch.linalg.qr(torch.tensor(a), mode=mode)
        assert tuple(q.shape) == tuple(tq.shape) and tuple(r.shape) == tuple(tr.shape)
        np.testing.assert_allclose(np.abs(r.numpy()), np.abs(tr.numpy()), atol=1e-5)


def test_lstsq_rank_and_empty_residuals():
    a = np.random.default_rng(0).uniform(-1, 1, (5, 3)).astype(np.float32)
    a[:, 2] = a[:, 0]  # rank 2
    b = np.ones((5, 1), np.float32)
    ours = vl.linalg.lstsq(vl.tensor(a), vl.tensor(b))
    ref = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b))
    assert int(ours.rank) == int(ref.rank) == 2
    assert tuple(ours.residuals.shape) == tuple(ref.residuals.shape)
    np.testing.assert_allclose(ours.solution.numpy(), ref.solution.numpy(), atol=1e-4)


def test_errors():
    with pytest.raises(vl.linalg.LinAlgError):
        vl.linalg.inv(vl.zeros(3, 3))
    with pytest.raises(vl.linalg.LinAlgError, match="positive-definite"):
        vl.linalg.cholesky(-vl.eye(3))
    with pytest.raises(RuntimeError, match="square"):
        vl.linalg.det(vl.ones(2, 3))
    with pytest.raises(RuntimeError, match="floating point"):
        vl.linalg.inv(vl.ones(2, 2, dtype=vl.int64))


# ------------------------------------------------------------------------------ norms
@pytest.mark.parametrize("ord", [2, 1, math.inf, -math.inf, 0.5, 3])
def test_vector_norm(ord):
    check([(3, 4)], lambda L: lambda a: L.linalg.vector_norm(a, ord))
    check([(3, 4)], lambda L: lambda a: L.linalg.vector_norm(a, ord, dim=1, keepdim=True))


@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf])
def test_matrix_norm(ord):
    check([(2, 3, 4)], lambda L: lambda a: L.linalg.matrix_norm(a, ord))
    check([(3, 2, 4)], lambda L: lambda a: L.linalg.matrix_norm(a, ord, dim=(0, 2), keepdim=True))


@pytest.mark.parametrize("ord,dim,shape", [(None, None, (3, 4)), (None, 1, (3, 4)), ("fro", None, (3, 4)),
                                           (2, None, (5,)), (1, None, (3, 4)), ("nuc", (0, 1), (3, 4, 2)),
                                           (math.inf, (1, 2), (2, 3, 3)), (None, (0, 1), (3, 4, 2))])
def test_linalg_norm(ord, dim, shape):
    check([shape], lambda L: lambda a: L.linalg.norm(a, ord, dim))


@pytest.mark.parametrize("p,dim", [("fro", None), (2, 1), (1, None), (math.inf, 0), (3, (0, 1))])
def test_torch_norm_consistent(p, dim):
    check([(3, 4)], lambda L: lambda a: L.norm(a, p, dim))
    check([(3, 4)], lambda L: lambda a: a.norm(p, dim))


def test_grad_fn_names():
    a = vl.eye(3, requires_grad=True)
    t = torch.eye(3, requires_grad=True)
    for f in ("inv", "det", "cholesky"):
        assert getattr(vl.linalg, f)(a).grad_fn.name() == getattr(torch.linalg, f)(t).grad_fn.name()


# ------------------------------------------------------------------------------ older spellings
def test_det_inverse_logdet_top_level_and_methods():
    check([(3, 3)], lambda L: lambda a: L.det(well(L, a)) + well(L, a).det())
    check([(2, 3, 3)], lambda L: lambda a: L.inverse(well(L, a)) + well(L, a).inverse())
    check([(3, 3)], lambda L: lambda a: L.logdet(spd(L, a)) + spd(L, a).logdet())
    check([(3, 3)], lambda L: lambda a: L.slogdet(a)[1] + a.slogdet()[1])
    check([(4, 3)], lambda L: lambda a: L.pinverse(a) + a.pinverse())


def test_torch_svd_returns_v():
    check([(4, 3)], lambda L: lambda a: (lambda usv: L.cat([usv.S, (usv.U @ usv.V.mT).flatten()]))(L.svd(a)))


@pytest.mark.parametrize("name", ["cholesky", "qr"])
def test_removed_spellings_raise_as_torch(name):
    for lib, x in ((torch, torch.eye(2)), (vl, vl.eye(2))):
        with pytest.raises(RuntimeError, match="deprecated since version 1.9 and is now removed"):
            getattr(lib, name)(x)
        with pytest.raises(RuntimeError, match="deprecated since version 1.9 and is now removed"):
            getattr(x, name)()


def test_logdet_negative_is_nan():
    a = np.diag([-1.0, 2.0]).astype(np.float32)
    assert np.isnan(vl.logdet(vl.tensor(a)).item()) and np.isnan(torch.logdet(torch.tensor(a)).item())


def test_cross_matrix_power_solve_triangular():
    check([(4, 3), (4, 3)], lambda L: lambda a, b: L.linalg.cross(a, b))
    check([(2, 3, 3)], lambda L: lambda a: L.linalg.matrix_power(a, 3))
    check([(3, 3)], lambda L: lambda a: L.linalg.matrix_power(well(L, a), -2))
    check([(3, 3), (3, 2)], lambda L: lambda a, b: L.linalg.solve_triangular(well(L, a), b, upper=True))
    check([(3, 3), (2, 3)], lambda L: lambda a, b: L.linalg.solve_triangular(well(L, a), b, upper=False,
                                                                             left=False))
    check([(3, 3), (3, 2)], lambda L: lambda a, b: L.linalg.solve_triangular(a, b, upper=False,
                                                                             unitriangular=True))
