# ruff: noqa: E501, E701, E704
"""More math, shape and order-statistic ops against PyTorch (forward + backward), one line per op, and
float64 finite-difference gradient checks (core/ops/trig.py, linalg_like.py, order_stats.py)."""

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


def f32(*values):
    return np.array(values, np.float32)


def both(fn_name, *args, **kwargs):
    """A pair of callables running ``torch.<fn_name>`` and ``vl.<fn_name>`` with the extra arguments."""
    return (lambda *t: getattr(torch, fn_name)(*t, *args, **kwargs), lambda *t: getattr(vl, fn_name)(*t, *args, **kwargs))


def dev():
    return op_check.current["device"]


def assert_same(v, t):
    """Same dtype, shape and values for a visionlite and a torch tensor (indices and other exact outputs)."""
    assert str(v.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (v.dtype, t.dtype)
    np.testing.assert_array_equal(np.asarray(v.cpu().__array__()), t.detach().numpy())


# --------------------------------------------------------------------------------------- unary trig
def test_tan(): helper_test_op([(3, 4)], *both("tan"), low=-1.2, high=1.2)
def test_asin(): helper_test_op([(3, 4)], *both("asin"), low=-0.9, high=0.9)
def test_acos(): helper_test_op([(3, 4)], *both("acos"), low=-0.9, high=0.9)
def test_atan(): helper_test_op([(3, 4)], *both("atan"), low=-4, high=4)
def test_sinh(): helper_test_op([(3, 4)], *both("sinh"), low=-3, high=3)
def test_cosh(): helper_test_op([(3, 4)], *both("cosh"), low=-3, high=3)
def test_asinh(): helper_test_op([(3, 4)], *both("asinh"), low=-4, high=4)
def test_acosh(): helper_test_op([(3, 4)], *both("acosh"), low=1.1, high=4)
def test_atanh(): helper_test_op([(3, 4)], *both("atanh"), low=-0.9, high=0.9)
def test_arc_aliases(): helper_test_op([(5,)], lambda a: torch.arcsin(a) + torch.arccos(a) + torch.arctan(a) + torch.arcsinh(a) + torch.arctanh(a), lambda a: vl.arcsin(a) + vl.arccos(a) + vl.arctan(a) + vl.arcsinh(a) + vl.arctanh(a), low=-0.9, high=0.9)
def test_arccosh(): helper_test_op([(5,)], *both("arccosh"), low=1.5, high=3)
def test_trig_out_of_domain(): helper_test_op([], lambda a: torch.asin(a) + torch.acosh(a), lambda a: vl.asin(a) + vl.acosh(a), inputs=[f32(2.0, -3.0, 0.5)], forward_only=True, atol=0)
def test_tan_int(): helper_test_op([], torch.tan, vl.tan, inputs=[np.array([1, 2, -3])], forward_only=True)
def test_trig_scalar(): helper_test_op([()], lambda a: a.tan() * a.sinh() + a.atan(), low=-1, high=1)
def test_trig_methods(): helper_test_op([(3, 4)], lambda a: a.tan() + a.asin() + a.acos() + a.atan() + a.sinh() + a.cosh() + a.asinh() + a.atanh(), low=-0.9, high=0.9)
def test_trig_float64(): helper_test_op([(3, 4)], *both("atanh"), low=-0.9, high=0.9, dtype=np.float64, atol=1e-12)
def test_deg2rad_rad2deg(): helper_test_op([(3, 4)], lambda a: torch.deg2rad(a * 90) + torch.rad2deg(a), lambda a: vl.deg2rad(a * 90) + vl.rad2deg(a))
def test_deg2rad_int(): helper_test_op([], torch.deg2rad, vl.deg2rad, inputs=[np.array([180, -90])], forward_only=True)


# -------------------------------------------------------------------------------------- binary math
def test_atan2(): helper_test_op([(3, 4), (3, 4)], *both("atan2"))
def test_atan2_broadcast(): helper_test_op([(3, 1), (4,)], lambda a, b: a.atan2(b), lambda a, b: a.atan2(b))
def test_atan2_origin_kink(): helper_test_op([], *both("atan2"), inputs=[f32(0.0, 1.0, 0.0, -0.0), f32(0.0, 0.0, -1.0, -2.0)])
def test_atan2_int(): helper_test_op([], *both("atan2"), inputs=[np.array([1, -2, 0]), np.array([3, 4, -1])], forward_only=True)
def test_arctan2_alias(): helper_test_op([(3,), (3,)], torch.arctan2, vl.arctan2)
def test_hypot(): helper_test_op([(3, 4), (3, 4)], *both("hypot"))
def test_hypot_broadcast(): helper_test_op([(3, 4), (4,)], lambda a, b: a.hypot(b), lambda a, b: a.hypot(b))
def test_hypot_no_overflow(): helper_test_op([], *both("hypot"), inputs=[f32(3e30, 1e-30), f32(4e30, 0.0)], forward_only=True)
def test_exp2(): helper_test_op([(3, 4)], *both("exp2"), low=-4, high=4)
def test_exp2_int(): helper_test_op([], torch.exp2, vl.exp2, inputs=[np.array([0, 3, 10, -1])], forward_only=True, atol=0)
def test_logaddexp(): helper_test_op([(3, 4), (3, 4)], *both("logaddexp"), low=-5, high=5)
def test_logaddexp_large(): helper_test_op([(3, 4), (4,)], lambda a, b: torch.logaddexp(a * 100, b), lambda a, b: vl.logaddexp(a * 100, b))
def test_logaddexp_ties(): helper_test_op([], *both("logaddexp"), inputs=[f32(1.0, -3.0, 0.0), f32(1.0, -3.0, 2.0)])
def test_logaddexp_inf(): helper_test_op([], *both("logaddexp"), inputs=[f32(-np.inf, np.inf, -np.inf, 1.0, np.inf), f32(-np.inf, np.inf, 2.0, np.inf, -np.inf)], forward_only=True)
def test_logaddexp2(): helper_test_op([(3, 4), (3, 4)], *both("logaddexp2"), low=-5, high=5)
def test_frac(): helper_test_op([(3, 4)], *both("frac"), low=-5, high=5)
def test_frac_kink(): helper_test_op([], torch.frac, vl.frac, inputs=[f32(-2.0, -1.5, 0.0, 1.0, 2.75)])
def test_fmod(): helper_test_op([(3, 4), (3, 4)], *both("fmod"), low=0.5, high=3)
def test_fmod_signs(): helper_test_op([], *both("fmod"), inputs=[f32(5.5, -5.5, 5.5, -5.5, 0.25), f32(2.0, 2.0, -2.0, -2.0, 1.0)])
def test_fmod_scalar(): helper_test_op([(3, 4)], lambda a: torch.fmod(a * 5, 1.5), lambda a: vl.fmod(a * 5, 1.5))
def test_fmod_method(): helper_test_op([(3, 4), (4,)], lambda a, b: (a * 4).fmod(b + 3), lambda a, b: (a * 4).fmod(b + 3))
def test_fmod_int(): helper_test_op([], *both("fmod"), inputs=[np.array([5, -5, 7, -7]), np.array([3, 3, -2, -2])], forward_only=True)
def test_fmod_int_by_float(): helper_test_op([], lambda a: torch.fmod(a, 2.5), lambda a: vl.fmod(a, 2.5), inputs=[np.array([5, -6, 7])], forward_only=True)
def test_floor_divide(): helper_test_op([(3, 4), (3, 4)], *both("floor_divide"), forward_only=True)
def test_floor_divide_int(): helper_test_op([], *both("floor_divide"), inputs=[np.array([5, -5, 7, -7]), np.array([2, 2, -3, -3])], forward_only=True)
def test_floor_divide_scalar(): helper_test_op([(3, 4)], lambda a: torch.floor_divide(a * 5, 0.7), lambda a: vl.floor_divide(a * 5, 0.7), forward_only=True)
def test_nan_to_num(): helper_test_op([], *both("nan_to_num"), inputs=[f32(np.nan, np.inf, -np.inf, 1.5, -2.0)], forward_only=True)
def test_nan_to_num_values(): helper_test_op([], lambda a: torch.nan_to_num(a, nan=1.0, posinf=9.0, neginf=-9.0), lambda a: vl.nan_to_num(a, nan=1.0, posinf=9.0, neginf=-9.0), inputs=[f32(np.nan, np.inf, -np.inf, 1.5)])
def test_nan_to_num_float16(): helper_test_op([], lambda a: a.nan_to_num(), lambda a: a.nan_to_num(), inputs=[np.array([np.inf, -np.inf, np.nan, 2.0], np.float16)], forward_only=True)
def test_nan_to_num_float64(): helper_test_op([], torch.nan_to_num, vl.nan_to_num, inputs=[np.array([np.inf, -np.inf, 1.0])], forward_only=True, rtol=0)
def test_nan_to_num_int(): helper_test_op([], torch.nan_to_num, vl.nan_to_num, inputs=[np.array([1, -2])], forward_only=True)
def test_heaviside(): helper_test_op([], torch.heaviside, vl.heaviside, inputs=[f32(-1.5, 0.0, 2.0, np.nan, -0.0), f32(0.5)], forward_only=True)
def test_heaviside_int(): helper_test_op([], torch.heaviside, vl.heaviside, inputs=[np.array([-3, 0, 4]), np.array([7, 8, 9])], forward_only=True)
def test_sgn(): helper_test_op([], lambda a: torch.sgn(a) * a, lambda a: vl.sgn(a) * a, inputs=[f32(-2.0, 0.0, 3.5)])
def test_sgn_int_bool(): helper_test_op([], lambda a, b: (torch.sgn(a), torch.sgn(b))[1].long() + torch.sgn(a), lambda a, b: (vl.sgn(a), vl.sgn(b))[1].long() + vl.sgn(a), inputs=[np.array([-2, 0, 3]), np.array([True, False, True])], forward_only=True)
def test_math_methods(): helper_test_op([(3, 4), (3, 4)], lambda a, b: a.exp2() + a.logaddexp(b) + a.frac() + a.sgn() + a.nan_to_num() + a.logaddexp2(b) + a.deg2rad() + a.arctan2(b))


def test_inplace_variants():
    x = vl.tensor([0.25, 0.5], device=dev())
    t = torch.tensor([0.25, 0.5])
    for name in ("tan_", "asin_", "sinh_", "atan_", "frac_", "exp2_"):
        getattr(x, name)()
        getattr(t, name)()
    np.testing.assert_allclose(x.cpu().numpy(), t.numpy(), rtol=1e-5)
    y = vl.tensor([5.0, -5.0], device=dev())
    assert y.fmod_(3.0) is y
    np.testing.assert_allclose(y.cpu().numpy(), [2.0, -2.0])


def test_inplace_records_gradient():
    def fn(lib):
        a = lib.tensor([0.3, -0.2], requires_grad=True)
        b = a * 1
        b.tan_()
        c = b * 2
        c.exp2_()
        (c.sum() + b.sum()).backward()
        return a.grad

    np.testing.assert_allclose(fn(vl).numpy(), fn(torch).numpy(), rtol=1e-5)


def test_floor_divide_has_no_derivative():
    a = vl.tensor([1.5, 2.5], requires_grad=True)
    out = vl.floor_divide(a, 2.0)
    assert out.requires_grad
    with pytest.raises(RuntimeError, match="derivative for 'floor_divide' is not implemented"):
        out.sum().backward()


def test_heaviside_has_no_derivative():
    a = vl.tensor([1.5, 0.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="derivative for 'heaviside'"):
        vl.heaviside(a, vl.tensor([0.5])).sum().backward()


def test_binary_errors():
    with pytest.raises(RuntimeError, match="same dtype|dtype"):
        vl.heaviside(vl.tensor([1.0, 0.0]), vl.tensor([2]))
    with pytest.raises(RuntimeError, match="division by zero"):
        vl.fmod(vl.tensor([5]), 0)
    with pytest.raises(RuntimeError, match="division by zero"):
        vl.floor_divide(vl.tensor([5]), vl.tensor([0]))
    with pytest.raises(RuntimeError, match="atan2.*size"):
        vl.atan2(vl.ones(3), vl.ones(4))


# -------------------------------------------------------------------------------- shape and linalg
def test_meshgrid_ij(): helper_test_op([(3,), (4,)], lambda a, b: torch.stack(torch.meshgrid(a, b, indexing="ij")), lambda a, b: vl.stack(vl.meshgrid(a, b, indexing="ij")))
def test_meshgrid_xy(): helper_test_op([(3,), (4,), (2,)], lambda a, b, c: torch.stack(torch.meshgrid(a, b, c, indexing="xy")) * torch.arange(3.0).reshape(3, 1, 1, 1), lambda a, b, c: vl.stack(vl.meshgrid(a, b, c, indexing="xy")) * vl.arange(3.0, device=a.device).reshape(3, 1, 1, 1))
def test_meshgrid_list_and_0d(): helper_test_op([(3,), ()], lambda a, b: torch.stack(torch.meshgrid([a, b], indexing="ij")), lambda a, b: vl.stack(vl.meshgrid([a, b], indexing="ij")))
def test_meshgrid_default_ij(): helper_test_op([(2,), (3,)], lambda a, b: torch.meshgrid(a, b, indexing="ij")[1], lambda a, b: vl.meshgrid(a, b)[1])
def test_meshgrid_single_xy(): helper_test_op([(3,)], lambda a: torch.meshgrid(a, indexing="xy")[0], lambda a: vl.meshgrid(a, indexing="xy")[0])
def test_cartesian_prod(): helper_test_op([(3,), (2,), (2,)], torch.cartesian_prod, vl.cartesian_prod)
def test_cartesian_prod_one(): helper_test_op([(3,)], torch.cartesian_prod, vl.cartesian_prod)
def test_diag_1d(): helper_test_op([(4,)], torch.diag, vl.diag)
def test_diag_1d_offset(): helper_test_op([(3,)], lambda a: torch.diag(a, 2) + torch.diag(a, -2), lambda a: vl.diag(a, 2) + vl.diag(a, -2))
def test_diag_2d(): helper_test_op([(3, 5)], lambda a: torch.cat([a.diag(), a.diag(2), a.diag(-1)]), lambda a: vl.cat([a.diag(), a.diag(2), a.diag(-1)]))
def test_diag_int(): helper_test_op([], torch.diag, vl.diag, inputs=[np.array([1, -2, 3])], forward_only=True)
def test_diag_nan_off_diagonal_zero(): helper_test_op([], torch.diag, vl.diag, inputs=[f32(np.nan, np.inf)], forward_only=True)
def test_diag_embed(): helper_test_op([(2, 3)], torch.diag_embed, vl.diag_embed)
def test_diag_embed_dims(): helper_test_op([(2, 3)], lambda a: torch.diag_embed(a, offset=-1, dim1=0, dim2=2), lambda a: vl.diag_embed(a, offset=-1, dim1=0, dim2=2))
def test_diag_embed_swapped(): helper_test_op([(2, 3)], lambda a: torch.diag_embed(a, offset=1, dim1=-1, dim2=0), lambda a: a.diag_embed(offset=1, dim1=-1, dim2=0))
def test_rot90(): helper_test_op([(2, 3)], torch.rot90, vl.rot90)
@pytest.mark.parametrize("k", [-3, -1, 0, 2, 3, 5])
def test_rot90_k(k): helper_test_op([(2, 3, 4)], lambda a: torch.rot90(a, k, [0, 2]), lambda a: vl.rot90(a, k, [0, 2]))
def test_rot90_dims_reversed(): helper_test_op([(2, 3)], lambda a: a.rot90(1, [1, 0]), lambda a: a.rot90(1, [1, 0]))
def test_diff(): helper_test_op([(3, 5)], torch.diff, vl.diff)
def test_diff_n_dim(): helper_test_op([(4, 5)], lambda a: torch.diff(a, n=2, dim=0), lambda a: a.diff(n=2, dim=0))
def test_diff_prepend_append(): helper_test_op([(3, 4), (3, 1), (3, 2)], lambda a, b, c: torch.diff(a, prepend=b, append=c), lambda a, b, c: vl.diff(a, prepend=b, append=c))
def test_diff_too_many(): helper_test_op([(2,)], lambda a: torch.diff(a, n=3), lambda a: vl.diff(a, n=3))
def test_diff_bool(): helper_test_op([], torch.diff, vl.diff, inputs=[np.array([True, False, False, True])], forward_only=True)
def test_diff_int(): helper_test_op([], lambda a: torch.diff(a, n=2), lambda a: vl.diff(a, n=2), inputs=[np.array([1, 4, 9, 16])], forward_only=True)
def test_kron(): helper_test_op([(2, 3), (3, 2)], torch.kron, vl.kron)
def test_kron_mixed_rank(): helper_test_op([(2,), (2, 3)], torch.kron, vl.kron)
def test_kron_int(): helper_test_op([], torch.kron, vl.kron, inputs=[np.array([1, 2]), np.array([[1, 10], [100, 1000]])], forward_only=True)
def test_trace(): helper_test_op([(3, 4)], torch.trace, vl.trace)
def test_trace_int(): helper_test_op([], torch.trace, vl.trace, inputs=[np.arange(6, dtype=np.int32).reshape(2, 3)], forward_only=True)
def test_tensordot(): helper_test_op([(2, 3, 4), (3, 4, 5)], torch.tensordot, vl.tensordot)
def test_tensordot_lists(): helper_test_op([(2, 3, 4), (4, 3, 5)], lambda a, b: torch.tensordot(a, b, dims=([1, 2], [1, 0])), lambda a, b: vl.tensordot(a, b, dims=([1, 2], [1, 0])))
def test_tensordot_outer(): helper_test_op([(2, 3), (4,)], lambda a, b: torch.tensordot(a, b, dims=0), lambda a, b: vl.tensordot(a, b, dims=0))
def test_tensordot_tensor_dims(): helper_test_op([(2, 3, 4), (4, 3)], lambda a, b: torch.tensordot(a, b, dims=torch.tensor([[2], [0]])), lambda a, b: vl.tensordot(a, b, dims=vl.tensor([[2], [0]])))
def test_take(): helper_test_op([(3, 4)], lambda a: torch.take(a, torch.tensor([[0, -1], [5, 5]])), lambda a: vl.take(a, vl.tensor([[0, -1], [5, 5]], device=a.device)))
def test_take_method(): helper_test_op([(2, 3)], lambda a: a.take(torch.tensor(4)), lambda a: a.take(vl.tensor(4, device=a.device)))


def test_shape_errors():
    with pytest.raises(RuntimeError, match="indexing must be one of"):
        vl.meshgrid(vl.ones(2), indexing="ab")
    with pytest.raises(RuntimeError, match="same dtype"):
        vl.meshgrid(vl.ones(2), vl.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="1D or 2D"):
        vl.diag(vl.ones(2, 2, 2))
    with pytest.raises(RuntimeError, match="dims to be different"):
        vl.rot90(vl.ones(2, 2), 1, [0, 0])
    with pytest.raises(RuntimeError, match="total dims >= 2"):
        vl.rot90(vl.ones(3))
    with pytest.raises(RuntimeError, match="same dimension as input"):
        vl.diff(vl.ones(2, 3), prepend=vl.zeros(3))
    with pytest.raises(RuntimeError, match="expected a matrix"):
        vl.trace(vl.ones(3))
    with pytest.raises(RuntimeError, match="contracted dimensions need to match"):
        vl.tensordot(vl.ones(2, 3), vl.ones(4, 5), dims=1)
    with pytest.raises(IndexError, match="out of range"):
        vl.take(vl.ones(2, 3), vl.tensor([6]))


# ------------------------------------------------------------------------------------------- cdist
@pytest.mark.parametrize("p", [2.0, 1.0, 0.5, 1.5, 3.0, math.inf])
def test_cdist(p): helper_test_op([(4, 3), (5, 3)], lambda a, b: torch.cdist(a, b, p=p), lambda a, b: vl.cdist(a, b, p=p))
def test_cdist_p0(): helper_test_op([], lambda a, b: torch.cdist(a, b, p=0), lambda a, b: vl.cdist(a, b, p=0), inputs=[f32([1, 2], [3, 3]), f32([1, 0], [3, 3], [0, 0])])
def test_cdist_batched_broadcast(): helper_test_op([(2, 1, 4, 3), (3, 5, 3)], torch.cdist, vl.cdist)
def test_cdist_mm_path(): helper_test_op([(30, 4), (27, 4)], torch.cdist, vl.cdist, atol=1e-4, grad_atol=1e-3)
def test_cdist_mm_forced(): helper_test_op([(3, 4), (2, 4)], lambda a, b: torch.cdist(a, b, compute_mode="use_mm_for_euclid_dist"), lambda a, b: vl.cdist(a, b, compute_mode="use_mm_for_euclid_dist"), atol=1e-4, grad_atol=1e-3)
def test_cdist_mm_disabled(): helper_test_op([(30, 4), (2, 4)], lambda a, b: torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist"), lambda a, b: vl.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist"))
@pytest.mark.parametrize("p", [2.0, 1.0, 0.5, 3.0, math.inf])
def test_cdist_zero_distance_kink(p): helper_test_op([], lambda a, b: torch.cdist(a, b, p=p), lambda a, b: vl.cdist(a, b, p=p), inputs=[f32([0, 1, 2], [1, 1, 1]), f32([0, 1, 2], [1, 0, 3])])
def test_cdist_inf_ties(): helper_test_op([], lambda a, b: torch.cdist(a, b, p=math.inf), lambda a, b: vl.cdist(a, b, p=math.inf), inputs=[f32([0, 1, 2]), f32([1, 0, 3])])
def test_cdist_float64(): helper_test_op([(3, 2), (4, 2)], torch.cdist, vl.cdist, dtype=np.float64, atol=1e-12)


def test_cdist_errors():
    with pytest.raises(RuntimeError, match="same number of columns"):
        vl.cdist(vl.ones(3, 2), vl.ones(3, 3))
    with pytest.raises(RuntimeError, match="floating-point"):
        vl.cdist(vl.ones(3, 2).long(), vl.ones(3, 2).long())
    with pytest.raises(RuntimeError, match="non-negative p"):
        vl.cdist(vl.ones(3, 2), vl.ones(3, 2), p=-1)
    with pytest.raises(ValueError, match="compute_mode"):
        vl.cdist(vl.ones(3, 2), vl.ones(3, 2), compute_mode="fast")


# ------------------------------------------------------------------------------------ order stats
def test_median_all(): helper_test_op([(3, 5)], torch.median, vl.median)
def test_median_all_even(): helper_test_op([(4,)], torch.median, vl.median)
def test_median_all_ties_share_gradient(): helper_test_op([], torch.median, vl.median, inputs=[f32(3.0, 2.0, 1.0, 2.0, 5.0)])
def test_median_all_nan(): helper_test_op([], torch.median, vl.median, inputs=[f32(1.0, np.nan, 2.0)], forward_only=True)
def test_median_int(): helper_test_op([], torch.median, vl.median, inputs=[np.array([3, 1, 2, 5])], forward_only=True)
def test_median_dim(): helper_test_op([(3, 5)], lambda a: torch.median(a, 1)[0], lambda a: vl.median(a, 1)[0])
def test_median_dim_keepdim(): helper_test_op([(4, 3)], lambda a: a.median(0, keepdim=True).values, lambda a: a.median(0, keepdim=True).values)
def test_nanmedian(): helper_test_op([], torch.nanmedian, vl.nanmedian, inputs=[f32(1.0, np.nan, 3.0, 2.0, np.nan)])
def test_nanmedian_dim(): helper_test_op([], lambda a: torch.nanmedian(a, 1)[0], lambda a: vl.nanmedian(a, 1)[0], inputs=[np.array([[1, np.nan, 3, 2], [np.nan, 5, 6, np.nan], [4, 1, 2, 3]], np.float32)])
def test_nanmedian_all_nan_row(): helper_test_op([], lambda a: torch.nanmedian(a, 1)[0], lambda a: vl.nanmedian(a, 1)[0], inputs=[np.array([[1, np.nan, 3], [np.nan] * 3], np.float32)], forward_only=True)
@pytest.mark.parametrize("q", [0.0, 0.3, 0.5, 0.75, 1.0])
def test_quantile(q): helper_test_op([(3, 7)], lambda a: torch.quantile(a, q), lambda a: vl.quantile(a, q))
def test_quantile_dim(): helper_test_op([(3, 7)], lambda a: torch.quantile(a, 0.4, dim=1), lambda a: vl.quantile(a, 0.4, dim=1))
def test_quantile_tensor_q(): helper_test_op([(4, 5)], lambda a: torch.quantile(a, torch.tensor([0.1, 0.5, 0.9]), dim=0, keepdim=True), lambda a: vl.quantile(a, vl.tensor([0.1, 0.5, 0.9], device=a.device), dim=0, keepdim=True))
def test_quantile_q_gradient(): helper_test_op([(6,), (2,)], lambda a, q: torch.quantile(a, q.sigmoid()), lambda a, q: vl.quantile(a, q.sigmoid()))
def test_quantile_0d(): helper_test_op([()], lambda a: torch.quantile(a, 0.5, dim=0, keepdim=True) + a.quantile(0.3), lambda a: vl.quantile(a, 0.5, dim=0, keepdim=True) + a.quantile(0.3))
def test_quantile_keepdim_no_dim(): helper_test_op([(3, 4)], lambda a: a.quantile(0.25, keepdim=True), lambda a: a.quantile(0.25, keepdim=True))
@pytest.mark.parametrize("how", ["lower", "higher", "midpoint", "nearest"])
def test_quantile_interpolation(how): helper_test_op([(2, 6)], lambda a: torch.quantile(a, torch.tensor([0.2, 0.5, 0.7]), dim=1, interpolation=how), lambda a: vl.quantile(a, vl.tensor([0.2, 0.5, 0.7], device=a.device), dim=1, interpolation=how))
def test_quantile_nan(): helper_test_op([], lambda a: torch.quantile(a, 0.5, dim=1), lambda a: vl.quantile(a, 0.5, dim=1), inputs=[np.array([[1, 7, 3], [4, np.nan, 2]], np.float32)], forward_only=True)
def test_nanquantile(): helper_test_op([], lambda a: torch.nanquantile(a, 0.3, dim=1), lambda a: vl.nanquantile(a, 0.3, dim=1), inputs=[np.array([[1, 7, 3, 0], [4, np.nan, 2, np.nan], [np.nan] * 4], np.float32)], forward_only=True)
def test_kthvalue(): helper_test_op([(3, 6)], lambda a: torch.kthvalue(a, 2)[0], lambda a: vl.kthvalue(a, 2)[0])
def test_kthvalue_dim_keepdim(): helper_test_op([(5, 3)], lambda a: a.kthvalue(5, 0, keepdim=True)[0], lambda a: a.kthvalue(5, 0, keepdim=True)[0])
def test_mode(): helper_test_op([], lambda a: torch.mode(a, 1)[0], lambda a: vl.mode(a, 1)[0], inputs=[f32([1, 2, 2, 3], [5, 5, 1, 1], [4, 3, 2, 1])])
def test_cummax(): helper_test_op([(3, 6)], lambda a: torch.cummax(a, 1)[0], lambda a: vl.cummax(a, 1)[0])
def test_cummin(): helper_test_op([(6, 3)], lambda a: a.cummin(0)[0], lambda a: a.cummin(0)[0])
def test_cummax_ties_kink(): helper_test_op([], lambda a: torch.cummax(a, 0)[0], lambda a: vl.cummax(a, 0)[0], inputs=[f32(1.0, 3.0, 3.0, 2.0, 3.0, 0.5)])


def _index_pair(fn_t, fn_v, x):
    t = fn_t(torch.tensor(x))
    v = fn_v(vl.tensor(x, device=dev()))
    assert isinstance(v, tuple) and v.values is v[0] and v.indices is v[1]
    assert_same(v.values, t.values)
    assert_same(v.indices, t.indices)


def test_median_indices():
    x = np.array([[1.0, 7.0, 3.0], [4.0, np.nan, 2.0], [0.5, 0.25, 9.0]], np.float32)
    _index_pair(lambda t: t.median(1), lambda v: v.median(1), x)
    _index_pair(lambda t: t.median(0, keepdim=True), lambda v: v.median(0, keepdim=True), x)
    _index_pair(lambda t: t.nanmedian(1), lambda v: v.nanmedian(1), x)
    _index_pair(lambda t: t.median(0), lambda v: v.median(0), np.array(3.0, np.float32))


def test_kthvalue_mode_indices():
    x = np.array([[1, 2, 2, 3], [5, 5, 1, 1], [4, 3, 2, 1]], np.int64)
    _index_pair(lambda t: t.mode(1), lambda v: v.mode(1), x)
    _index_pair(lambda t: t.mode(0), lambda v: v.mode(0), x)
    _index_pair(lambda t: t.kthvalue(3, 1), lambda v: v.kthvalue(3, 1), x.astype(np.float32) + np.arange(4) * 0.1)


def test_cummax_cummin_indices():
    x = np.array([[1, 3, 3, 2, np.nan, 5, np.nan, 1], [3, 1, 2, 1, 1, 0, 4, 0]], np.float32)
    _index_pair(lambda t: t.cummax(1), lambda v: v.cummax(1), x)
    _index_pair(lambda t: t.cummin(1), lambda v: v.cummin(1), x)
    _index_pair(lambda t: t.cummax(0), lambda v: v.cummax(0), np.array([[3, 1], [1, 1], [3, 0]], np.int64))
    _index_pair(lambda t: torch.cummin(t, 0), lambda v: vl.cummin(v, 0), np.array(2.0, np.float32))


def test_doubling_scan_matches_accumulate():
    """The GPU path of cummax (a log-step scan) run on numpy arrays against numpy's accumulate."""
    from visionlite.core.ops.order_stats import _doubling_scan

    x = np.random.default_rng(0).normal(size=(5, 13)).astype(np.float32)
    x[2, 4] = np.nan
    for axis in (0, 1):
        for fn in ("maximum", "minimum"):
            np.testing.assert_array_equal(_doubling_scan(x, axis, fn), getattr(np, fn).accumulate(x, axis=axis))


def test_searchsorted():
    seq = torch.tensor([1.0, 3.0, 3.0, 5.0])
    vals = torch.tensor([[3.0, 0.0], [6.0, 1.0]])
    vs, vv = vl.tensor(seq.numpy(), device=dev()), vl.tensor(vals.numpy(), device=dev())
    assert_same(vl.searchsorted(vs, vv), torch.searchsorted(seq, vals))
    assert_same(vl.searchsorted(vs, vv, right=True), torch.searchsorted(seq, vals, right=True))
    assert_same(vl.searchsorted(vs, vv, side="right", out_int32=True), torch.searchsorted(seq, vals, side="right", out_int32=True))
    assert_same(vl.searchsorted(vs, 3.0), torch.searchsorted(seq, 3.0))
    order = torch.tensor([2, 0, 3, 1])
    assert_same(vl.searchsorted(vl.tensor([3.0, 1.0, 5.0, 3.0]), vl.tensor([2.0, 4.0]), sorter=vl.tensor(order.numpy())),
                torch.searchsorted(torch.tensor([3.0, 1.0, 5.0, 3.0]), torch.tensor([2.0, 4.0]), sorter=order))


def test_searchsorted_batched():
    seq = torch.tensor([[1, 3, 5], [2, 4, 6]])
    vals = torch.tensor([[2, 5, 0, 5], [3, 2, 9, 6]])
    for right in (False, True):
        assert_same(vl.searchsorted(vl.tensor(seq.numpy()), vl.tensor(vals.numpy()), right=right), torch.searchsorted(seq, vals, right=right))
    with pytest.raises(RuntimeError, match="first N-1 dimensions"):
        vl.searchsorted(vl.tensor(seq.numpy()), vl.tensor([[1, 2]] * 3))
    with pytest.raises(RuntimeError, match="can't be set to opposites"):
        vl.searchsorted(vl.tensor([1, 2]), vl.tensor([1]), right=True, side="left")


def test_bucketize():
    b = torch.tensor([1, 3, 5, 7])
    x = torch.tensor([[3, 6], [1, 9], [0, 7]])
    for right in (False, True):
        assert_same(vl.bucketize(vl.tensor(x.numpy()), vl.tensor(b.numpy()), right=right), torch.bucketize(x, b, right=right))
    assert_same(vl.bucketize(3, vl.tensor(b.numpy())), torch.bucketize(3, b))
    assert_same(vl.bucketize(vl.tensor([2.5]), vl.tensor(b.numpy()), out_int32=True), torch.bucketize(torch.tensor([2.5]), b, out_int32=True))
    with pytest.raises(RuntimeError, match="1 dimension"):
        vl.bucketize(vl.tensor([1]), vl.tensor([[1, 2]]))


@pytest.mark.parametrize("args", [(), (4, 0, 3), (10, -1.0, 1.0), (7, 0.5, 0.5)])
def test_histc(args):
    x = np.random.default_rng(0).normal(size=200).astype(np.float32)
    x[:4] = [-1.0, 1.0, 0.0, 3.0]  # bin edges and range ends
    assert_same(vl.histc(vl.tensor(x, device=dev()), *args), torch.histc(torch.tensor(x), *args))


def test_histc_edge_cases():
    assert_same(vl.histc(vl.tensor([2.0, 2.0]), bins=3), torch.histc(torch.tensor([2.0, 2.0]), bins=3))
    assert_same(vl.histc(vl.tensor([0.0, 1.0, 2.0, 3.0], dtype=vl.float64), bins=3), torch.histc(torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64), bins=3))
    with pytest.raises(RuntimeError, match="max must be larger than min"):
        vl.histc(vl.tensor([1.0]), bins=3, min=3, max=1)
    with pytest.raises(RuntimeError, match="floating-point"):
        vl.histc(vl.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="not finite"):
        vl.histc(vl.tensor([1.0, np.inf]))


def test_unique_function():
    x = np.array([[3, 1, 3], [2, 1, 1]])
    t, v = torch.unique(torch.tensor(x), return_inverse=True, return_counts=True), vl.unique(vl.tensor(x, device=dev()), return_inverse=True, return_counts=True)
    for a, b in zip(v, t):
        assert_same(a, b)
    assert_same(vl.unique(vl.tensor(x), dim=0), torch.unique(torch.tensor(x), dim=0))


def test_unique_consecutive():
    x = np.array([1, 1, 2, 2, 3, 1, 1, 2])
    t = torch.unique_consecutive(torch.tensor(x), return_inverse=True, return_counts=True)
    v = vl.unique_consecutive(vl.tensor(x, device=dev()), return_inverse=True, return_counts=True)
    for a, b in zip(v, t):
        assert_same(a, b)
    m = np.array([[1, 1], [1, 1], [2, 3], [1, 1]])
    t = torch.unique_consecutive(torch.tensor(m), dim=0, return_counts=True)
    v = vl.tensor(m).unique_consecutive(dim=0, return_counts=True)
    for a, b in zip(v, t):
        assert_same(a, b)
    assert_same(vl.unique_consecutive(vl.tensor(m), dim=1), torch.unique_consecutive(torch.tensor(m), dim=1))


def test_order_stat_errors():
    with pytest.raises(RuntimeError, match=r"q values must be in the range \[0, 1\]"):
        vl.quantile(vl.ones(3), 1.5)
    with pytest.raises(RuntimeError, match="float or double"):
        vl.quantile(vl.tensor([1, 2]), 0.5)
    with pytest.raises(RuntimeError, match="same dtype"):
        vl.quantile(vl.ones(3), vl.tensor([0.5], dtype=vl.float64))
    with pytest.raises(RuntimeError, match="scalar or 1D"):
        vl.quantile(vl.ones(3), vl.tensor([[0.5]]))
    with pytest.raises(ValueError, match="interpolation"):
        vl.quantile(vl.ones(3), 0.5, interpolation="cubic")
    with pytest.raises(RuntimeError, match="out of range"):
        vl.kthvalue(vl.ones(3), 4)
    with pytest.raises(IndexError, match="non-zero size"):
        vl.median(vl.ones(2, 0), 1)


# ------------------------------------------------------------------------------------ gradchecks
GRADCHECKS = [
    ("tan", lambda a: vl.tan(a * 0.5), [(2, 3)]),
    ("asin_acos", lambda a: vl.asin(a * 0.5) * vl.acos(a * 0.4), [(2, 3)]),
    ("atan", lambda a: vl.atan(a), [(2, 3)]),
    ("sinh_cosh", lambda a: vl.sinh(a) + vl.cosh(a) * a, [(2, 3)]),
    ("asinh_acosh_atanh", lambda a: vl.asinh(a) + vl.acosh(a * a + 1.5) + vl.atanh(a * 0.5), [(2, 3)]),
    ("atan2", lambda a, b: vl.atan2(a, b), [(2, 3), (3,)]),
    ("hypot", lambda a, b: vl.hypot(a, b + 2), [(2, 3), (2, 3)]),
    ("exp2", lambda a: vl.exp2(a), [(2, 3)]),
    ("logaddexp", lambda a, b: vl.logaddexp(a, b * 3), [(2, 3), (2, 1)]),
    ("logaddexp2", lambda a, b: vl.logaddexp2(a, b), [(2, 3), (2, 3)]),
    ("frac", lambda a: vl.frac(a * 3 + 0.1), [(2, 3)]),
    ("fmod", lambda a, b: vl.fmod(a * 3, b * b + 0.7), [(2, 3), (2, 3)]),
    ("nan_to_num", lambda a: vl.nan_to_num(vl.log(a)) * a, [(2, 3)]),
    ("meshgrid", lambda a, b: vl.stack(vl.meshgrid(a, b * 2, indexing="xy")), [(3,), (2,)]),
    ("diag_diag_embed", lambda a: vl.diag(a, 1)[:3, :3] * 2 + vl.diag_embed(a.reshape(2, 2), -1).sum(0), [(4,)]),
    ("rot90_diff_trace", lambda a: a.rot90(1).diff(dim=0).sum() * a.trace(), [(3, 3)]),
    ("kron_tensordot", lambda a, b: vl.kron(a, b) + vl.tensordot(a, b, dims=0).reshape(4, 6), [(2, 3), (2, 2)]),
    ("take", lambda a: vl.take(a, vl.tensor([0, 4, 4, -1], device=a.device)), [(2, 3)]),
    ("cdist_p2", lambda a, b: vl.cdist(a, b), [(3, 2), (4, 2)]),
    ("cdist_p2_mm", lambda a, b: vl.cdist(a, b, compute_mode="use_mm_for_euclid_dist"), [(3, 2), (2, 2)]),
    ("cdist_p1_p3", lambda a, b: vl.cdist(a, b, p=1) + vl.cdist(a, b, p=3) + vl.cdist(a, b, p=0.7), [(2, 3), (3, 3)]),
    ("cdist_inf", lambda a, b: vl.cdist(a, b, p=math.inf), [(2, 3), (3, 3)]),
    ("median_all", lambda a: vl.median(a), [(3, 3)]),
    ("median_dim_kthvalue", lambda a: vl.median(a, 1)[0] + vl.kthvalue(a, 3, 1)[0], [(2, 4)]),
    ("quantile", lambda a: vl.quantile(a, vl.tensor([0.3, 0.8], dtype=vl.float64, device=a.device), dim=0), [(5, 2)]),
    ("nanquantile", lambda a: vl.nanquantile(a, 0.45), [(6,)]),
    ("cummax_cummin", lambda a: vl.cummax(a, 1)[0] * vl.cummin(a, 0)[0], [(3, 4)]),
]


@pytest.mark.parametrize("name,fn,shapes", GRADCHECKS, ids=[g[0] for g in GRADCHECKS])
def test_gradcheck(name, fn, shapes):
    rng = np.random.default_rng(3)
    gradcheck(fn, [rng.uniform(-1.5, 1.5, size=s) for s in shapes])


def test_double_backward_trig():
    for fn_t, fn_v in [(torch.tan, vl.tan), (torch.asin, vl.asin), (torch.atanh, vl.atanh), (torch.cosh, vl.cosh)]:
        t = torch.tensor([0.3, -0.4], dtype=torch.float64, requires_grad=True)
        (gt,) = torch.autograd.grad(fn_t(t).sum(), t, create_graph=True)
        (ggt,) = torch.autograd.grad(gt.sum(), t)
        v = vl.tensor([0.3, -0.4], dtype=vl.float64, requires_grad=True, device=dev())
        (gv,) = vl.autograd.grad(fn_v(v).sum(), v, create_graph=True)
        (ggv,) = vl.autograd.grad(gv.sum(), v)
        np.testing.assert_allclose(ggv.cpu().numpy(), ggt.numpy(), rtol=1e-10)
