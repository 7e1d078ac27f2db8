"""Pooling: max/avg (1-D and 2-D) and adaptive avg/max pooling, functional and modules, against PyTorch
(values, indices, gradients) and float64 finite differences."""
import numpy as np
import pytest

import visionlite as vl
import visionlite.nn.functional as F
from tests.helpers.op_check import gradcheck, helper_test_op
from tests.helpers.refs import require
from visionlite import nn

torch = require("torch")
TF = torch.nn.functional


def _ties(shape, seed=0):
    """Small integers: many equal values, so tie-breaking (first maximum wins) is exercised."""
    return np.random.default_rng(seed).integers(-2, 3, size=shape).astype(np.float32)


MAX_POOL = [  # (shape, args, kwargs)
    ((2, 3, 8, 8), (2,), {}),
    ((2, 3, 7, 9), (2,), {}),  # windows tile the input but for the last row and column
    ((3, 2, 8, 10), ((2, 3),), {}),  # rectangular tiles
    ((2, 3, 7, 9), (2,), {"ceil_mode": True}),  # windows overhang the input
    ((2, 3, 9, 7), (3, 2, 1), {}),
    ((2, 3, 9, 7), (3, 2, 1), {"ceil_mode": True}),
    ((2, 3, 10, 11), ((3, 2), (2, 1), (1, 0)), {"dilation": (2, 3), "ceil_mode": True}),
    ((1, 2, 7, 7), (3, 1, 1), {}),  # overlapping windows
    ((3, 5, 6), (2,), {"ceil_mode": True}),  # unbatched, odd size
    ((1, 1, 5, 5), (5,), {}),  # one window
    ((2, 2, 6, 9), ((2, 3),), {"stride": (1, 2)}),
    ((1, 2, 30, 30), (13, 3, 6), {}),  # 169 taps: winning-tap indices need int16
]


@pytest.mark.parametrize("shape,args,kw", MAX_POOL)
@pytest.mark.parametrize("ties", [False, True])
def test_max_pool2d_matches_torch(shape, args, kw, ties, device):
    inputs = [_ties(shape)] if ties else None
    helper_test_op([shape], lambda x: TF.max_pool2d(x, *args, **kw), lambda x: F.max_pool2d(x, *args, **kw),
                   inputs=inputs, device=device)


@pytest.mark.parametrize("shape,args,kw", MAX_POOL)
def test_max_pool2d_indices_match_torch(shape, args, kw, device):
    x = _ties(shape, seed=1)
    tv, ti = TF.max_pool2d(torch.tensor(x), *args, return_indices=True, **kw)
    vv, vi = F.max_pool2d(vl.tensor(x, device=device), *args, return_indices=True, **kw)
    assert vi.dtype == vl.int64
    np.testing.assert_array_equal(vi.cpu().numpy(), ti.numpy())
    np.testing.assert_array_equal(vv.cpu().numpy(), tv.numpy())


def test_max_pool1d_matches_torch():
    helper_test_op([(2, 3, 11)], lambda x: TF.max_pool1d(x, 3, 2, 1, ceil_mode=True),
                   lambda x: F.max_pool1d(x, 3, 2, 1, ceil_mode=True))
    x = _ties((2, 3, 11))
    _, ti = TF.max_pool1d(torch.tensor(x), 3, 2, 1, return_indices=True)
    _, vi = F.max_pool1d(vl.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(vi.numpy(), ti.numpy())


def test_max_pool_after_relu_routes_ties_to_first():
    # After a ReLU whole windows are 0: PyTorch sends the gradient to the first element only.
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 3, 3] = 1
    helper_test_op([x.shape], lambda t: TF.max_pool2d(t, 2), lambda t: F.max_pool2d(t, 2), inputs=[x])


AVG_POOL = [
    ((2, 3, 8, 8), (2,), {}),
    ((2, 3, 7, 9), (2,), {}),  # windows tile the input but for the last row and column
    ((3, 2, 8, 10), ((2, 3),), {}),  # rectangular tiles
    ((2, 3, 7, 9), (2,), {"ceil_mode": True}),  # windows overhang the input
    ((2, 3, 9, 7), (3, 2, 1), {}),
    ((2, 3, 9, 7), (3, 2, 1), {"count_include_pad": False}),
    ((2, 3, 9, 7), (3, 2, 1), {"ceil_mode": True}),
    ((2, 3, 9, 7), (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}),
    ((2, 3, 9, 7), ((3, 2), (2, 3), (1, 1)), {"ceil_mode": True, "divisor_override": 5}),
    ((1, 2, 7, 7), (3, 1, 1), {}),
    ((3, 6, 5), (2,), {}),
]


@pytest.mark.parametrize("shape,args,kw", AVG_POOL)
def test_avg_pool2d_matches_torch(shape, args, kw, device):
    helper_test_op([shape], lambda x: TF.avg_pool2d(x, *args, **kw), lambda x: F.avg_pool2d(x, *args, **kw),
                   device=device)


def test_avg_pool1d_matches_torch():
    kw = {"ceil_mode": True, "count_include_pad": False}
    helper_test_op([(2, 3, 9)], lambda x: TF.avg_pool1d(x, 3, 2, 1, **kw),
                   lambda x: F.avg_pool1d(x, 3, 2, 1, **kw))


@pytest.mark.parametrize("out", [1, (2, 3), (3, 5), (4, 3), (7, 7), (None, 2), (10, 11)])
def test_adaptive_pools_match_torch(out, device):
    shape = (2, 3, 9, 7)
    helper_test_op([shape], lambda x: TF.adaptive_avg_pool2d(x, out), lambda x: F.adaptive_avg_pool2d(x, out),
                   device=device)
    helper_test_op([shape], lambda x: TF.adaptive_max_pool2d(x, out), lambda x: F.adaptive_max_pool2d(x, out),
                   device=device)
    helper_test_op([shape], lambda x: TF.adaptive_max_pool2d(x, out), lambda x: F.adaptive_max_pool2d(x, out),
                   inputs=[_ties(shape)], device=device)
    x = _ties(shape, seed=2)
    _, ti = TF.adaptive_max_pool2d(torch.tensor(x), out, return_indices=True)
    _, vi = F.adaptive_max_pool2d(vl.tensor(x, device=device), out, return_indices=True)
    np.testing.assert_array_equal(vi.cpu().numpy(), ti.numpy())


def test_adaptive_1d_pools_match_torch():
    for name in ("adaptive_avg_pool1d", "adaptive_max_pool1d"):
        helper_test_op([(2, 3, 10)], lambda x, n=name: getattr(TF, n)(x, 4),
                       lambda x, n=name: getattr(F, n)(x, 4))


@pytest.mark.parametrize("fn", [
    lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
    lambda x: F.max_pool2d(x, 2, 1, dilation=2),
    lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
    lambda x: F.avg_pool2d(x, 2, ceil_mode=True),
    lambda x: F.adaptive_avg_pool2d(x, (2, 3)),
    lambda x: F.adaptive_max_pool2d(x, (3, 2)),
])
def test_pool_gradcheck(fn):
    x = np.random.default_rng(0).permutation(50).reshape(1, 2, 5, 5) * 0.1  # distinct values: no kinks
    gradcheck(fn, [x])


@pytest.mark.parametrize("call,err,pattern", [
    (lambda: F.max_pool2d(vl.randn(1, 1, 4, 4), 2, padding=2), ValueError, "pad should be at most half"),
    (lambda: F.avg_pool2d(vl.randn(1, 1, 4, 4), 3, padding=2), ValueError, "pad should be at most half"),
    (lambda: F.max_pool2d(vl.randn(4, 4), 2), RuntimeError, "3D \\(unbatched\\) or 4D"),
    (lambda: F.max_pool2d(vl.randn(1, 1, 2, 2), 3), RuntimeError, "too small"),
    (lambda: F.max_pool2d(vl.randn(1, 1, 4, 4), 0), ValueError, "must be positive"),
    (lambda: F.avg_pool2d(vl.randn(1, 1, 4, 4), 2, divisor_override=0), RuntimeError, "non-zero"),
    (lambda: F.adaptive_avg_pool2d(vl.randn(1, 1, 4, 4), (0, 2)), ValueError, "positive"),
    (lambda: F.adaptive_max_pool2d(vl.randn(1, 4, 4), (1, 2, 3)), ValueError, "output_size"),
])
def test_bad_arguments_raise_clear_errors(call, err, pattern):
    with pytest.raises(err, match=pattern):
        call()


MODULES = [
    lambda m: m.MaxPool2d(3, 2, 1, ceil_mode=True),
    lambda m: m.MaxPool2d(2),
    lambda m: m.MaxPool1d(3),
    lambda m: m.AvgPool2d(2),
    lambda m: m.AvgPool2d(3, 1, 1, count_include_pad=False),
    lambda m: m.AvgPool1d(3),
    lambda m: m.AdaptiveAvgPool2d((2, 3)),
    lambda m: m.AdaptiveAvgPool2d(1),
    lambda m: m.AdaptiveMaxPool2d(3),
    lambda m: m.AdaptiveAvgPool1d(2),
    lambda m: m.AdaptiveMaxPool1d(2),
]


@pytest.mark.parametrize("make", MODULES)
def test_modules_match_torch(make):
    tm, vm = make(torch.nn), make(nn)
    assert repr(vm) == repr(tm)
    shape = (2, 3, 9) if "1d" in type(tm).__name__ else (2, 3, 9, 8)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(vm(vl.tensor(x)).numpy(), tm(torch.tensor(x)).numpy(), atol=1e-6)


def test_max_pool_module_return_indices():
    x = _ties((1, 2, 6, 6))
    tv, ti = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    vv, vi = nn.MaxPool2d(2, return_indices=True)(vl.tensor(x))
    np.testing.assert_array_equal(vi.numpy(), ti.numpy())


@pytest.fixture
def threaded(monkeypatch):
    """Split even small arrays across 3 threads, so the parallel paths (uneven parts) are exercised."""
    from visionlite.core.ops import _threads

    monkeypatch.setattr(_threads, "_MIN_ELEMS", 0)
    monkeypatch.setenv("VISIONLITE_NUM_THREADS", "3")


@pytest.mark.parametrize("fn", [
    lambda lib, x: lib.max_pool2d(x, 3, 2, 1, ceil_mode=True),
    lambda lib, x: lib.max_pool2d(x, 2),
    lambda lib, x: lib.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
    lambda lib, x: lib.avg_pool2d(x, 2),
])
def test_pools_threaded_match_torch(threaded, fn):
    helper_test_op([(4, 3, 9, 8)], lambda x: fn(TF, x), lambda x: fn(F, x), inputs=[_ties((4, 3, 9, 8))])


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_threaded_ops_work_in_a_forked_child(threaded):
    import os

    x = vl.randn(4, 3, 8, 8)
    F.max_pool2d(x, 2)  # the parent's thread pool exists now
    pid = os.fork()
    if pid == 0:  # a data-loader-like child: must build its own pool instead of waiting forever
        ok = tuple(F.max_pool2d(x, 2).shape) == (4, 3, 4, 4)
        os._exit(0 if ok else 1)
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert status == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("a threaded op hung in the forked child")


@pytest.mark.parametrize("args,kw,tiled", [
    ((2,), {}, True),  # 2x2/2: windows tile the input (the last row and column left over get zeros)
    (((2, 3),), {}, True),
    ((2,), {"ceil_mode": True}, False),  # the last windows overhang the input
    ((3, 2, 1), {}, False),  # overlapping, padded
])
def test_max_pool_backward_writes_tiled_windows_directly(args, kw, tiled, monkeypatch):
    from tests.helpers.conv_paths import count_calls
    from visionlite.core.ops import pool

    calls = count_calls(monkeypatch, pool, ("_tiled_backward",))
    helper_test_op([(2, 3, 7, 9)], lambda x: TF.max_pool2d(x, *args, **kw),
                   lambda x: F.max_pool2d(x, *args, **kw), inputs=[_ties((2, 3, 7, 9), seed=3)])
    assert calls == (["_tiled_backward"] if tiled else [])
