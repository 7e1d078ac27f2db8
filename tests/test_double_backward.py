"""Double backward (``create_graph=True``) through convolution, pooling and normalization, in float64.

Every case computes first-order gradients with ``create_graph=True``, a scalar of them (a penalty), and
its gradients, in visionlite and in PyTorch on the same inputs; both orders must agree. Then whole
recipes that need it: a WGAN-GP gradient penalty through a small conv critic and a MAML inner step, plus
a finite-difference check of a second-order gradient that does not lean on PyTorch at all.
"""

import numpy as np
import pytest

import visionlite as vl
import visionlite.nn.functional as F
from tests.helpers.refs import require

torch = require("torch")
TF = torch.nn.functional


def _second_order(lib, fn, arrays):
    """(first-order grads, grads of a penalty on them) of ``sum(c * fn(*xs)**2)``, as numpy arrays."""
    xs = [lib.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*xs)
    c = lib.tensor(np.cos(np.arange(y.numel(), dtype=np.float64)).reshape(tuple(y.shape)))
    gs = lib.autograd.grad((y * y * c).sum(), xs, create_graph=True)
    penalty = sum(((g * g).sum() + (g**3).sum()) for g in gs)
    g2 = lib.autograd.grad(penalty, xs)
    return [g.detach().numpy() for g in gs], [g.detach().numpy() for g in g2]


def _compare(fn_vl, fn_torch, shapes, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    g1, g2 = _second_order(vl, fn_vl, arrays)
    t1, t2 = _second_order(torch, fn_torch, arrays)
    for name, mine, ref in (("first", g1, t1), ("second", g2, t2)):
        for i, (a, b) in enumerate(zip(mine, ref)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(b).max()),
                                       err_msg=f"{name}-order gradient of input {i}")


def _both(name, **kw):
    """A (visionlite fn, torch fn) pair calling ``F.<name>(*xs, **kw)`` in each library."""
    return (lambda *xs: getattr(F, name)(*xs, **kw)), (lambda *xs: getattr(TF, name)(*xs, **kw))


CONV = [
    ("conv2d", {}, [(2, 4, 7, 8), (6, 4, 3, 3), (6,)]),
    ("conv2d", dict(stride=2, padding=1), [(2, 4, 7, 8), (6, 4, 3, 3), (6,)]),
    ("conv2d", dict(padding=(1, 2), dilation=2), [(2, 4, 7, 8), (6, 4, 3, 2)]),
    ("conv2d", dict(groups=2, stride=(2, 1)), [(2, 4, 7, 8), (6, 2, 3, 3), (6,)]),
    ("conv2d", dict(padding="same"), [(2, 3, 6, 7), (4, 3, 4, 2)]),  # asymmetric padding
    ("conv2d", dict(groups=4, padding=1), [(2, 4, 7, 8), (8, 1, 3, 3)]),  # depthwise (multiplier 2)
    ("conv2d", dict(groups=4, stride=2, padding=1), [(2, 4, 7, 8), (4, 1, 3, 3)]),  # depthwise, strided
    ("conv2d", dict(stride=2), [(2, 4, 7, 8), (8, 4, 1, 1), (8,)]),  # pointwise, strided
    ("conv2d", {}, [(2, 4, 5, 5), (8, 4, 1, 1)]),  # pointwise
    ("conv1d", dict(padding=1, stride=2), [(2, 4, 9), (5, 4, 3), (5,)]),
    ("conv_transpose2d", {}, [(2, 4, 5, 6), (4, 6, 3, 3), (6,)]),
    ("conv_transpose2d", dict(stride=2, padding=1, output_padding=1), [(2, 4, 5, 6), (4, 3, 3, 3)]),
    ("conv_transpose2d", dict(groups=2, dilation=2), [(2, 4, 5, 6), (4, 3, 3, 3), (6,)]),
    ("conv_transpose2d", dict(stride=3, output_padding=2, dilation=3), [(1, 2, 4, 3), (2, 3, 2, 2)]),
    ("conv_transpose2d", dict(stride=2), [(2, 4, 3, 3), (4, 5, 1, 1)]),  # pointwise
    ("conv_transpose1d", dict(stride=2, padding=1), [(2, 3, 6), (3, 4, 3), (4,)]),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note about the even kernel
@pytest.mark.parametrize("name, kw, shapes", CONV, ids=[f"{c[0]}-{i}" for i, c in enumerate(CONV)])
def test_conv_double_backward_matches_torch(name, kw, shapes):
    _compare(*_both(name, **kw), shapes)


POOL = [
    ("max_pool2d", dict(kernel_size=3, stride=2, padding=1), [(2, 3, 9, 8)]),
    ("max_pool2d", dict(kernel_size=2), [(2, 3, 9, 8)]),
    ("max_pool2d", dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True), [(2, 3, 9, 8)]),
    ("max_pool2d", dict(kernel_size=5, stride=1, padding=2), [(1, 2, 6, 7)]),  # > 16 taps: the scatter path
    ("max_pool1d", dict(kernel_size=3, stride=2), [(2, 3, 9)]),
    ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1), [(2, 3, 9, 8)]),
    ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False, ceil_mode=True),
     [(2, 3, 9, 8)]),
    ("avg_pool2d", dict(kernel_size=2, divisor_override=3), [(2, 3, 6, 6)]),
    ("avg_pool1d", dict(kernel_size=3, stride=2), [(2, 3, 9)]),
    ("adaptive_avg_pool2d", dict(output_size=(3, 5)), [(2, 3, 9, 8)]),
    ("adaptive_max_pool2d", dict(output_size=(3, 5)), [(2, 3, 9, 8)]),
]


@pytest.mark.parametrize("name, kw, shapes", POOL, ids=[f"{c[0]}-{i}" for i, c in enumerate(POOL)])
def test_pool_double_backward_matches_torch(name, kw, shapes):
    _compare(*_both(name, **kw), shapes)


def _running(lib):
    return lib.tensor([0.3, -0.2, 0.1], dtype=lib.float64), lib.tensor([1.5, 0.5, 0.8], dtype=lib.float64)


NORM = [
    ("batch_norm", lambda lib: dict(running_mean=None, running_var=None, training=True),
     [(4, 3, 5, 6), (3,), (3,)]),
    ("batch_norm", lambda lib: dict(running_mean=None, running_var=None, training=True), [(6, 3)]),
    ("batch_norm", lambda lib: dict(zip(("running_mean", "running_var"), _running(lib)), training=False),
     [(4, 3, 5, 6), (3,), (3,)]),
    ("layer_norm", lambda lib: dict(normalized_shape=(5, 6)), [(4, 3, 5, 6), (5, 6), (5, 6)]),
    ("group_norm", lambda lib: dict(num_groups=2), [(4, 6, 5, 3), (6,), (6,)]),
    ("instance_norm", lambda lib: {}, [(4, 6, 5, 3)]),
]


@pytest.mark.parametrize("name, kw, shapes", NORM, ids=[f"{c[0]}-{i}" for i, c in enumerate(NORM)])
def test_norm_double_backward_matches_torch(name, kw, shapes):
    def call(lib, fn, xs):
        args = dict(kw(lib))
        if name == "batch_norm":  # weight/bias are keyword-only after the running stats
            rm, rv = args.pop("running_mean"), args.pop("running_var")
            extra = dict(zip(("weight", "bias"), xs[1:]))
            return fn(xs[0], rm, rv, **extra, **args)
        if name == "group_norm":
            return fn(xs[0], args["num_groups"], *xs[1:])
        if name == "layer_norm":
            return fn(xs[0], args["normalized_shape"], *xs[1:])
        return fn(xs[0])

    _compare(lambda *xs: call(vl, getattr(F, name), xs), lambda *xs: call(torch, getattr(TF, name), xs),
             shapes)


def test_second_order_matches_finite_differences():
    """d/dx of sum(grad_w(conv -> maxpool -> batchnorm)^2), against central differences of visionlite's
    own first-order gradients (no PyTorch involved)."""
    rng = np.random.default_rng(1)
    x0, w0 = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    c = np.cos(np.arange(2 * 3 * 3 * 3)).reshape(2, 3, 3, 3)

    def penalty(x_arr, create_graph):
        x = vl.tensor(x_arr, requires_grad=True)
        w = vl.tensor(w0, requires_grad=True)
        y = F.batch_norm(F.max_pool2d(F.conv2d(x, w, padding=1), 2), None, None, training=True)
        (gw,) = vl.autograd.grad((y * y * vl.tensor(c)).sum(), [w], create_graph=create_graph)
        return x, (gw * gw).sum()

    x, p = penalty(x0, True)
    (analytic,) = vl.autograd.grad(p, [x])
    eps = 1e-6
    numeric = np.zeros_like(x0)
    for idx in [(0, 0, 1, 2), (1, 1, 4, 4), (0, 1, 0, 5), (1, 0, 3, 0)]:
        up, down = x0.copy(), x0.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric[idx] = (penalty(up, False)[1].item() - penalty(down, False)[1].item()) / (2 * eps)
        np.testing.assert_allclose(analytic.numpy()[idx], numeric[idx], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------ recipes
def _critic(m):
    return m.Sequential(
        m.Conv2d(2, 4, 3, padding=1), m.LeakyReLU(0.2), m.MaxPool2d(2),
        m.Conv2d(4, 4, 3, stride=2, padding=1, groups=2), m.GroupNorm(2, 4), m.LeakyReLU(0.2),
        m.Conv2d(4, 4, 3, padding=1, groups=4), m.AvgPool2d(2),
        m.Flatten(), m.Linear(4, 1),
    ).double()


def _twins(make):
    t = make(torch.nn)
    v = make(vl.nn)
    v.load_state_dict({k: val.detach().numpy() for k, val in t.state_dict().items()})
    return v, t


def test_wgan_gp_gradient_penalty_matches_torch():
    """WGAN-GP: the critic's gradient with respect to interpolated images, penalised toward norm 1, and
    the penalty's gradient with respect to the critic's weights."""
    vnet, tnet = _twins(_critic)
    rng = np.random.default_rng(2)
    real, fake, alpha = rng.standard_normal((3, 2, 8, 8)), rng.standard_normal((3, 2, 8, 8)), rng.random(3)
    grads = {}
    for lib, net in ((vl, vnet), (torch, tnet)):
        a = lib.tensor(alpha.reshape(-1, 1, 1, 1))
        x = (a * lib.tensor(real) + (1 - a) * lib.tensor(fake)).requires_grad_(True)
        (gx,) = lib.autograd.grad(net(x).sum(), [x], create_graph=True)
        gp = ((gx.reshape(3, -1).norm(2, dim=1) - 1) ** 2).mean()
        (10 * gp - net(lib.tensor(real)).mean()).backward()
        grads[lib.__name__] = [p.grad.numpy() for p in net.parameters()]
    for (name, _), a, b in zip(tnet.named_parameters(), grads["visionlite"], grads["torch"]):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10, err_msg=name)


def _learner(m):
    return m.Sequential(
        m.Conv2d(1, 4, 3, padding=1), m.BatchNorm2d(4), m.ReLU(), m.MaxPool2d(2),
        m.Conv2d(4, 4, 3, padding=1), m.BatchNorm2d(4), m.ReLU(), m.AdaptiveAvgPool2d(1),
        m.Flatten(), m.Linear(4, 3),
    ).double()


def _functional_forward(lib, fm, params, x):
    """The learner's forward with explicit (fast) weights, as MAML code writes it."""
    c1w, c1b, b1w, b1b, c2w, c2b, b2w, b2b, lw, lb = params
    x = fm.max_pool2d(fm.relu(fm.batch_norm(fm.conv2d(x, c1w, c1b, padding=1), None, None, b1w, b1b,
                                            training=True)), 2)
    x = fm.relu(fm.batch_norm(fm.conv2d(x, c2w, c2b, padding=1), None, None, b2w, b2b, training=True))
    return fm.linear(fm.adaptive_avg_pool2d(x, 1).flatten(1), lw, lb)


def test_maml_inner_step_matches_torch():
    """One MAML inner step (fast weights = weights - lr * grad, create_graph=True) and the meta-gradient
    of the query loss through it."""
    vnet, tnet = _twins(_learner)
    rng = np.random.default_rng(3)
    xs, ys = rng.standard_normal((6, 1, 8, 8)), rng.integers(0, 3, 6)
    xq, yq = rng.standard_normal((6, 1, 8, 8)), rng.integers(0, 3, 6)
    meta = {}
    for lib, fm, net in ((vl, F, vnet), (torch, TF, tnet)):
        params = list(net.parameters())
        inner = fm.cross_entropy(_functional_forward(lib, fm, params, lib.tensor(xs)), lib.tensor(ys))
        grads = lib.autograd.grad(inner, params, create_graph=True)
        fast = [p - 0.4 * g for p, g in zip(params, grads)]
        outer = fm.cross_entropy(_functional_forward(lib, fm, fast, lib.tensor(xq)), lib.tensor(yq))
        meta[lib.__name__] = [g.numpy() for g in lib.autograd.grad(outer, params)]
    for (name, _), a, b in zip(tnet.named_parameters(), meta["visionlite"], meta["torch"]):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10, err_msg=name)


def test_first_order_backward_records_nothing():
    """Without create_graph the fused raw-array backward runs: gradients carry no graph."""
    x = vl.randn(2, 3, 8, 8, requires_grad=True)
    w = vl.randn(4, 3, 3, 3, requires_grad=True)
    y = F.batch_norm(F.max_pool2d(F.conv2d(x, w, padding=1), 2), None, None, training=True)
    gx, gw = vl.autograd.grad(y.pow(2).sum(), [x, w])
    assert not gx.requires_grad and gx.grad_fn is None and not gw.requires_grad
    gx2, _ = vl.autograd.grad(F.conv2d(x, w, padding=1).pow(2).sum(), [x, w], create_graph=True)
    assert gx2.requires_grad and gx2.grad_fn is not None


def test_third_order_matches_finite_differences():
    """The recorded backward is itself differentiable: d/dx of a penalty on second-order gradients through
    conv, max/avg pooling, group norm and layer norm, against central differences (PyTorch's own
    layer_norm gets this third order wrong, so no PyTorch reference here)."""
    rng = np.random.default_rng(4)
    x0, w0 = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))

    def penalty(x_arr, create_graph):
        x = vl.tensor(x_arr, requires_grad=True)
        w = vl.tensor(w0, requires_grad=True)
        y = F.group_norm(F.max_pool2d(F.conv2d(x, w, padding=1), 2), 2)
        y = F.layer_norm(F.avg_pool2d(F.conv_transpose2d(y, w, stride=2), 2), (3, 3))
        (gw,) = vl.autograd.grad((y**3).sum(), [w], create_graph=True)
        (hx,) = vl.autograd.grad((gw**2).sum(), [x], create_graph=create_graph)
        return x, (hx**2).sum()

    x, p = penalty(x0, True)
    (analytic,) = vl.autograd.grad(p, [x])
    eps = 1e-6
    for idx in [(0, 0, 1, 2), (1, 2, 4, 4), (0, 1, 5, 0)]:
        up, down = x0.copy(), x0.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric = (penalty(up, False)[1].item() - penalty(down, False)[1].item()) / (2 * eps)
        np.testing.assert_allclose(analytic.numpy()[idx], numeric, rtol=1e-5, atol=1e-6 * abs(numeric))
