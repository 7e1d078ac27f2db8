"""Depthwise convolutions on the direct NCHW kernel (core/ops/conv_depthwise.py, ``_Gather``): forward,
input, weight and bias gradients equal PyTorch's for strides, dilations, padding (none, wider than the
kernel's reach), asymmetric kernels, channel multipliers (groups=C with O=2C, 3C), float32 and float64,
on one and two threads, with blocks banded by rows, taps copied as flat slices or as 2-D windows, and
equal to the phase-grid path they replace."""

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.conv_paths import assert_paths_agree, count_calls, helper_test_strided_input_view, raw_conv
from tests.helpers.refs import require
from visionlite.core.ops import conv, conv_depthwise, conv_depthwise_rows


@pytest.fixture(autouse=True)
def direct_only(monkeypatch):
    """These tests are about the direct kernel: stride-1 layers with rows as wide as the input's would
    otherwise take the column-and-row path (its own tests: test_conv_depthwise_rows.py)."""
    monkeypatch.setattr(conv_depthwise_rows, "usable", lambda *a: False)


def _runs(monkeypatch):
    return count_calls(monkeypatch, conv, ("direct_forward", "direct_backward"))


def helper_test_depthwise(monkeypatch, shape_x, mult, k, kw, dtype=np.float64, bias=True):
    """conv2d with groups=C against torch: output and the gradients of input, weight and bias."""
    torch = require("torch")
    seen = _runs(monkeypatch)
    c = shape_x[1]
    rng = np.random.default_rng(sum(shape_x) + mult + sum(k))
    shapes = [shape_x, (c * mult, 1) + k, (c * mult,)][: 3 if bias else 2]
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours = [vl.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = vl.nn.functional.conv2d(*ours, groups=c, **kw)
    ty = torch.nn.functional.conv2d(*theirs, groups=c, **kw)
    g = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    y.backward(vl.tensor(g))
    ty.backward(torch.tensor(g))
    tol = 1e-10 if dtype == np.float64 else 2e-4
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol)
    forward = [] if k == (1, 1) and not kw.get("padding") else ["direct_forward"]  # 1x1: a batched GEMM
    assert seen == forward + ["direct_backward"]


CASES = {
    "3x3_pad1": ((2, 4, 9, 8), 1, (3, 3), {"padding": 1}),
    "stride2": ((2, 4, 9, 8), 1, (3, 3), {"padding": 1, "stride": 2}),
    "stride2_mult2": ((2, 4, 9, 8), 2, (3, 3), {"padding": 1, "stride": 2}),
    "mult3_5x5": ((3, 5, 6, 6), 3, (5, 5), {"padding": 2}),
    "asym_stride_dilation": ((1, 3, 10, 7), 1, (3, 5), {"padding": (2, 1), "stride": (2, 3),
                                                        "dilation": (2, 1)}),
    "stride3_dilation2_valid": ((2, 4, 7, 7), 1, (3, 3), {"stride": 3, "dilation": 2}),
    "padding_past_reach": ((2, 4, 5, 5), 1, (3, 3), {"padding": 4}),
    "stride_past_input": ((1, 2, 3, 3), 1, (3, 3), {"padding": 3, "stride": 4}),
    "1x1_stride2": ((2, 4, 5, 5), 2, (1, 1), {"stride": 2}),
    "same": ((2, 3, 6, 7), 1, (4, 3), {"padding": "same", "dilation": 2}),
}


@pytest.mark.parametrize("flat_taps", [True, False], ids=["flat_taps", "window_copies"])
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_same_as_torch_float64(monkeypatch, case, flat_taps):
    # flat_taps: gathers on the output's grid copy each tap as one flat slice (_FlatGather); else 2-D windows
    if not flat_taps:
        monkeypatch.setattr(conv_depthwise._FlatGather, "usable", staticmethod(lambda *a: False))
    helper_test_depthwise(monkeypatch, *CASES[case])


@pytest.mark.parametrize("case", ["3x3_pad1", "stride2_mult2", "asym_stride_dilation"])
def test_same_as_torch_float32_no_bias(monkeypatch, case):
    helper_test_depthwise(monkeypatch, *CASES[case], dtype=np.float32, bias=False)


@pytest.mark.parametrize("block", [7, 40, 300], ids=["rows1", "rows_band", "channel_block"])
@pytest.mark.parametrize("case", ["stride2_mult2", "asym_stride_dilation", "padding_past_reach"])
def test_blocks_banded_by_rows(monkeypatch, block, case):
    monkeypatch.setattr(conv_depthwise, "_DIRECT_BLOCK", block)
    helper_test_depthwise(monkeypatch, *CASES[case])


@pytest.mark.parametrize("shape", [(4, 32, 40, 40), (2, 8, 200, 180)], ids=["channel_blocks", "row_bands"])
def test_split_across_threads(monkeypatch, threads, shape):
    helper_test_depthwise(monkeypatch, shape, 2, (3, 3), {"padding": 1, "stride": 2}, dtype=np.float32)
    helper_test_depthwise(monkeypatch, shape, 1, (3, 3), {"padding": 1}, dtype=np.float32)


def test_same_as_the_phase_grid_path(monkeypatch):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 6, 11, 9)).astype(np.float32)
    w = rng.standard_normal((12, 1, 3, 3)).astype(np.float32)
    geom = conv.ConvGeometry(3, 6, (11, 9), w.shape, 6, (2, 1), (1, 2, 0, 1), (1, 2))
    g = rng.standard_normal((3, 12) + geom.out_hw).astype(np.float32)
    direct = raw_conv(x, w, g, geom, x)
    monkeypatch.setattr(conv, "direct_usable", lambda *a: False)
    assert_paths_agree(direct, raw_conv(x, w, g, geom, geom.split(x)))


def test_strided_input_view(monkeypatch):
    seen = _runs(monkeypatch)
    helper_test_strided_input_view(4, padding=1)
    assert seen == ["direct_forward"]


def test_input_changed_in_place_after_forward_raises():
    # the input itself is saved for the weight gradient (as PyTorch does): in-place changes are caught
    x = vl.randn(1, 3, 5, 5).requires_grad_().clone()
    w = vl.randn(3, 1, 3, 3, requires_grad=True)
    y = vl.nn.functional.conv2d(x, w, padding=1, groups=3)
    x.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
