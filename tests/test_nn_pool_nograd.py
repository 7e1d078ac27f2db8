"""Max pooling without autograd (eval / no_grad): the untracked path (no winning-tap bookkeeping; large
windows as a row max then a column max) against PyTorch, with ties, -inf and NaN inputs."""
import numpy as np
import pytest

import visionlite as vl
import visionlite.nn.functional as F
from tests.helpers.refs import require

torch = require("torch")
TF = torch.nn.functional

CASES = [  # (shape, args, kwargs)
    ((2, 3, 8, 8), (2,), {}),
    ((2, 3, 9, 7), (3, 2, 1), {}),  # the ResNet stem's pooling
    ((2, 3, 9, 7), (3, 2, 1), {"ceil_mode": True}),
    ((2, 3, 10, 11), ((3, 2), (2, 1), (1, 0)), {"dilation": (2, 3), "ceil_mode": True}),
    ((1, 2, 7, 7), (3, 1, 1), {}),  # overlapping windows
    ((3, 5, 6), (3,), {"ceil_mode": True}),  # unbatched, partial last window
    ((1, 1, 5, 5), (5,), {}),  # one window
    ((2, 2, 6, 9), ((2, 3),), {"stride": (1, 2)}),
    ((1, 2, 30, 30), (13, 3, 6), {}),  # 169 taps
    ((1, 2, 2, 2), (2, 1, 1), {"dilation": 3}),  # a window that holds padding only
    ((2, 4, 12, 12), ((3, 5), (1, 3), (1, 2)), {"dilation": (2, 1), "ceil_mode": True}),
]


def _inputs(shape, kind, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, size=shape).astype(np.float32) if kind == "ties" else rng.standard_normal(shape)
    x = x.astype(np.float32)
    if kind in ("-inf", "nan"):
        where = rng.choice(x.size, size=max(1, x.size // 3), replace=False)
        x.flat[where] = -np.inf if kind == "-inf" else np.nan
    return x


def _check(shape, args, kw, kind, threaded=False):
    x = _inputs(shape, kind)
    want = TF.max_pool2d(torch.tensor(x), *args, **kw).numpy()
    with vl.no_grad():
        got = F.max_pool2d(vl.tensor(x), *args, **kw).numpy()
    np.testing.assert_array_equal(got, want)  # NaN positions must agree too


@pytest.mark.parametrize("shape,args,kw", CASES)
@pytest.mark.parametrize("kind", ["random", "ties", "-inf", "nan"])
def test_no_grad_max_pool_matches_torch(shape, args, kw, kind):
    _check(shape, args, kw, kind)


@pytest.mark.parametrize("shape,args,kw", [c for c in CASES if c[2].get("dilation") != 3])  # (1)
def test_no_grad_return_indices_match_torch(shape, args, kw):
    x = _inputs(shape, "ties", seed=1)
    tv, ti = TF.max_pool2d(torch.tensor(x), *args, return_indices=True, **kw)
    with vl.no_grad():
        vv, vi = F.max_pool2d(vl.tensor(x), *args, return_indices=True, **kw)
    np.testing.assert_array_equal(vi.numpy(), ti.numpy())
    np.testing.assert_array_equal(vv.numpy(), tv.numpy())


# (1) A window of padding only has no input position; PyTorch reports one past its clipped start.


def test_eval_module_matches_torch_in_float64_and_int():
    x = _inputs((2, 3, 11, 10), "random")
    for dtype in (np.float64, np.int32):
        a = (x * 10).astype(dtype)
        want = TF.max_pool2d(torch.tensor(a), 3, 2, 1).numpy()
        got = vl.nn.MaxPool2d(3, 2, 1).eval()(vl.tensor(a)).numpy()
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape,args,kw", CASES[:5])
def test_no_grad_threaded_matches_torch(monkeypatch, shape, args, kw):
    from visionlite.core.ops import _threads

    monkeypatch.setattr(_threads, "_MIN_ELEMS", 0)
    monkeypatch.setenv("VISIONLITE_NUM_THREADS", "3")
    _check((5,) + shape[1:] if len(shape) == 4 else shape, args, kw, "random")
