"""Each op against PyTorch (forward + backward) and a float64 finite-difference gradient check.

One line per op, in the manner of tinygrad's test_ops: ``helper_test_op(shapes, torch_fn, vl_fn)``.
"""
import numpy as np
import pytest

import visionlite as vl
from tests.helpers import op_check
from tests.helpers.op_check import gradcheck, helper_test_op
from tests.helpers.refs import require

torch = require("torch")


@pytest.fixture(autouse=True)
def _run_on(device):
    """Every op test runs on each device of the ``device`` fixture (cuda where a GPU is visible)."""
    op_check.current["device"] = device
    yield
    op_check.current["device"] = "cpu"


# ---------------------------------------------------------------------------- elementwise binary
def test_add(): helper_test_op([(3, 4), (3, 4)], lambda a, b: a + b)
def test_add_broadcast(): helper_test_op([(3, 1, 4), (5, 1)], lambda a, b: a + b)
def test_add_broadcast_left(): helper_test_op([(1,), (2, 3)], lambda a, b: a + b)
def test_add_scalar(): helper_test_op([(3, 4)], lambda a: a + 2.5)
def test_radd_scalar(): helper_test_op([(3, 4)], lambda a: 2 + a)
def test_add_alpha(): helper_test_op([(3,), (3,)], lambda a, b: torch.add(a, b, alpha=2), lambda a, b: vl.add(a, b, alpha=2))
def test_sub(): helper_test_op([(3, 4), (4,)], lambda a, b: a - b)
def test_rsub(): helper_test_op([(3, 4)], lambda a: 1 - a)
def test_mul(): helper_test_op([(2, 3), (2, 3)], lambda a, b: a * b)
def test_mul_broadcast(): helper_test_op([(4, 1), (1, 5)], lambda a, b: a * b)
def test_div(): helper_test_op([(3, 4), (3, 4)], lambda a, b: a / b, low=0.5, high=2)
def test_rdiv(): helper_test_op([(3, 4)], lambda a: 2 / a, low=0.5, high=2)
def test_pow_scalar(): helper_test_op([(3, 4)], lambda a: a ** 3)
def test_pow_frac(): helper_test_op([(3, 4)], lambda a: a ** 1.5, low=0.5, high=2)
def test_pow_tensor(): helper_test_op([(3, 4), (3, 4)], lambda a, b: a ** b, low=0.5, high=2)
def test_rpow(): helper_test_op([(3, 4)], lambda a: 2 ** a)
def test_maximum(): helper_test_op([(3, 4), (3, 4)], torch.maximum, vl.maximum)
def test_minimum(): helper_test_op([(3, 4), (4,)], torch.minimum, vl.minimum)
def test_maximum_ties(): helper_test_op([], torch.maximum, vl.maximum, inputs=[np.array([1., 2., 3.], np.float32), np.array([1., 0., 3.], np.float32)])
def test_where(): helper_test_op([(3, 4), (3, 4)], lambda a, b: torch.where(a > 0, a, b), lambda a, b: vl.where(a > 0, a, b))
def test_where_scalar(): helper_test_op([(3, 4)], lambda a: torch.where(a > 0, a, 0.0), lambda a: vl.where(a > 0, a, 0.0))
def test_clamp(): helper_test_op([(5, 5)], lambda a: a.clamp(-0.5, 0.7))
def test_clamp_min(): helper_test_op([(5, 5)], lambda a: a.clamp(min=0.1))
def test_clamp_kink(): helper_test_op([], lambda a: a.clamp(-1, 1), inputs=[np.array([-1., 0., 1., 2.], np.float32)])
def test_clamp_tensor(): helper_test_op([(4,), (4,)], lambda a, b: a.clamp(min=b), lambda a, b: a.clamp(min=b))
def test_remainder(): helper_test_op([(3, 4)], lambda a: a % 0.7, forward_only=True)
def test_floordiv(): helper_test_op([(3, 4)], lambda a: a // 0.7, forward_only=True)


# ---------------------------------------------------------------------------- elementwise unary
def test_neg(): helper_test_op([(3, 4)], lambda a: -a)
def test_abs(): helper_test_op([(3, 4)], torch.abs, vl.abs)
def test_abs_kink(): helper_test_op([], torch.abs, vl.abs, inputs=[np.array([-1., 0., 1.], np.float32)])
def test_exp(): helper_test_op([(3, 4)], torch.exp, vl.exp)
def test_expm1(): helper_test_op([(3, 4)], torch.expm1, vl.expm1)
def test_log(): helper_test_op([(3, 4)], torch.log, vl.log, low=0.1, high=3)
def test_log1p(): helper_test_op([(3, 4)], torch.log1p, vl.log1p, low=0.1, high=3)
def test_log2(): helper_test_op([(3, 4)], torch.log2, vl.log2, low=0.1, high=3)
def test_sqrt(): helper_test_op([(3, 4)], torch.sqrt, vl.sqrt, low=0.1, high=3)
def test_rsqrt(): helper_test_op([(3, 4)], torch.rsqrt, vl.rsqrt, low=0.1, high=3)
def test_sin(): helper_test_op([(3, 4)], torch.sin, vl.sin)
def test_cos(): helper_test_op([(3, 4)], torch.cos, vl.cos)
def test_tanh(): helper_test_op([(3, 4)], torch.tanh, vl.tanh)
def test_sigmoid(): helper_test_op([(3, 4)], torch.sigmoid, vl.sigmoid, low=-30, high=30)
def test_sigmoid_extremes(): helper_test_op([], torch.sigmoid, vl.sigmoid, inputs=[np.array(
    [np.nan, np.inf, -np.inf, 0.0, -0.0, -100.0, 100.0, -88.8, 88.8, -17.0, 17.0], np.float32)])
def test_sigmoid_large(): helper_test_op([(64, 4096)], torch.sigmoid, vl.sigmoid, low=-20, high=20)
def test_silu_large(): helper_test_op([(64, 4096)], torch.nn.functional.silu, vl.silu, low=-20, high=20)
def test_relu(): helper_test_op([(3, 4)], torch.relu, vl.relu)
def test_relu_kink(): helper_test_op([], torch.relu, vl.relu, inputs=[np.array([-1., 0., 1.], np.float32)])
def test_relu_nan(): helper_test_op([], torch.relu, vl.relu, inputs=[np.array([-1., np.nan, 0., 1.], np.float32)])
def test_relu_nan_create_graph():  # the recorded backward follows the same rule at NaN outputs
    x = np.array([-1., np.nan, 0., 1.], np.float32)
    xs, xt = vl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (ours,) = vl.autograd.grad(vl.relu(xs).sum(), xs, create_graph=True)
    (theirs,) = torch.autograd.grad(torch.relu(xt).sum(), xt, create_graph=True)
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
def test_relu_large(): helper_test_op([(512, 4096)], torch.relu, vl.relu)  # split across the threads
def test_relu_large_float64(): helper_test_op([(512, 4096)], torch.relu, vl.relu, dtype=np.float64)
def test_relu_strided(): helper_test_op([(256, 1024)], lambda x: torch.relu(x[:, ::2]), lambda x: vl.relu(x[:, ::2]))
def test_relu6_inplace_no_grad(): helper_test_op([(64, 4096)], lambda x: torch.nn.functional.relu6(x * 4, inplace=True),
                                                 lambda x: vl.nn.functional.relu6(x * 4, inplace=True), forward_only=True)
def test_hardtanh_inplace_no_grad(): helper_test_op([(8, 64)], lambda x: torch.nn.functional.hardtanh_(x * 1, -0.5, 0.7),
                                                    lambda x: vl.nn.functional.hardtanh_(x * 1, -0.5, 0.7),
                                                    forward_only=True)
def test_hardtanh_inplace_bounds_checked():
    with pytest.raises(ValueError, match="min_val"):
        vl.nn.functional.hardtanh_(vl.ones(3), 1.0, -1.0)
def test_relu_inplace_no_grad(): helper_test_op([(64, 4096)], lambda x: torch.nn.functional.relu_(x * 1),
                                                lambda x: vl.nn.functional.relu_(x * 1), forward_only=True)
def test_gelu(): helper_test_op([(3, 4)], torch.nn.functional.gelu, vl.gelu)
def test_gelu_tanh(): helper_test_op([(3, 4)], lambda a: torch.nn.functional.gelu(a, approximate="tanh"), lambda a: vl.gelu(a, approximate="tanh"))
def test_silu(): helper_test_op([(3, 4)], torch.nn.functional.silu, vl.silu)
def test_erf(): helper_test_op([(3, 4)], torch.erf, vl.erf, low=-4, high=4)
def test_floor(): helper_test_op([(3, 4)], torch.floor, vl.floor)
def test_round(): helper_test_op([], torch.round, vl.round, inputs=[np.array([0.5, 1.5, 2.5, -0.5, 1.2], np.float32)])
def test_sign(): helper_test_op([(3, 4)], torch.sign, vl.sign)
def test_reciprocal(): helper_test_op([(3, 4)], torch.reciprocal, vl.reciprocal, low=0.5, high=2)
def test_scalar_input(): helper_test_op([()], lambda a: (a * 3).exp())


# ---------------------------------------------------------------------------------- reductions
def test_sum(): helper_test_op([(3, 4, 5)], lambda a: a.sum())
def test_sum_dim(): helper_test_op([(3, 4, 5)], lambda a: a.sum(1))
def test_sum_dims_keepdim(): helper_test_op([(3, 4, 5)], lambda a: a.sum((0, 2), keepdim=True))
def test_sum_neg_dim(): helper_test_op([(3, 4, 5)], lambda a: a.sum(-1))
def test_sum_zero_size(): helper_test_op([(3, 0)], lambda a: a.sum(1))
def test_mean(): helper_test_op([(3, 4, 5)], lambda a: a.mean((1, 2)))
def test_var(): helper_test_op([(3, 4, 5)], lambda a: a.var(1))
def test_var_correction0(): helper_test_op([(3, 4, 5)], lambda a: a.var(1, correction=0))
def test_std(): helper_test_op([(3, 4, 5)], lambda a: a.std((0, 2), keepdim=True))
def test_max(): helper_test_op([(3, 4, 5)], lambda a: a.max())
def test_max_dim(): helper_test_op([(3, 4, 5)], lambda a: a.max(1)[0])
def test_max_dim_keepdim(): helper_test_op([(3, 4, 5)], lambda a: a.max(-1, keepdim=True).values)
def test_min_dim(): helper_test_op([(3, 4, 5)], lambda a: a.min(0)[0])
def test_max_ties(): helper_test_op([], lambda a: a.max(), inputs=[np.array([1., 3., 3., 2.], np.float32)])
def test_amax(): helper_test_op([(3, 4, 5)], lambda a: a.amax((0, 2)))
def test_amin_ties(): helper_test_op([], lambda a: a.amin(1), inputs=[np.array([[1., 1., 2.], [0., 3., 0.]], np.float32)])
def test_argmax(): helper_test_op([(3, 4, 5)], lambda a: a.argmax(1), forward_only=True)
def test_argmin_flat(): helper_test_op([(3, 4, 5)], lambda a: a.argmin(), forward_only=True)
def test_prod(): helper_test_op([(3, 4)], lambda a: a.prod(1))
def test_prod_all(): helper_test_op([(2, 3)], lambda a: a.prod())
def test_prod_with_zero(): helper_test_op([], lambda a: a.prod(1), inputs=[np.array([[1., 0., 2.], [0., 0., 3.]], np.float32)])
def test_cumsum(): helper_test_op([(3, 4)], lambda a: a.cumsum(1))
def test_cumprod(): helper_test_op([(3, 4)], lambda a: a.cumprod(0), low=0.5, high=2)
def test_logsumexp(): helper_test_op([(3, 4)], lambda a: a.logsumexp(1), low=-50, high=50)
def test_softmax(): helper_test_op([(3, 4)], lambda a: a.softmax(-1), low=-30, high=30)
def test_log_softmax(): helper_test_op([(3, 4, 2)], lambda a: a.log_softmax(1))
def test_norm(): helper_test_op([(3, 4)], lambda a: a.norm())
def test_norm_dim(): helper_test_op([(3, 4)], lambda a: a.norm(dim=1))
def test_norm_p1(): helper_test_op([(3, 4)], lambda a: a.norm(p=1, dim=0))
def test_norm_p3(): helper_test_op([(3, 4)], lambda a: a.norm(p=3))
def test_norm_zero(): helper_test_op([], lambda a: a.norm(dim=1), inputs=[np.zeros((2, 3), np.float32)])


# -------------------------------------------------------------------------------------- matmul
def test_matmul(): helper_test_op([(3, 4), (4, 5)], lambda a, b: a @ b)
def test_matmul_batched_broadcast(): helper_test_op([(2, 1, 3, 4), (5, 4, 2)], lambda a, b: a @ b)
def test_matmul_vec_mat(): helper_test_op([(4,), (4, 5)], lambda a, b: a @ b)
def test_matmul_mat_vec(): helper_test_op([(2, 3, 4), (4,)], lambda a, b: a @ b)
def test_matmul_vec_vec(): helper_test_op([(4,), (4,)], lambda a, b: a @ b)
def test_bmm(): helper_test_op([(2, 3, 4), (2, 4, 5)], torch.bmm, vl.bmm)
def test_einsum(): helper_test_op([(2, 3), (3, 4)], lambda a, b: torch.einsum("ij,jk->ik", a, b), lambda a, b: vl.einsum("ij,jk->ik", a, b))
def test_einsum_batch(): helper_test_op([(2, 3, 4), (2, 4)], lambda a, b: torch.einsum("bij,bj->bi", a, b), lambda a, b: vl.einsum("bij,bj->bi", a, b))


# ----------------------------------------------------------------------------------- movement
def test_reshape(): helper_test_op([(3, 4)], lambda a: a.reshape(2, 6))
def test_reshape_infer(): helper_test_op([(3, 4)], lambda a: a.reshape(-1, 2))
def test_view(): helper_test_op([(3, 4)], lambda a: a.view(12))
def test_flatten(): helper_test_op([(2, 3, 4)], lambda a: a.flatten(1))
def test_unflatten(): helper_test_op([(2, 12)], lambda a: a.unflatten(1, (3, 4)))
def test_permute(): helper_test_op([(2, 3, 4)], lambda a: a.permute(2, 0, 1))
def test_transpose(): helper_test_op([(2, 3, 4)], lambda a: a.transpose(0, -1))
def test_t(): helper_test_op([(2, 3)], lambda a: a.t())
def test_squeeze(): helper_test_op([(2, 1, 3, 1)], lambda a: a.squeeze())
def test_squeeze_dim(): helper_test_op([(2, 1, 3, 1)], lambda a: a.squeeze(1))
def test_unsqueeze(): helper_test_op([(2, 3)], lambda a: a.unsqueeze(-1))
def test_expand(): helper_test_op([(3, 1)], lambda a: a.expand(2, 3, 4))
def test_repeat(): helper_test_op([(2, 3)], lambda a: a.repeat(2, 1, 3))
def test_cat(): helper_test_op([(2, 3), (4, 3)], lambda a, b: torch.cat([a, b]), lambda a, b: vl.cat([a, b]))
def test_cat_dim1(): helper_test_op([(2, 3), (2, 1)], lambda a, b: torch.cat([a, b], 1), lambda a, b: vl.cat([a, b], 1))
def test_stack(): helper_test_op([(2, 3), (2, 3)], lambda a, b: torch.stack([a, b], 1), lambda a, b: vl.stack([a, b], 1))
def test_split(): helper_test_op([(5, 3)], lambda a: a.split(2)[2] * 2 + a.split(2)[0].sum())
def test_split_sizes(): helper_test_op([(5, 3)], lambda a: a.split([1, 4])[1])
def test_chunk(): helper_test_op([(6, 3)], lambda a: a.chunk(3)[1])
def test_flip(): helper_test_op([(3, 4)], lambda a: a.flip(0, 1))
def test_roll(): helper_test_op([(3, 4)], lambda a: a.roll(1, 1))
def test_roll_flat(): helper_test_op([(3, 4)], lambda a: a.roll(5))
def test_narrow(): helper_test_op([(5, 4)], lambda a: a.narrow(0, 1, 3))
def test_pad_constant(): helper_test_op([(2, 3, 4)], lambda a: torch.nn.functional.pad(a, (1, 2, 0, 1), value=0.5), lambda a: vl.pad(a, (1, 2, 0, 1), value=0.5))
def test_pad_reflect(): helper_test_op([(1, 2, 4, 5)], lambda a: torch.nn.functional.pad(a, (2, 1, 1, 3), mode="reflect"), lambda a: vl.pad(a, (2, 1, 1, 3), mode="reflect"))
def test_pad_replicate(): helper_test_op([(1, 2, 4, 5)], lambda a: torch.nn.functional.pad(a, (2, 1, 1, 3), mode="replicate"), lambda a: vl.pad(a, (2, 1, 1, 3), mode="replicate"))
def test_pad_circular(): helper_test_op([(1, 2, 4, 5)], lambda a: torch.nn.functional.pad(a, (2, 1, 1, 3), mode="circular"), lambda a: vl.pad(a, (2, 1, 1, 3), mode="circular"))
def test_pad_negative(): helper_test_op([(2, 6)], lambda a: torch.nn.functional.pad(a, (-1, 2)), lambda a: vl.pad(a, (-1, 2)))
def test_noncontiguous_input(): helper_test_op([(4, 3)], lambda a: (a.t() * 2).reshape(-1))


# ----------------------------------------------------------------------------------- indexing
def test_getitem_basic(): helper_test_op([(4, 5, 6)], lambda a: a[1:3, ::2, -1])
def test_getitem_none_ellipsis(): helper_test_op([(4, 5, 6)], lambda a: a[None, ..., 2])
def test_getitem_advanced_dup(): helper_test_op([(5, 3)], lambda a: a[torch.tensor([0, 2, 2, 4])], lambda a: a[vl.tensor([0, 2, 2, 4])])
def test_getitem_mask(): helper_test_op([(4, 3)], lambda a: a[a > 0])
def test_getitem_mixed(): helper_test_op([(4, 5, 6)], lambda a: a[:, [0, 1, 1], 2:4])
def test_getitem_list(): helper_test_op([(4, 5)], lambda a: a[[0, 3], [1, 1]])
def test_gather(): helper_test_op([(3, 4)], lambda a: a.gather(1, torch.tensor([[0, 0], [1, 3], [2, 2]])), lambda a: a.gather(1, vl.tensor([[0, 0], [1, 3], [2, 2]], device=a.device)))
def test_scatter(): helper_test_op([(3, 4), (3, 2)], lambda a, b: a.scatter(1, torch.tensor([[0, 1], [1, 3], [2, 0]]), b), lambda a, b: a.scatter(1, vl.tensor([[0, 1], [1, 3], [2, 0]], device=a.device), b))
def test_scatter_add(): helper_test_op([(3, 4), (3, 2)], lambda a, b: a.scatter_add(1, torch.tensor([[0, 0], [1, 3], [2, 2]]), b), lambda a, b: a.scatter_add(1, vl.tensor([[0, 0], [1, 3], [2, 2]], device=a.device), b))
def test_index_select(): helper_test_op([(3, 4)], lambda a: a.index_select(1, torch.tensor([3, 0, 3])), lambda a: a.index_select(1, vl.tensor([3, 0, 3], device=a.device)))
def test_masked_fill(): helper_test_op([(3, 4)], lambda a: a.masked_fill(a > 0.5, -1.0))
def test_topk(): helper_test_op([(3, 6)], lambda a: a.topk(2, 1)[0])
def test_sort(): helper_test_op([(3, 6)], lambda a: a.sort(1, descending=True)[0])
def test_nonzero(): helper_test_op([(3, 4)], lambda a: (a > 0).nonzero(), forward_only=True)
def test_one_hot(): helper_test_op([], lambda a: torch.nn.functional.one_hot(a, 5), lambda a: vl.one_hot(a, 5), inputs=[np.array([0, 4, 2])], forward_only=True)
def test_tril(): helper_test_op([(4, 4)], lambda a: a.tril(-1))
def test_diagonal(): helper_test_op([(3, 4)], lambda a: a.diagonal(1))


def test_setitem_grad():
    def fn(lib):
        def f(a, b):
            c = a * 1
            c[1:3] = b
            return c * c
        return f
    helper_test_op([(4, 3), (2, 3)], fn(torch), fn(vl))


# --------------------------------------------------------------------------------- gradchecks
GRADCHECKS = [
    ("add", lambda a, b: a + b, [(2, 3), (3,)]),
    ("mul", lambda a, b: a * b, [(2, 3), (2, 1)]),
    ("div", lambda a, b: a / (b * b + 1), [(2, 3), (2, 3)]),
    ("pow", lambda a, b: (a * a + 1) ** b, [(2, 3), (2, 3)]),
    ("exp", lambda a: a.exp(), [(2, 3)]),
    ("log", lambda a: (a * a + 1).log(), [(2, 3)]),
    ("sqrt", lambda a: (a * a + 1).sqrt(), [(2, 3)]),
    ("rsqrt", lambda a: (a * a + 1).rsqrt(), [(2, 3)]),
    ("sin_cos", lambda a: a.sin() * a.cos(), [(2, 3)]),
    ("tanh", lambda a: a.tanh(), [(2, 3)]),
    ("sigmoid", lambda a: a.sigmoid(), [(2, 3)]),
    ("gelu", lambda a: vl.gelu(a), [(2, 3)]),
    ("gelu_tanh", lambda a: vl.gelu(a, approximate="tanh"), [(2, 3)]),
    ("silu", lambda a: vl.silu(a), [(2, 3)]),
    ("erf", lambda a: vl.erf(a), [(2, 3)]),
    ("log1p_expm1", lambda a: (a * a).log1p() + a.expm1(), [(2, 3)]),
    ("abs", lambda a: (a + 0.05).abs(), [(2, 3)]),
    ("maximum", lambda a, b: vl.maximum(a, b + 0.1), [(2, 3), (2, 3)]),
    ("sum_mean", lambda a: a.sum(0) * a.mean(1, keepdim=True), [(2, 3)]),
    ("var_std", lambda a: a.var(1) + a.std(0).sum(), [(3, 4)]),
    ("max_dim", lambda a: a.max(1)[0], [(3, 4)]),
    ("amax", lambda a: a.amax(0), [(3, 4)]),
    ("prod", lambda a: a.prod(1), [(3, 4)]),
    ("cumsum", lambda a: a.cumsum(1) * a, [(3, 4)]),
    ("cumprod", lambda a: (a * a + 1).cumprod(1), [(3, 4)]),
    ("logsumexp", lambda a: a.logsumexp(1), [(3, 4)]),
    ("softmax", lambda a: a.softmax(1) * a, [(3, 4)]),
    ("log_softmax", lambda a: a.log_softmax(0), [(3, 4)]),
    ("norm", lambda a: a.norm(dim=1), [(3, 4)]),
    ("matmul", lambda a, b: a @ b, [(2, 3, 4), (4, 2)]),
    ("reshape_permute", lambda a: a.reshape(3, 2, 2).permute(2, 0, 1) * 2, [(3, 4)]),
    ("expand_repeat", lambda a: a.expand(2, 3, 4).repeat(1, 2, 1), [(3, 1)]),
    ("cat_stack", lambda a, b: vl.stack([vl.cat([a, b], 0), vl.cat([b, a], 0)]), [(2, 3), (2, 3)]),
    ("flip_roll", lambda a: a.flip(0).roll(1, 1) * a, [(3, 4)]),
    ("pad_reflect", lambda a: vl.pad(a, (1, 2), mode="reflect"), [(2, 4)]),
    ("getitem", lambda a: a[vl.tensor([0, 0, 2])] * a, [(3, 4)]),
    ("gather_scatter", lambda a: a.gather(1, vl.tensor([[0, 0], [3, 1], [2, 2]], device=a.device)).sum() + a.scatter(
        1, vl.tensor([[1], [0], [3]], device=a.device), 0.0), [(3, 4)]),
    ("where", lambda a, b: vl.where(a > 0, a * b, b), [(3, 4), (3, 4)]),
    ("clamp", lambda a: a.clamp(-0.5, 0.5), [(3, 4)]),
    ("neg_sub", lambda a, b: -a - b, [(3, 4), (4,)]),
    ("relu", lambda a: (a + 0.05).relu(), [(3, 4)]),
    ("minimum_min_amin", lambda a, b: vl.minimum(a, b + 0.1) + a.min(1)[0].sum() + a.amin(0).sum(), [(3, 4), (3, 4)]),
    ("view_ops", lambda a: a.unsqueeze(0).transpose(1, 2).squeeze(0).t().view(12).unflatten(0, (2, 6)).flatten(), [(3, 4)]),
    ("split_chunk_narrow", lambda a: a.split(1)[1] * a.chunk(3)[2] + a.narrow(1, 1, 2).sum(), [(3, 4)]),
    ("index_select_masked_fill", lambda a: a.index_select(0, vl.tensor([2, 0, 2], device=a.device)).masked_fill(
        vl.tensor([True, False, True, False], device=a.device), 0.0), [(3, 4)]),
    ("setitem", lambda a, b: _setitem_fn(a, b), [(3, 4), (2, 4)]),
    ("pad_constant", lambda a: vl.pad(a, (1, 2, 2, 0), value=0.5), [(2, 3)]),
    ("std_of_constant_rows", lambda a: (a * vl.tensor([[1.0], [0.0]], device=a.device, dtype=a.dtype)).std(1), [(2, 4)]),
    ("pow_zero_exponent", lambda a: (a * 0) ** 0 + a ** 2, [(2, 3)]),
    ("remainder", lambda a, b: (a * 3) % (b * b + 1), [(2, 3), (2, 3)]),
    ("int_slice_array_index", lambda a: a[0, :, [1, 2]] * 2, [(2, 3, 4)]),
    ("zero_size", lambda a: a[:, :0].sum(1) + a.sum(), [(3, 4)]),
]


def _setitem_fn(a, b):
    c = a * 1
    c[1:] = b * 2
    c[0, [0, 2]] = b[0, :2]
    return c * c


@pytest.mark.parametrize("name,fn,shapes", GRADCHECKS, ids=[g[0] for g in GRADCHECKS])
def test_gradcheck(name, fn, shapes):
    rng = np.random.default_rng(3)
    gradcheck(fn, [rng.uniform(-1.5, 1.5, size=s) for s in shapes])
