"""Regression tests for silent wrong results found by a hardening pass (issue 10): each case now
equals PyTorch/TorchVision on the same input, or raises where they raise."""

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite import data

torch = require("torch")


def _outcome(fn, batch):
    try:
        return fn(batch)
    except Exception as e:  # noqa: BLE001 - the kind is compared with PyTorch's
        return e


# ------------------------------------------------------------------------------------- default_collate

COLLATE_CASES = [
    [0, 0.5], [True, 2, 0], [True, False], [0.5, 1], [0.5, True], [2**40, 1], [2**63, 1],
    [np.float32(1), np.float64(2)], [np.int32(1), np.int64(2)], [np.int32(1), np.float32(2)],
    [np.uint8(1), np.int8(1)], [np.float16(1), np.float16(2)], [np.int32(1), 2], [np.int32(1), 2.5],
    [np.float32(1), 2.5], [1, np.float64(2)], [1, np.int32(2)], [1, np.float32(2)], [1.0, np.float32(2)],
    [True, np.float32(2)], [np.float64(1), 1], [1, "a"], [1, [1]], [0.5, "a"],
    [None], [1, None], [0.5, None], [np.float32(1), None], [(1, 2), (0.5, 3)], [{"a": 1}, {"a": 0.5}],
    [np.zeros(2, np.int32), np.zeros(2, np.float32)], [np.zeros(2, np.int64), np.ones(2, np.float32)],
    [np.zeros(2, np.uint8), np.ones(2, np.int8)], [np.str_("a"), np.str_("b")], [np.bytes_(b"a")],
    [np.int64(1), np.array(2.5)], [1, True, np.float16(2)], [np.int8(1), np.uint8(2)],
]


def _flatten(x):
    if isinstance(x, dict):
        return [v for k in sorted(x) for v in _flatten(x[k])]
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _flatten(item)]
    return [x]


@pytest.mark.parametrize("batch", COLLATE_CASES, ids=[repr(c)[:40] for c in COLLATE_CASES])
def test_default_collate_dtype_over_all_samples_matches_torch(batch):
    theirs = _outcome(torch.utils.data.default_collate, batch)
    ours = _outcome(data.default_collate, batch)
    if isinstance(theirs, Exception):
        assert isinstance(ours, Exception), f"torch raises {theirs!r}, visionlite returned {ours!r}"
        assert isinstance(ours, type(theirs)), (ours, theirs)
        return
    assert not isinstance(ours, Exception), f"visionlite raised {ours!r}; torch gives {theirs!r}"
    for o, t in zip(_flatten(ours), _flatten(theirs), strict=True):
        if isinstance(t, (str, bytes)):  # strings stay a list, as they came
            assert type(o) is type(t) and o == t
            continue
        assert str(o.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        np.testing.assert_array_equal(o.numpy(), t.numpy())


def test_default_collate_tensor_batch_promotes_like_torch_stack():
    ours = data.default_collate([vl.zeros(2, dtype=vl.int64), vl.ones(2)])
    theirs = torch.utils.data.default_collate([torch.zeros(2, dtype=torch.int64), torch.ones(2)])
    assert ours.dtype == vl.float32 and theirs.dtype == torch.float32
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_default_collate_none_sample_message():
    with pytest.raises(TypeError, match=r"found <class 'NoneType'>"):
        data.default_collate([None, None])
    with pytest.raises(RuntimeError, match="Could not infer dtype of NoneType.*sample 1 is None"):
        data.default_collate([1, None])


# ------------------------------------------------------------------------------ indices out of range

_A = np.arange(12.0, dtype=np.float32).reshape(3, 4)

INDEX_OPS = {
    "gather": (lambda m, t, i: t.gather(0, m.tensor([i]))),
    "index_select": (lambda m, t, i: t.index_select(0, m.tensor(i))),
    "scatter": (lambda m, t, i: t.scatter(0, m.tensor([i]), 1.0)),
    "scatter_add": (lambda m, t, i: t.scatter_add(0, m.tensor([i]), t[:1, :2])),
    "index_fill": (lambda m, t, i: t.index_fill(0, m.tensor(i), 5.0)),
    "take": (lambda m, t, i: t.take(m.tensor(i) * 4)),
    "index_add": (lambda m, t, i: t.index_add(0, m.tensor(i), t[:2] * 2)),
    "index_copy": (lambda m, t, i: t.index_copy(0, m.tensor(i), t[:2] * 2)),
    "put": (lambda m, t, i: t.put(m.tensor(i) * 4, t[0, :2] + 100)),
    "put_accumulate": (lambda m, t, i: t.put(m.tensor(i) * 4, t[0, :2] + 100, accumulate=True)),
    "index_add_": (lambda m, t, i: t.clone().index_add_(1, m.tensor(i), t[:, :2], alpha=3)),
    "embedding": (lambda m, t, i: m.nn.functional.embedding(m.tensor(i), t)),
    "Embedding": (lambda m, t, i: m.nn.Embedding(3, 2)(m.tensor(i)).shape),
}


@pytest.mark.parametrize("idx", [[-1, 0], [0, 3], [-4, 0], [0, 2]], ids=str)
@pytest.mark.parametrize("op", list(INDEX_OPS))
def test_index_ops_refuse_or_wrap_exactly_as_torch(op, idx):
    fn = INDEX_OPS[op]
    theirs = _outcome(lambda i: fn(torch, torch.tensor(_A), i), idx)
    ours = _outcome(lambda i: fn(vl, vl.tensor(_A), i), idx)
    if isinstance(theirs, Exception):
        assert isinstance(ours, type(theirs)), f"torch raises {theirs!r}; visionlite gives {ours!r}"
    elif isinstance(theirs, torch.Size):
        assert tuple(ours) == tuple(theirs)
    else:
        assert not isinstance(ours, Exception), f"visionlite raised {ours!r}; torch gives {theirs}"
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


# ------------------------------------------------------------------------------ integer division by 0

DIV_CASES = {
    "//tensor": lambda m, a, b: a // b,
    "//0": lambda m, a, b: a // 0,
    "%tensor": lambda m, a, b: a % b,
    "%0": lambda m, a, b: a % 0,
    "5//t": lambda m, a, b: 5 // b,
    "div_floor": lambda m, a, b: m.div(a, b, rounding_mode="floor"),
    "div_trunc": lambda m, a, b: m.div(a, b, rounding_mode="trunc"),
    "div_true": lambda m, a, b: m.div(a, b),
    "fmod": lambda m, a, b: m.fmod(a, b),
    "remainder": lambda m, a, b: m.remainder(a, b),
    "floor_divide": lambda m, a, b: m.floor_divide(a, b),
    "div_": lambda m, a, b: a.clone().div_(b, rounding_mode="trunc"),
}


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "float32"])
@pytest.mark.parametrize("case", list(DIV_CASES))
def test_integer_division_by_zero_raises_like_torch(case, dtype):
    a_np = np.array([5, 3, 0, 7], dtype=dtype)
    b_np = np.array([2, 0, 1, 3], dtype=dtype)
    fn = DIV_CASES[case]
    theirs = _outcome(lambda _: fn(torch, torch.tensor(a_np), torch.tensor(b_np)), None)
    with np.errstate(all="raise"):  # float results must come without numpy warnings, as torch's do
        ours = _outcome(lambda _: fn(vl, vl.tensor(a_np), vl.tensor(b_np)), None)
    if isinstance(theirs, Exception):
        assert isinstance(ours, RuntimeError) and isinstance(ours, ZeroDivisionError), repr(ours)
        assert "ZeroDivisionError" in str(theirs) and "ZeroDivisionError" in str(ours)
    else:
        assert not isinstance(ours, Exception), repr(ours)
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_integer_trunc_division_is_exact_for_large_int64():
    a = np.array([2**62 + 1, -(2**62 + 1), 7, -7, 7, -7], dtype=np.int64)
    b = np.array([3, 3, 2, 2, -2, -2], dtype=np.int64)
    ours = vl.div(vl.tensor(a), vl.tensor(b), rounding_mode="trunc").numpy()
    theirs = torch.div(torch.tensor(a), torch.tensor(b), rounding_mode="trunc").numpy()
    np.testing.assert_array_equal(ours, theirs)


# ------------------------------------------------------------------------------ RandomResizedCrop on 0x0

@pytest.mark.parametrize("shape", [(3, 0, 0), (3, 0, 5), (3, 5, 0)])
def test_random_resized_crop_of_an_empty_image_is_a_clear_error(shape):
    from visionlite import transforms as T
    from visionlite.transforms import v2

    for t in (T.RandomResizedCrop(4), v2.RandomResizedCrop(4)):
        with pytest.raises(ValueError, match=r"empty image of size \d+x\d+"):
            t(vl.zeros(*shape))
    with pytest.raises(ValueError, match="empty image"):
        T.RandomResizedCrop(4)(__import__("PIL.Image").Image.new("RGB", (0, 0)))


@pytest.mark.parametrize("op", ["index_add", "index_copy", "put"])
def test_index_writes_have_torch_gradients(op):
    rng = np.random.default_rng(5)
    a, src = rng.standard_normal((4, 5)), rng.standard_normal((3, 5))
    idx = np.array([2, 0, 3])
    w = rng.standard_normal((4, 5))
    results = []
    for m in (torch, vl):
        x, s = m.tensor(a, requires_grad=True), m.tensor(src, requires_grad=True)
        i = m.tensor(idx)
        if op == "index_add":
            out = x.index_add(0, i, s, alpha=2.0)
        elif op == "index_copy":
            out = x.index_copy(0, i, s)
        else:
            out = x.put(i * 5 - 1, s[0, :3], accumulate=True)
        (out * m.tensor(w)).sum().backward()
        results.append([out.detach().numpy(), x.grad.numpy(), s.grad.numpy()])
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
