"""Small PyTorch-compatibility fixes, each checked against torch: ``Tensor.random_`` ranges,
``tril_indices``/``triu_indices`` dtype and device, the 1x1-convolution dtype."""

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require

torch = require("torch")

# dtypes with few enough integers in random_()'s range that 200k draws reach every one of them
SMALL_RANGE = ["bool", "uint8", "int8", "float16", "bfloat16"]
LARGE_RANGE = ["float32", "float64", "int16", "int32", "int64"]


def _values(t):
    """The distinct values drawn (as float64, which holds every one of them exactly)."""
    return np.unique(t.double().numpy())


@pytest.mark.parametrize("name", SMALL_RANGE)
def test_random_no_args_covers_torch_range(name):
    ours = vl.empty(200_000, dtype=getattr(vl, name)).random_(generator=vl.Generator().manual_seed(0))
    ref = torch.empty(200_000, dtype=getattr(torch, name)).random_(generator=torch.Generator().manual_seed(0))
    assert ours.dtype == getattr(vl, name)
    np.testing.assert_array_equal(_values(ours), _values(ref))


@pytest.mark.parametrize("name", LARGE_RANGE)
def test_random_no_args_top_matches_torch(name):
    ours = vl.empty(4000, dtype=getattr(vl, name)).random_().double().numpy()
    ref = torch.empty(4000, dtype=getattr(torch, name)).random_().double().numpy()
    # both reach into the top percent of the same range and never past it, nor below 0
    top = float(ref.max())
    assert ours.min() >= 0 and ref.min() >= 0
    assert ours.max() <= top / 0.99 and ours.max() >= top * 0.99
    assert np.all(ours == np.round(ours))


@pytest.mark.parametrize(
    "name,args",
    [
        ("float32", (7,)),
        ("int8", (-3, 4)),
        ("int8", (120, None)),
        ("uint8", (250, None)),
        ("float64", (2, 5)),
    ],
)
def test_random_from_to_as_torch(name, args):
    ours = vl.empty(20_000, dtype=getattr(vl, name)).random_(*args)
    ref = torch.empty(20_000, dtype=getattr(torch, name)).random_(*args)
    np.testing.assert_array_equal(_values(ours), _values(ref))


def test_random_keywords_and_generator():
    a = vl.empty(50).random_(**{"from": 3, "to": 9}, generator=vl.Generator().manual_seed(1))
    b = vl.empty(50).random_(3, 9, generator=vl.Generator().manual_seed(1))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    c = vl.empty(2000, dtype=vl.int64).random_(to=4)
    assert set(np.unique(c.numpy())) == set(
        torch.empty(2000, dtype=torch.int64).random_(to=4).unique().tolist()
    )


@pytest.mark.parametrize(
    "name,args,words",
    [
        ("uint8", (-1, 5), "from"),
        ("uint8", (0, 300), "to - 1"),
        ("int8", (5, 5), "less than"),
        ("float32", (4, 2), "less than"),
    ],
)
def test_random_bad_bounds_raise_like_torch(name, args, words):
    with pytest.raises(RuntimeError):
        torch.empty(3, dtype=getattr(torch, name)).random_(*args)
    with pytest.raises(RuntimeError, match=words):
        vl.empty(3, dtype=getattr(vl, name)).random_(*args)


def test_random_float_beyond_exact_range_warns_like_torch():
    with pytest.warns(UserWarning):
        ref = torch.empty(4000).random_(0, 2**25)
    with pytest.warns(UserWarning, match="to - 1"):
        ours = vl.empty(4000).random_(0, 2**25)
    assert ours.max().item() > 2**24 and ref.max().item() > 2**24
    assert ours.max().item() <= 2**25 and ours.min().item() >= 0


@pytest.mark.parametrize("fn", ["tril_indices", "triu_indices"])
@pytest.mark.parametrize("dtype", [None, "int32", "int64"])
@pytest.mark.parametrize("shape", [(3, 3, 0), (4, 6, -1), (5, 2, 1), (0, 3, 0)])
def test_triangle_indices_dtype_device(fn, dtype, shape):
    ours = getattr(vl, fn)(*shape, dtype=None if dtype is None else getattr(vl, dtype), device="cpu")
    ref = getattr(torch, fn)(*shape, dtype=None if dtype is None else getattr(torch, dtype), device="cpu")
    assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
    assert ours.device.type == ref.device.type == "cpu"
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())


@pytest.mark.parametrize("fn", ["tril_indices", "triu_indices"])
def test_triangle_indices_reject_float_dtype(fn):
    with pytest.raises(RuntimeError):
        getattr(torch, fn)(3, 3, dtype=torch.float32)
    with pytest.raises(RuntimeError, match="int64 or int32"):
        getattr(vl, fn)(3, 3, dtype=vl.float32)


@pytest.mark.parametrize("name", ["bfloat16", "float16"])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("stride,groups,bias", [(1, 1, False), (2, 1, True), (1, 2, True)])
def test_pointwise_conv_keeps_low_precision_dtype(name, transpose, stride, groups, bias):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 5, 6)).astype(np.float32)
    w = rng.standard_normal((4, 6 // groups, 1, 1) if transpose else (6, 4 // groups, 1, 1)).astype(
        np.float32
    )
    b = rng.standard_normal(6).astype(np.float32) if bias else None
    fn = "conv_transpose2d" if transpose else "conv2d"
    outs, grads = [], []
    for lib, F in ((vl, vl.nn.functional), (torch, torch.nn.functional)):
        dt = getattr(lib, name)
        xt = lib.tensor(x).to(dt).requires_grad_()
        wt = lib.tensor(w).to(dt).requires_grad_()
        bt = None if b is None else lib.tensor(b).to(dt)
        y = getattr(F, fn)(xt, wt, bt, stride=stride, groups=groups)
        (y.float() * lib.linspace(-1, 1, y.numel()).reshape(y.shape)).sum().backward()
        outs.append(y)
        grads.append((xt.grad, wt.grad))
    ours, ref = outs
    assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1] == name
    tol = 2e-2 if name == "bfloat16" else 2e-3
    np.testing.assert_allclose(
        ours.detach().float().numpy(), ref.detach().float().numpy(), rtol=tol, atol=tol * 4
    )
    for g, rg in zip(*grads):
        assert str(g.dtype).split(".")[-1] == name
        np.testing.assert_allclose(g.float().numpy(), rg.float().numpy(), rtol=tol, atol=tol * 8)


@pytest.mark.parametrize("out_size", [(3, 2, 4), 2, (1, 5, 3)])
def test_adaptive_max_pool3d_double_backward_as_torch(out_size):
    # d/dx and d/dw of |d(sum (w * y)^3)/dx|^2 through adaptive_max_pool3d (float64), uneven windows
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 4, 5, 6))
    w = rng.standard_normal(2)

    def second(lib):
        xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.adaptive_max_pool3d(xt, out_size) * wt.reshape(1, 2, 1, 1, 1)
        (gx,) = lib.autograd.grad((y**3).sum(), xt, create_graph=True)
        return [g.detach().numpy() for g in lib.autograd.grad((gx**2).sum(), (xt, wt))]

    for ours, theirs in zip(second(vl), second(torch)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10 * np.abs(theirs).max())
