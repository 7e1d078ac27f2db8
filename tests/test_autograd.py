"""Autograd engine behaviour: accumulation, retain/create graph, hooks, grad modes, Function, safety."""

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite.autograd import Function


def test_leaf_grad_accumulates_over_backwards():
    x = vl.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])


def test_shared_gradient_is_not_aliased_between_leaves():
    a = vl.tensor([1.0, 2.0], requires_grad=True)
    b = vl.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.mul_(10)
    np.testing.assert_allclose(b.grad.numpy(), [1, 1])


def test_backward_twice_without_retain_graph_raises():
    x = vl.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = vl.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp()).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]), rtol=1e-6)


def test_nonscalar_backward_needs_gradient():
    x = vl.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        (x * 2).backward()
    (x * 2).backward(vl.tensor([1.0, 0.5]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 1.0])


def test_second_order_gradients_match_torch():
    torch = require("torch")
    xv = np.array([0.3, -1.2, 2.0])
    x = vl.tensor(xv, requires_grad=True)
    (g,) = vl.autograd.grad((x.sin() * x**3).sum(), x, create_graph=True)
    (gg,) = vl.autograd.grad(g.sum(), x)
    xt = torch.tensor(xv, requires_grad=True)
    (gt,) = torch.autograd.grad((xt.sin() * xt**3).sum(), xt, create_graph=True)
    (ggt,) = torch.autograd.grad(gt.sum(), xt)
    np.testing.assert_allclose(g.detach().numpy(), gt.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(gg.numpy(), ggt.numpy(), rtol=1e-10)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.exp().tanh().sum(),
        lambda x: x.sigmoid().log().sum(),
        lambda x: (x.softmax(0) * x).sum(),
        lambda x: x.norm(),
        lambda x: vl.gelu(x).sum(),
        lambda x: (x @ x.reshape(3, 1)).sum(),
    ],
)
def test_double_backward_against_torch(fn):
    torch = require("torch")
    xv = np.array([0.3, -1.2, 0.7])
    x = vl.tensor(xv, requires_grad=True)
    (g,) = vl.autograd.grad(fn(x), x, create_graph=True)
    (gg,) = vl.autograd.grad((g * g).sum(), x)
    tfn = {vl.gelu: torch.nn.functional.gelu}
    del tfn
    xt = torch.tensor(xv, requires_grad=True)

    class Shim:
        gelu = staticmethod(torch.nn.functional.gelu)

    import types

    src = vl
    try:
        globals()["vl"] = types.SimpleNamespace(gelu=torch.nn.functional.gelu)
        (gt,) = torch.autograd.grad(fn(xt), xt, create_graph=True)
    finally:
        globals()["vl"] = src
    (ggt,) = torch.autograd.grad((gt * gt).sum(), xt)
    np.testing.assert_allclose(gg.numpy(), ggt.numpy(), rtol=1e-8, atol=1e-10)


def test_autograd_grad_does_not_touch_dot_grad_and_handles_unused():
    x = vl.tensor([1.0, 2.0], requires_grad=True)
    y = vl.tensor([1.0], requires_grad=True)
    (gx,) = vl.autograd.grad((x * x).sum(), x)
    assert x.grad is None
    np.testing.assert_allclose(gx.numpy(), [2.0, 4.0])
    with pytest.raises(RuntimeError, match="not have been used"):
        vl.autograd.grad((x * 2).sum(), [x, y])
    gx, gy = vl.autograd.grad((x * 2).sum(), [x, y], allow_unused=True)
    assert gy is None


def test_grad_of_nonleaf_input():
    x = vl.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    (gh,) = vl.autograd.grad((h * h).sum(), h)
    np.testing.assert_allclose(gh.numpy(), [6.0, 12.0])


def test_long_chain_is_iterative():
    x = vl.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(10000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001**10000], rtol=1e-3)


def test_no_grad_and_decorator_and_set_grad_enabled():
    x = vl.tensor([1.0], requires_grad=True)
    with vl.no_grad():
        assert not (x * 2).requires_grad
        with vl.enable_grad():
            assert (x * 2).requires_grad

    @vl.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    with vl.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    with vl.inference_mode():
        assert not (x * 2).requires_grad
    assert vl.is_grad_enabled()


def test_detach_shares_storage_and_cuts_graph():
    x = vl.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None
    y = x * 1
    z = y.detach()
    z[0] = 5.0
    assert y[0].item() == 5.0


def test_tensor_hooks_leaf_and_nonleaf_and_retain_grad():
    x = vl.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    h = x * 2
    h.retain_grad()
    handle = h.register_hook(lambda g: g * 10)
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [40.0, 80.0])
    np.testing.assert_allclose(x.grad.numpy(), [80.0, 160.0])
    np.testing.assert_allclose(seen[0], [80.0, 160.0])
    handle.remove()


def test_custom_function_forward_backward_and_saved_tensors():
    class Cube(Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            ctx.k = k
            return x * x * x * k

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x * x * ctx.k, None

    x = vl.tensor([1.0, -2.0], requires_grad=True)
    y = Cube.apply(x, 2.0)
    assert y.grad_fn is not None and "Cube" in y.grad_fn.name
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 24.0])


def test_custom_function_multiple_outputs():
    class SplitTwo(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            return ga * 2 + gb * 3

    x = vl.tensor([1.0, 2.0], requires_grad=True)
    a, b = SplitTwo.apply(x)
    (a.sum() + 0 * b.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_inplace_on_leaf_requiring_grad_raises():
    x = vl.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with vl.no_grad():
        x.add_(1)
    assert x.item() == 2.0


def test_modifying_saved_tensor_raises_at_backward():
    x = vl.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = h * h
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    e = x.exp()
    z = e * 2
    e.mul_(2)
    del z
    w = x.exp()
    s = w.sum()
    w.add_(1)  # exp saves its output
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        s.backward()


def test_inplace_ops_record_gradient():
    torch = require("torch")
    xv = np.array([0.5, -1.0, 2.0])
    x = vl.tensor(xv, requires_grad=True)
    h = x * 2
    h.add_(x)
    h.mul_(3)
    h[0] = x[1] * 5
    h.relu_()
    h.sum().backward()
    xt = torch.tensor(xv, requires_grad=True)
    ht = xt * 2
    ht.add_(xt)
    ht.mul_(3)
    ht[0] = xt[1] * 5
    ht.relu_()
    ht.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())
    np.testing.assert_allclose(h.detach().numpy(), ht.detach().numpy())


def test_views_share_storage_and_version():
    x = vl.zeros(3, 4)
    v = x[1]
    v.fill_(7.0)
    assert x.sum().item() == 28.0
    r = x.reshape(12)
    r[0] = 1.0
    assert x[0, 0].item() == 1.0


def test_requires_grad_only_for_floats():
    with pytest.raises(RuntimeError, match="floating point"):
        vl.tensor([1, 2], requires_grad=True)


def test_integer_inputs_do_not_get_gradients():
    x = vl.tensor([1.0, 2.0], requires_grad=True)
    idx = vl.tensor([1, 0])
    y = (x * idx).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 0.0])
    assert idx.grad is None


def test_gradient_dtype_follows_input_dtype():
    a = vl.tensor([1.0, 2.0], dtype=vl.float32, requires_grad=True)
    b = vl.tensor([1.0, 2.0], dtype=vl.float64, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype == vl.float32 and b.grad.dtype == vl.float64


def test_inplace_on_views_rebase_the_base_as_pytorch():
    # (tests/test_autograd_inplace_views.py compares many more patterns with torch)
    w = vl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = w * 1
    y[1:][0] = 10.0
    y[1:].mul_(2)  # y = [w0, 20, 2 * w2]
    assert type(y.grad_fn).__name__ == "CopySlices" and y.tolist() == [1.0, 20.0, 6.0]
    y.sum().backward()
    assert w.grad.tolist() == [1.0, 0.0, 2.0]
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        w.view(3).add_(1)
    with vl.no_grad():
        w[0:2].zero_()  # allowed without recording, as in PyTorch
    assert w.tolist() == [0.0, 0.0, 3.0]


@pytest.mark.parametrize("op", ["clamp_", "mul_", "div_", "pow_", "abs_", "sin_", "reciprocal_"])
def test_inplace_ops_that_save_their_input_match_torch(op):
    torch = require("torch")
    args = {"clamp_": (0.6, 2.5), "mul_": None, "div_": None, "pow_": (2.0,), "abs_": (), "sin_": (),
            "reciprocal_": ()}[op]
    grads = []
    for lib in (vl, torch):
        w = lib.tensor([0.5, 1.5, 3.0], requires_grad=True)
        y = w * 1
        getattr(y, op)(*(args if args is not None else (w,)))
        (y * y).sum().backward()
        grads.append(np.asarray(w.grad.detach().numpy()))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6)


def test_fill_and_zero_keep_a_nonleaf_in_the_graph():
    torch = require("torch")
    grads = []
    for lib in (vl, torch):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        y = w * 2
        y.zero_()
        (y + w * 3).sum().backward()
        grads.append(w.grad.numpy().copy())
    np.testing.assert_allclose(grads[0], grads[1])


def test_writes_through_data_are_not_version_checked():
    x = vl.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    x.data.mul_(1.0)  # PyTorch allows this: .data is outside autograd
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_grad_mode_decorators_with_and_without_parentheses_and_on_generators():
    x = vl.tensor([1.0], requires_grad=True)

    @vl.no_grad
    def bare(t):
        return t * 2

    @vl.inference_mode
    def inference(t):
        return t * 2, vl.is_inference_mode_enabled()

    @vl.no_grad()
    def steps(t):
        for _ in range(2):
            yield (t * 2).requires_grad

    out, inside = inference(x)
    assert not bare(x).requires_grad and not out.requires_grad and inside
    assert list(steps(x)) == [False, False]
    assert (x * 2).requires_grad and not vl.is_inference_mode_enabled()
