"""3-D layers (conv3d, conv_transpose3d, max/avg/adaptive pooling 3d, InstanceNorm3d, padding 3d) against
PyTorch: forward and input/weight gradients on the same inputs, plus float64 finite-difference gradchecks."""
import numpy as np
import pytest

import visionlite as vl
from tests.helpers.nn_check import compare_modules, copy_torch_weights
from tests.helpers.op_check import gradcheck, helper_test_op
from tests.helpers.refs import require

torch = require("torch")


def F(L):
    return L.nn.functional


# (shapes, fn(L, *tensors)): each op one line.
CASES = {
    "conv3d": ([(2, 3, 5, 6, 7), (4, 3, 3, 3, 3), (4,)],
               lambda L, x, w, b: F(L).conv3d(x, w, b, padding=1)),
    "conv3d_stride": ([(1, 4, 7, 9, 8), (6, 2, 3, 2, 3)],
                      lambda L, x, w: F(L).conv3d(x, w, None, (2, 1, 2), (1, 0, 2), (1, 2, 1), groups=2)),
    "conv3d_temporal": ([(2, 4, 6, 5, 5), (3, 4, 3, 1, 1)],
                        lambda L, x, w: F(L).conv3d(x, w, stride=(2, 1, 1))),
    "conv3d_spatial": ([(2, 3, 4, 6, 6), (5, 3, 1, 3, 3)],
                       lambda L, x, w: F(L).conv3d(x, w, padding=(0, 1, 1))),
    "conv3d_one_clip_per_frame": ([(1, 3, 5, 6, 6), (4, 3, 1, 3, 3), (4,)],
                                  lambda L, x, w, b: F(L).conv3d(x, w, b, (2, 1, 1), (0, 1, 1))),
    "conv3d_pointwise": ([(2, 3, 4, 6, 6), (5, 3, 1, 1, 1)], lambda L, x, w: F(L).conv3d(x, w, stride=2)),
    "conv3d_same": ([(1, 2, 5, 6, 7), (3, 2, 2, 4, 3)], lambda L, x, w: F(L).conv3d(x, w, padding="same")),
    "conv3d_depthwise": ([(2, 4, 5, 6, 6), (4, 1, 3, 3, 3)],
                         lambda L, x, w: F(L).conv3d(x, w, padding=1, groups=4)),
    "conv3d_unbatched": ([(3, 4, 5, 5), (2, 3, 2, 2, 2)], lambda L, x, w: F(L).conv3d(x, w)),
    "conv_transpose3d": ([(2, 4, 3, 4, 5), (4, 3, 3, 3, 3), (3,)],
                         lambda L, x, w, b: F(L).conv_transpose3d(x, w, b, stride=2, padding=1)),
    "conv_transpose3d_groups": ([(1, 4, 4, 3, 3), (4, 2, 2, 3, 2)],
                                lambda L, x, w: F(L).conv_transpose3d(x, w, None, (2, 1, 2), (0, 1, 1),
                                                                      (1, 0, 1), 2, (1, 1, 1))),
    "conv_transpose3d_dilated": ([(1, 2, 3, 4, 4), (2, 3, 2, 2, 2)],
                                 lambda L, x, w: F(L).conv_transpose3d(x, w, dilation=(2, 1, 2),
                                                                       stride=(1, 2, 1))),
    "max_pool3d": ([(2, 3, 6, 7, 8)], lambda L, x: F(L).max_pool3d(x, 3, 2, 1)),
    "max_pool3d_ceil": ([(1, 2, 7, 6, 9)], lambda L, x: F(L).max_pool3d(x, (2, 3, 3), (2, 2, 2), (1, 1, 0),
                                                                          ceil_mode=True)),
    "max_pool3d_dilated": ([(1, 2, 7, 7, 7)], lambda L, x: F(L).max_pool3d(x, 2, 1, 0, dilation=(2, 1, 2))),
    "max_pool3d_s3d": ([(1, 3, 8, 9, 9)], lambda L, x: F(L).max_pool3d(x, (1, 3, 3), (1, 2, 2), (0, 1, 1))),
    "avg_pool3d": ([(2, 3, 6, 7, 8)], lambda L, x: F(L).avg_pool3d(x, 3, 2, 1)),
    "avg_pool3d_nopad": ([(1, 2, 7, 6, 9)],
                         lambda L, x: F(L).avg_pool3d(x, (2, 3, 3), (2, 2, 2), (1, 1, 0), True, False)),
    "avg_pool3d_div": ([(1, 2, 5, 6, 6)], lambda L, x: F(L).avg_pool3d(x, 2, 1, 1, divisor_override=3)),
    "lp_pool3d": ([(2, 3, 6, 7, 8)], lambda L, x: F(L).lp_pool3d(x.abs() + 0.1, 2.0, (2, 3, 2))),
    "lp_pool3d_ceil": ([(1, 2, 5, 7, 7)],
                       lambda L, x: F(L).lp_pool3d(x.abs() + 0.1, 3.0, 2, (2, 1, 2), True)),
    "max_unpool3d": ([(2, 3, 6, 7, 8)],
                     lambda L, x: F(L).max_unpool3d(*F(L).max_pool3d(x, 2, return_indices=True), 2,
                                                    output_size=(6, 7, 8))),
    "max_unpool3d_overlap": ([(1, 2, 6, 6, 6)],
                             lambda L, x: F(L).max_unpool3d(*F(L).max_pool3d(x, 3, 2, 1, return_indices=True),
                                                            3, 2, 1, output_size=(6, 6, 6))),
    "adaptive_avg_pool3d": ([(2, 3, 5, 7, 9)], lambda L, x: F(L).adaptive_avg_pool3d(x, (3, 4, 2))),
    "adaptive_avg_pool3d_1": ([(2, 3, 4, 5, 6)], lambda L, x: F(L).adaptive_avg_pool3d(x, 1)),
    "adaptive_max_pool3d": ([(2, 3, 5, 7, 9)], lambda L, x: F(L).adaptive_max_pool3d(x, (3, 4, None))),
    "instance_norm3d": ([(2, 3, 4, 5, 6)], lambda L, x: F(L).instance_norm(x)),
    "pad3d_reflect": ([(1, 2, 4, 5, 6)], lambda L, x: F(L).pad(x, (1, 2, 2, 1, 1, 2), mode="reflect")),
    "pad3d_replicate": ([(1, 2, 4, 5, 6)], lambda L, x: F(L).pad(x, (1, 2, 2, 1, 1, 2), mode="replicate")),
    "pad3d_circular": ([(1, 2, 4, 5, 6)], lambda L, x: F(L).pad(x, (1, 2, 2, 1, 1, 2), mode="circular")),
}
# Small twins of the above for float64 finite differences (every element is perturbed).
GRADCHECKS = {
    "conv3d": ([(1, 2, 3, 4, 4), (2, 2, 2, 3, 2), (2,)],
               lambda x, w, b: F(vl).conv3d(x, w, b, (2, 1, 1), (1, 1, 0), (1, 1, 2))),
    "conv3d_groups": ([(1, 4, 3, 3, 3), (2, 2, 3, 1, 2)],
                      lambda x, w: F(vl).conv3d(x, w, padding=1, groups=2)),
    "conv_transpose3d": ([(1, 2, 2, 3, 3), (2, 2, 3, 2, 2), (2,)],
                         lambda x, w, b: F(vl).conv_transpose3d(x, w, b, 2, 1, 1)),
    "max_pool3d": ([(1, 2, 4, 5, 5)], lambda x: F(vl).max_pool3d(x, 2, (1, 2, 2), 1)),
    "avg_pool3d": ([(1, 2, 4, 5, 5)], lambda x: F(vl).avg_pool3d(x, 3, 2, 1, count_include_pad=False)),
    "adaptive_avg_pool3d": ([(1, 2, 4, 5, 3)], lambda x: F(vl).adaptive_avg_pool3d(x, (3, 2, 2))),
    "adaptive_max_pool3d": ([(1, 2, 4, 5, 3)], lambda x: F(vl).adaptive_max_pool3d(x, (3, 2, 2))),
}


@pytest.mark.parametrize("name", list(CASES))
def test_against_torch(name):
    shapes, fn = CASES[name]
    helper_test_op(shapes, lambda *a: fn(torch, *a), lambda *a: fn(vl, *a), atol=1e-4, grad_atol=2e-4)


@pytest.mark.parametrize("name", [n for n in CASES if n.startswith("conv3d")] + ["conv3d_depthwise_frames"])
def test_conv3d_inference_path(name):
    # Inputs that need no gradient take the copy-free path (ClipGeometry): forward only, against PyTorch.
    shapes, fn = CASES.get(name) or ([(2, 4, 5, 6, 6), (4, 1, 1, 3, 3)],
                                     lambda L, x, w: F(L).conv3d(x, w, padding=(0, 1, 1), groups=4))
    helper_test_op(shapes, lambda *a: fn(torch, *a), lambda *a: fn(vl, *a), atol=1e-4, forward_only=True)


@pytest.mark.parametrize("name", list(GRADCHECKS))
def test_gradcheck(name):
    shapes, fn = GRADCHECKS[name]
    rng = np.random.default_rng(3)
    gradcheck(fn, [rng.uniform(-1, 1, s) for s in shapes])


def test_double_backward_through_the_temporal_unfold():
    # The temporal windows' backward is itself differentiable (fold <-> unfold); check a second derivative
    # of a pure time convolution (1x1 spatial kernel: no 2-D op in the graph) against PyTorch.
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 2, 5, 2, 2)), rng.standard_normal((3, 2, 3, 1, 1))

    def second(L, x, w):
        xt = L.tensor(x, requires_grad=True)
        y = F(L).conv_transpose3d(xt, L.tensor(w[:, :2].transpose(1, 0, 2, 3, 4).copy()), stride=2)
        (g,) = L.autograd.grad((y ** 2).sum(), xt, create_graph=True)
        (gg,) = L.autograd.grad(g.sum(), xt)
        return gg

    np.testing.assert_allclose(second(vl, x, w).numpy(), second(torch, x, w).numpy(), rtol=1e-6, atol=1e-8)


def test_max_pool3d_indices():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 7, 8)).astype(np.float32)
    for args in [(3, 2, 1), ((2, 3, 3), (2, 2, 2), (1, 1, 0), 1, True)]:
        v, i = F(vl).max_pool3d(vl.tensor(x), *args, return_indices=True)
        tv, ti = F(torch).max_pool3d(torch.tensor(x), *args, return_indices=True)
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
    v, i = F(vl).adaptive_max_pool3d(vl.tensor(x), (4, 3, 5), return_indices=True)
    tv, ti = F(torch).adaptive_max_pool3d(torch.tensor(x), (4, 3, 5), return_indices=True)
    np.testing.assert_array_equal(v.numpy(), tv.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())


def test_max_pool3d_ties_go_to_the_first_maximum():
    x = np.zeros((1, 1, 4, 4, 4), np.float32)  # all ties: PyTorch routes each window's gradient to its first
    helper_test_op([], lambda x: F(torch).max_pool3d(x, 2, 1), lambda x: F(vl).max_pool3d(x, 2, 1),
                   inputs=[x])


@pytest.mark.parametrize("make", [
    lambda L: L.nn.Conv3d(3, 4, (3, 2, 3), stride=(1, 2, 1), padding=(1, 0, 1)),
    lambda L: L.nn.Conv3d(4, 4, 3, padding=1, groups=2, bias=False, padding_mode="replicate"),
    lambda L: L.nn.Conv3d(3, 2, 3, padding="same", dilation=2),
    lambda L: L.nn.ConvTranspose3d(3, 2, 3, stride=2, padding=1, output_padding=1),
    lambda L: L.nn.MaxPool3d(3, 2, 1),
    lambda L: L.nn.AvgPool3d((1, 3, 3), 1, (0, 1, 1), count_include_pad=False),
    lambda L: L.nn.AdaptiveAvgPool3d((1, 2, None)),
    lambda L: L.nn.AdaptiveMaxPool3d(2),
    lambda L: L.nn.LPPool3d(2, (2, 3, 3), 1),
    lambda L: L.nn.InstanceNorm3d(3, affine=True),
    lambda L: L.nn.BatchNorm3d(3),
    lambda L: L.nn.ReflectionPad3d((1, 0, 2, 1, 0, 1)),
    lambda L: L.nn.ReplicationPad3d(1),
    lambda L: L.nn.CircularPad3d(1),
    lambda L: L.nn.ConstantPad3d((1, 2, 0, 1, 1, 0), 0.5),
    lambda L: L.nn.ZeroPad3d(1),
])
def test_modules(make):
    t, v = make(torch), make(vl)
    assert repr(v) == repr(t)
    if dict(t.state_dict()):
        copy_torch_weights(v, t)
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 6, 7)).astype(np.float32)
    if isinstance(t, torch.nn.Conv3d) and t.groups == 2:
        x = np.concatenate([x, x[:, :1]], 1)
    compare_modules(v, t, [x], atol=1e-4, grad_atol=2e-4)


def test_max_unpool3d_module():
    x = torch.randn(1, 2, 6, 6, 6)
    values, idx = torch.nn.MaxPool3d(2, return_indices=True)(x)
    t, v = torch.nn.MaxUnpool3d(2), vl.nn.MaxUnpool3d(2)
    assert repr(v) == repr(t)
    np.testing.assert_array_equal(v(vl.tensor(values.numpy()), vl.tensor(idx.numpy())).numpy(),
                                  t(values, idx).numpy())


def test_conv_transpose3d_output_size():
    t, v = torch.nn.ConvTranspose3d(2, 3, 3, stride=2), vl.nn.ConvTranspose3d(2, 3, 3, stride=2)
    copy_torch_weights(v, t)
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 4, 4)).astype(np.float32)
    out_t = t(torch.tensor(x), output_size=[8, 10, 9])
    out_v = v(vl.tensor(x), output_size=[8, 10, 9])
    np.testing.assert_allclose(out_v.detach().numpy(), out_t.detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("call, message", [
    (lambda: F(vl).conv3d(vl.zeros(1, 3, 4, 4, 4), vl.zeros(2, 3, 3, 3)), "weight must be 5-D"),
    (lambda: F(vl).conv3d(vl.zeros(1, 2, 4, 4, 4), vl.zeros(2, 3, 3, 3, 3)),
     "expected input with 3 channels"),
    (lambda: F(vl).conv3d(vl.zeros(1, 3, 2, 4, 4), vl.zeros(2, 3, 3, 3, 3)), "smaller than the"),
    (lambda: F(vl).conv3d(vl.zeros(3, 4, 4), vl.zeros(2, 3, 3, 3, 3)), "expected 4D"),
    (lambda: F(vl).max_pool3d(vl.zeros(1, 1, 4, 4, 4), 2, padding=2), "pad should be at most half"),
    (lambda: F(vl).conv_transpose3d(vl.zeros(1, 2, 3, 3, 3), vl.zeros(2, 2, 3, 3, 3), output_padding=1),
     "output padding must be smaller"),
])
def test_errors_name_the_problem(call, message):
    with pytest.raises((RuntimeError, ValueError), match=message):
        call()


@pytest.mark.parametrize("fn", [
    lambda L, x: F(L).conv3d(x, L.ones(2, 2, 1, 2, 2)),
    lambda L, x: F(L).conv_transpose3d(x, L.ones(2, 2, 1, 2, 2)),
    lambda L, x: F(L).max_pool3d(x, 2),
    lambda L, x: F(L).max_pool3d(x, (1, 2, 2)),
    lambda L, x: F(L).avg_pool3d(x, 2),
    lambda L, x: F(L).adaptive_avg_pool3d(x, 2),
    lambda L, x: F(L).adaptive_max_pool3d(x, 2),
])
def test_grad_fn_names_as_pytorch(fn):
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4, 4)).astype(np.float32)
    ours = fn(vl, vl.tensor(x, requires_grad=True)).grad_fn.name()
    theirs = fn(torch, torch.tensor(x, requires_grad=True)).grad_fn.name()
    assert ours == theirs


@pytest.mark.parametrize("fn", [
    lambda L, x, w: F(L).conv3d(x, w, padding=1, stride=(2, 1, 1)),
    lambda L, x, w: F(L).conv_transpose3d(x, w.transpose(0, 1), stride=(2, 1, 2), padding=1),
    lambda L, x, w: F(L).max_pool3d(x, 2, 1, 1) * w.sum(),
    lambda L, x, w: F(L).avg_pool3d(x, 3, 2, 1) * w.sum(),
    lambda L, x, w: F(L).adaptive_avg_pool3d(x, (3, 2, 4)) * w.sum(),
])
def test_double_backward_as_pytorch(fn):
    # d/dw of |d(sum y^3)/dx|^2 and d/dx of it: second derivatives through every 3-D op (float64).
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 2, 4, 5, 5)), rng.standard_normal((3, 2, 3, 3, 3))

    def second(L):
        xt, wt = L.tensor(x, requires_grad=True), L.tensor(w, requires_grad=True)
        (gx,) = L.autograd.grad((fn(L, xt, wt) ** 3).sum(), xt, create_graph=True)
        return [g.numpy() for g in L.autograd.grad((gx ** 2).sum(), (xt, wt))]

    for ours, theirs in zip(second(vl), second(torch)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9 * np.abs(theirs).max())


@pytest.mark.parametrize("fn", [
    lambda L, x: F(L).conv3d(x, L.ones(3, 2, 3, 1, 3)),
    lambda L, x: F(L).conv3d(x, L.ones(3, 2, 1, 1, 1)),
    lambda L, x: F(L).conv_transpose3d(x, L.ones(2, 3, 2, 3, 3)),
    lambda L, x: F(L).max_pool3d(x, 2),
    lambda L, x: F(L).avg_pool3d(x, 2),
    lambda L, x: F(L).adaptive_avg_pool3d(x, 2),
    lambda L, x: F(L).adaptive_max_pool3d(x, 2),
])
def test_autocast_dtypes_as_pytorch(fn):
    # bfloat16 autocast on the CPU: convolutions run in bfloat16, 3-D pooling in float32 (PyTorch's lists).
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4, 4)).astype(np.float32)
    with vl.autocast("cpu", dtype=vl.bfloat16):
        ours = fn(vl, vl.tensor(x).to(vl.bfloat16)).dtype
    with torch.autocast("cpu", dtype=torch.bfloat16):
        theirs = fn(torch, torch.tensor(x).to(torch.bfloat16)).dtype
    assert str(ours).split(".")[-1] == str(theirs).split(".")[-1]
