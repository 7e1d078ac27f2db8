"""Few-channel convolutions (core/ops/conv_shallow.py): conv2d's forward, input, weight and bias gradients
equal PyTorch's in float64 and float32 for LeNet-like, RGB-stem, strided, dilated, grouped, rectangular
and asymmetric-padding layers, for chunks of several images, bands of rows of one image and one or two
threads; the path is taken exactly where it applies and its switch restores the column path."""

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.conv_paths import count_calls
from tests.helpers.refs import require
from visionlite.core.ops import conv, conv_batch_inner, conv_shallow

byte_bounds = np.lib.array_utils.byte_bounds

# (x shape, out channels, kernel, stride, padding, dilation, groups)
CASES = [
    ((4, 1, 28, 28), 6, 5, 1, 2, 1, 1),  # LeNet's first layer
    ((3, 6, 14, 14), 16, 5, 1, 0, 1, 1),  # LeNet's second: junk columns (Wq 14 > Wo 10)
    ((2, 3, 33, 31), 8, 7, 2, 3, 1, 1),  # an RGB stem: four phases, odd sizes
    ((2, 3, 17, 19), 5, 3, 1, 1, 1, 1),
    ((2, 8, 9, 10), 8, 3, 2, 1, 1, 2),  # grouped, strided
    ((1, 3, 20, 21), 4, 3, 1, 2, 2, 1),  # dilated
    ((5, 12, 7, 7), 24, 3, 1, 1, 1, 3),
    ((3, 2, 6, 6), 3, (3, 1), (1, 2), (1, 0), 1, 1),  # rectangular kernel, unequal strides
    ((2, 4, 11, 9), 7, (2, 4), (2, 1), 0, (2, 1), 1),  # even kernel, per-axis dilation
]


def helper_test_conv(shape_x, out_channels, kernel, stride, padding, dilation, groups, dtype):
    torch = require("torch")
    rng = np.random.default_rng(sum(shape_x) + out_channels)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = rng.standard_normal(shape_x).astype(dtype)
    w = rng.standard_normal((out_channels, shape_x[1] // groups, kh, kw)).astype(dtype)
    b = rng.standard_normal(out_channels).astype(dtype)
    ours = [vl.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    y = vl.nn.functional.conv2d(*ours, **kwargs)
    y_ref = torch.nn.functional.conv2d(*theirs, **kwargs)
    g = rng.standard_normal(tuple(y_ref.shape)).astype(dtype)
    y.backward(vl.tensor(g))
    y_ref.backward(torch.tensor(g))
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(y.detach().numpy(), y_ref.detach().numpy(), **tol)
    for a, r in zip(ours, theirs):
        scale = max(float(np.abs(r.grad.numpy()).max()), 1.0)
        np.testing.assert_allclose(a.grad.numpy(), r.grad.numpy(), rtol=tol["rtol"], atol=tol["atol"] * scale)


@pytest.fixture(autouse=True)
def row_columns(monkeypatch):
    """These tests are about the row-column layout: stride-1 layers on small images would otherwise take
    the batch-innermost one (its own tests: test_conv_batch_inner.py)."""
    monkeypatch.setattr(conv_batch_inner, "usable", lambda x, geom: False)


@pytest.fixture
def counted(monkeypatch):
    """Counts the calls of the shallow path's forward and backward."""
    return count_calls(monkeypatch, conv_shallow, ("forward", "backward"))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_conv_matches_torch(case, dtype, counted, threads):
    helper_test_conv(*case, dtype)
    assert counted == ["forward", "backward"]


@pytest.mark.parametrize("chunk_bytes", [1 << 10, 1 << 14, 1 << 16])
def test_bands_and_image_groups(chunk_bytes, monkeypatch, threads, counted):
    # tiny buffers: bands of a few rows of one image (1 KB: one row), or several images per chunk
    monkeypatch.setattr(conv_shallow, "_CHUNK_BYTES", chunk_bytes)
    helper_test_conv((3, 3, 23, 26), 5, 5, 1, 2, 1, 1, np.float64)
    helper_test_conv((1, 2, 19, 17), 4, 3, 2, 1, 1, 1, np.float64)  # batch 1: bands go to threads
    assert counted.count("forward") == 2


def helper_test_one_gradient(shape_x, w_shape):
    """Only the weight's gradient, then only the input's, each equal to PyTorch's (float64)."""
    torch = require("torch")
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(shape_x), rng.standard_normal(w_shape)
    for grad_x, grad_w in ((False, True), (True, False)):
        xs, ws = vl.tensor(x, requires_grad=grad_x), vl.tensor(w, requires_grad=grad_w)
        xt, wt = torch.tensor(x, requires_grad=grad_x), torch.tensor(w, requires_grad=grad_w)
        vl.nn.functional.conv2d(xs, ws, padding=1).square().sum().backward()
        torch.nn.functional.conv2d(xt, wt, padding=1).square().sum().backward()
        ours, theirs = (xs, xt) if grad_x else (ws, wt)
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10)
        assert (xs.grad is None) != grad_x and (ws.grad is None) != grad_w


def test_weight_gradient_only_and_input_gradient_only(counted):
    helper_test_one_gradient((4, 3, 12, 12), (8, 3, 5, 5))
    assert counted == ["forward", "backward"] * 2


@pytest.mark.parametrize("case", CASES, ids=str)
def test_windows_stay_inside_their_image(case):
    # the strided window views must never reach past an image's own slot (the last image: past the
    # array): every window starts inside image n's slot of the phase planes and ends inside it
    shape_x, out_channels, kernel, stride, padding, dilation, groups = case
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    (sh, sw), (dh, dw), (ph, pw) = pair(stride), pair(dilation), pair(padding)
    w_shape = (out_channels, shape_x[1] // groups, kh, kw)
    geom = conv.ConvGeometry(shape_x[0], shape_x[1], shape_x[2:], w_shape, groups, (sh, sw), (ph, ph, pw, pw),
                             (dh, dw))
    x = np.zeros(shape_x)
    plan = conv_shallow._Plan(geom, 8, True)
    planes = plan.geom.split(x)
    lo, hi = byte_bounds(planes)
    slot = plan.hw * planes.itemsize
    for _, view in plan.windows(planes):
        a, b = byte_bounds(view)
        assert lo <= a and b <= hi
        for n in range(geom.n):  # image n's windows, relative to the start of its slot in channel 0
            first = byte_bounds(view[..., n, :])
            assert (first[0] - lo) % (geom.n * slot) // slot == n
            assert (first[1] - 1 - lo) % (geom.n * slot) // slot == n


@pytest.mark.parametrize("kwargs,expected", [
    (dict(shape=(2, 3, 8, 8), w=(4, 3, 3, 3)), True),
    (dict(shape=(2, 15, 8, 8), w=(4, 15, 3, 3)), True),
    (dict(shape=(2, 16, 8, 8), w=(4, 16, 3, 3)), False),  # deep enough for the per-tap GEMMs
    (dict(shape=(2, 8, 8, 8), w=(8, 1, 3, 3), groups=8), False),  # depthwise: conv_depthwise
    (dict(shape=(2, 32, 8, 8), w=(8, 4, 3, 3), groups=8), True),  # 4 channels per group
    (dict(shape=(2, 3, 8, 8), w=(4, 3, 1, 1)), False),  # 1x1: a plain GEMM
    (dict(shape=(2, 3, 8, 8), w=(4, 3, 3, 3), dtype=np.float16), False),
    (dict(shape=(0, 3, 8, 8), w=(4, 3, 3, 3)), False),  # no images
])
def test_path_choice(kwargs, expected):
    shape, w_shape, groups = kwargs["shape"], kwargs["w"], kwargs.get("groups", 1)
    x = np.zeros(shape, dtype=kwargs.get("dtype", np.float32))
    geom = conv.ConvGeometry(shape[0], shape[1], shape[2:], w_shape, groups, (1, 1), (1, 1, 1, 1), (1, 1))
    assert conv_shallow.usable(x, w_shape, geom) is expected


def test_switch_restores_the_column_path(monkeypatch, counted):
    rng = np.random.default_rng(1)
    x = vl.tensor(rng.standard_normal((2, 3, 9, 9)).astype(np.float32))
    w = vl.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    on = vl.nn.functional.conv2d(x, w, padding=1).numpy()
    monkeypatch.setattr(conv_shallow, "_ENABLED", False)
    off = vl.nn.functional.conv2d(x, w, padding=1).numpy()
    assert counted == ["forward"]
    np.testing.assert_allclose(on, off, rtol=1e-5, atol=1e-5)


def test_double_backward_through_a_shallow_layer():
    # create_graph runs the recorded backward (graph_backward), which reads the saved input
    torch = require("torch")
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3))
    xs, ws = vl.tensor(x, requires_grad=True), vl.tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    for a, b, lib in ((xs, ws, vl), (xt, wt, torch)):
        y = lib.nn.functional.conv2d(a, b, padding=1)
        (gx,) = lib.autograd.grad(y.square().sum(), a, create_graph=True)
        gx.square().sum().backward()
    np.testing.assert_allclose(ws.grad.numpy(), wt.grad.numpy(), rtol=1e-10)
