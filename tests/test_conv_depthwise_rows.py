"""Stride-1 depthwise convolutions by kernel columns and rows (core/ops/conv_depthwise_rows.py): conv2d's
forward, input, weight and bias gradients equal PyTorch's in float64 and float32 for MobileNet's and
EfficientNet's layers, rectangular, dilated, asymmetrically padded ("same") and over-padded kernels,
blocks of images and of channels on one and two threads; the path is taken exactly where it applies."""

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.conv_paths import count_calls, helper_test_double_backward, helper_test_strided_input_view
from tests.helpers.refs import require
from visionlite.core.ops import conv, conv_depthwise_rows

# (x shape, kernel, padding, dilation)
CASES = [
    ((2, 8, 14, 14), 3, 1, 1),  # MobileNet's 3x3
    ((1, 6, 13, 12), 5, 2, 1),  # EfficientNet's 5x5
    ((3, 4, 12, 13), (3, 5), (1, 2), 1),  # rectangular kernel
    ((2, 3, 13, 12), 3, 2, 2),  # dilated
    ((1, 5, 12, 16), 4, "same", 1),  # even kernel: one more row/column of padding below/right
    ((2, 4, 12, 12), (1, 3), (0, 1), 1),  # one kernel row
    ((2, 4, 12, 12), (3, 1), (1, 0), 1),  # one kernel column
    ((1, 3, 12, 12), 3, (3, 1), 1),  # more row padding than the kernel reaches (outputs of zero rows)
    ((1, 3, 9, 17), 3, (2, 1), (2, 1)),  # per-axis padding and dilation
]


@pytest.fixture
def counted(monkeypatch):
    """Counts the calls of this path's forward and backward."""
    return count_calls(monkeypatch, conv_depthwise_rows, ("forward", "backward"))


def helper_test_depthwise(shape_x, kernel, padding, dilation, dtype, bias=True, need=("x", "w", "b")):
    """conv2d with groups=C against torch: the output and the gradients asked for in ``need``."""
    torch = require("torch")
    c = shape_x[1]
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    rng = np.random.default_rng(sum(shape_x) + kh + kw)
    shapes = {"x": shape_x, "w": (c, 1, kh, kw), "b": (c,)}
    arrays = {k: rng.standard_normal(v).astype(dtype) for k, v in shapes.items() if k != "b" or bias}
    ours = {k: vl.tensor(v, requires_grad=k in need) for k, v in arrays.items()}
    theirs = {k: torch.tensor(v, requires_grad=k in need) for k, v in arrays.items()}
    kwargs = dict(padding=padding, dilation=dilation, groups=c)
    y = vl.nn.functional.conv2d(ours["x"], ours["w"], ours.get("b"), **kwargs)
    y_ref = torch.nn.functional.conv2d(theirs["x"], theirs["w"], theirs.get("b"), **kwargs)
    g = rng.standard_normal(tuple(y_ref.shape)).astype(dtype)
    y.backward(vl.tensor(g))
    y_ref.backward(torch.tensor(g))
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(y.detach().numpy(), y_ref.detach().numpy(), **tol)
    for k in need:
        if k in arrays:
            np.testing.assert_allclose(ours[k].grad.numpy(), theirs[k].grad.numpy(), **tol)
    for k in set(arrays) - set(need):
        assert ours[k].grad is None


@pytest.fixture(autouse=True)
def small_planes(monkeypatch):
    """Planes of a few rows take this path in these tests (MobileNet's smallest, 7x7, do not)."""
    monkeypatch.setattr(conv_depthwise_rows, "_MIN_PLANE", 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_depthwise_matches_torch(case, dtype, counted):
    helper_test_depthwise(*case, dtype)
    assert counted == ["forward", "backward"]


@pytest.mark.parametrize("block", [1, 300, 1 << 18], ids=["channel", "channel_blocks", "image_blocks"])
def test_blocks_of_channels_and_images(monkeypatch, block, threads, counted):
    # one plane per block, several channels per block, several images per block; each split over threads
    monkeypatch.setattr(conv_depthwise_rows, "_BLOCK", block)
    monkeypatch.setattr(conv_depthwise_rows, "_plans", {})
    helper_test_depthwise((5, 7, 12, 11), 3, 1, 1, np.float64)
    helper_test_depthwise((3, 16, 20, 20), 5, 2, 1, np.float32, bias=False)
    assert counted == ["forward", "backward"] * 2


@pytest.mark.parametrize("need", [("x",), ("w",), ("b",), ("w", "b")], ids=str)
def test_single_gradients(need, counted):
    helper_test_depthwise((2, 4, 12, 12), 3, 1, 1, np.float64, need=need)
    assert counted == ["forward", "backward"]


def test_input_gradient_past_the_kernel_reach_uses_the_direct_kernel(monkeypatch, counted):
    # rows padded by more than the kernel spans: the flipped kernel would need negative padding
    direct = count_calls(monkeypatch, conv, ("direct_backward",))
    helper_test_depthwise((1, 3, 12, 12), 3, (3, 1), 1, np.float64)
    assert counted == ["forward", "backward"] and direct == ["direct_backward"]


def test_strided_input_view(counted):
    helper_test_strided_input_view(4, padding=1)
    assert counted == ["forward"]


def test_double_backward(counted):
    helper_test_double_backward((2, 3, 14, 14), (3, 1, 3, 3), padding=1, groups=3)
    assert "forward" in counted


@pytest.mark.parametrize("shape,w_shape,stride,padding,expected", [
    ((1, 32, 112, 112), (32, 1, 3, 3), 1, 1, True),
    ((1, 32, 112, 112), (32, 1, 3, 3), 2, 1, False),  # strided: the phase gathers
    ((1, 32, 112, 112), (64, 1, 3, 3), 1, 1, False),  # two outputs per channel
    ((1, 32, 112, 112), (32, 1, 3, 3), 1, 0, False),  # output rows narrower than the input's
    ((1, 8, 14, 14), (8, 1, 5, 5), 1, 2, True),
])
def test_path_choice(shape, w_shape, stride, padding, expected):
    x = np.zeros(shape, dtype=np.float32)
    pad = (padding,) * 4
    geom = conv.ConvGeometry(shape[0], shape[1], shape[2:], w_shape, shape[1], (stride,) * 2, pad, (1, 1))
    assert conv_depthwise_rows.usable(x, w_shape, geom) is expected


def test_a_kernel_column_a_whole_row_away_keeps_the_direct_kernel():
    # rows of 4 pixels, kernel columns 5 apart (dilation 5, padding 5): the outer columns' shifted copies
    # would be all zeros, which this path's copies cannot express
    x, w_shape = np.zeros((1, 4, 40, 4), dtype=np.float32), (4, 1, 3, 3)
    geom = conv.ConvGeometry(1, 4, (40, 4), w_shape, 4, (1, 1), (1, 1, 5, 5), (1, 5))
    assert geom.out_hw == (40, 4) and not conv_depthwise_rows.usable(x, w_shape, geom)


def test_small_planes_keep_the_direct_kernel(monkeypatch):
    monkeypatch.setattr(conv_depthwise_rows, "_MIN_PLANE", 144)
    x, w_shape = np.zeros((1, 960, 7, 7), dtype=np.float32), (960, 1, 3, 3)
    geom = conv.ConvGeometry(1, 960, (7, 7), w_shape, 960, (1, 1), (1, 1, 1, 1), (1, 1))
    assert not conv_depthwise_rows.usable(x, w_shape, geom)
    geom = conv.ConvGeometry(1, 8, (14, 14), (8, 1, 3, 3), 8, (1, 1), (1,) * 4, (1, 1))
    assert conv_depthwise_rows.usable(np.zeros((1, 8, 14, 14), np.float32), (8, 1, 3, 3), geom)
