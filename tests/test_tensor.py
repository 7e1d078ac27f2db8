"""Tensor creation, dtypes and promotion, conversion, printing, devices and error messages."""

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require


def test_dtype_inference_follows_torch():
    assert vl.tensor([1, 2]).dtype == vl.int64
    assert vl.tensor([1.0, 2]).dtype == vl.float32
    assert vl.tensor([True, False]).dtype == vl.bool
    assert vl.tensor(np.zeros(2, np.float64)).dtype == vl.float64
    assert vl.tensor(3.5).shape == ()
    assert vl.full((2,), 7).dtype == vl.int64
    assert vl.full((2,), 7.0).dtype == vl.float32
    assert vl.arange(5).dtype == vl.int64 and vl.arange(0, 1, 0.25).dtype == vl.float32


PROMOTION_CASES = [
    ("int32", "float16"),
    ("uint8", "int8"),
    ("int64", "float32"),
    ("float16", "float32"),
    ("bool", "int32"),
    ("uint8", "bool"),
    ("int16", "int64"),
    ("float64", "int8"),
]


@pytest.mark.parametrize("da,db", PROMOTION_CASES)
def test_tensor_tensor_promotion_matches_torch(da, db):
    torch = require("torch")
    a, b = np.ones(3, da), np.ones(3, db)
    got = (vl.tensor(a) + vl.tensor(b)).dtype.name
    want = str((torch.tensor(a) + torch.tensor(b)).dtype).split(".")[1]
    assert got == want


@pytest.mark.parametrize("dt", ["uint8", "int32", "int64", "float16", "float32", "float64", "bool"])
@pytest.mark.parametrize("scalar", [2, 2.5, True])
def test_scalar_and_zero_dim_promotion_matches_torch(dt, scalar):
    torch = require("torch")
    a = np.ones(3, dt)
    assert (vl.tensor(a) * scalar).dtype.name == str((torch.tensor(a) * scalar).dtype).split(".")[1]
    z = np.array(
        scalar, dtype=np.float64 if isinstance(scalar, float) and not isinstance(scalar, bool) else None
    )
    got = (vl.tensor(a) * vl.tensor(z)).dtype.name
    want = str((torch.tensor(a) * torch.tensor(z)).dtype).split(".")[1]
    assert got == want


def test_integer_true_division_gives_float():
    assert (vl.tensor([1, 2]) / 2).dtype == vl.float32
    np.testing.assert_allclose((vl.tensor([1, 3]) / vl.tensor([2, 2])).numpy(), [0.5, 1.5])
    assert (vl.tensor([7, -7]) // 2).tolist() == [3, -4]


def test_from_numpy_shares_memory_and_numpy_roundtrip():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = vl.from_numpy(a)
    a[0, 0] = 42
    assert t[0, 0].item() == 42
    assert t.numpy() is a
    assert np.asarray(t).shape == (2, 3)
    with pytest.raises(RuntimeError, match="requires grad"):
        vl.tensor([1.0], requires_grad=True).numpy()


def test_creation_functions():
    assert vl.zeros(2, 3).shape == (2, 3) and vl.ones((2,)).sum().item() == 2
    assert vl.empty(0, 3).shape == (0, 3)
    assert vl.eye(3).sum().item() == 3
    np.testing.assert_allclose(vl.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1])
    x = vl.randn(3, 4)
    assert vl.zeros_like(x).shape == (3, 4) and vl.ones_like(x, dtype=vl.int64).dtype == vl.int64
    assert sorted(vl.randperm(10).tolist()) == list(range(10))
    r = vl.randint(0, 5, (100,))
    assert r.dtype == vl.int64 and 0 <= r.min().item() and r.max().item() < 5
    with pytest.raises(RuntimeError, match="negative dimension"):
        vl.zeros(-1)


def test_manual_seed_repeats_and_generators_are_independent():
    vl.manual_seed(123)
    a = vl.randn(5)
    vl.manual_seed(123)
    b = vl.randn(5)
    assert np.array_equal(a.numpy(), b.numpy())
    g1 = vl.Generator().manual_seed(7)
    g2 = vl.Generator().manual_seed(7)
    assert np.array_equal(vl.rand(4, generator=g1).numpy(), vl.rand(4, generator=g2).numpy())
    state = g1.get_state()
    x = vl.rand(3, generator=g1)
    g1.set_state(state)
    assert np.array_equal(x.numpy(), vl.rand(3, generator=g1).numpy())


@pytest.mark.parametrize(
    "value,expected",
    [
        (lambda: vl.tensor([1.0, 2.0]), "tensor([1., 2.])"),
        (lambda: vl.tensor([0.1, 2.5]), "tensor([0.1000, 2.5000])"),
        (lambda: vl.tensor([1, 2]), "tensor([1, 2])"),
        (lambda: vl.tensor([1, 2], dtype=vl.int32), "tensor([1, 2], dtype=visionlite.int32)"),
        (lambda: vl.tensor([True]), "tensor([True])"),
        (lambda: vl.tensor([1.0], requires_grad=True), "tensor([1.], requires_grad=True)"),
        (lambda: vl.tensor([1.0], requires_grad=True) * 2, "tensor([2.], grad_fn=<MulBackward0>)"),
        (lambda: vl.tensor(3.0), "tensor(3.)"),
    ],
)
def test_repr_like_pytorch(value, expected):
    assert repr(value()) == expected


def test_conversions():
    x = vl.tensor([1.7, -2.2])
    assert x.long().tolist() == [1, -2]
    assert x.half().dtype == vl.float16 and x.double().dtype == vl.float64
    assert x.to(vl.int32).dtype == vl.int32 and x.to("float64").dtype == vl.float64
    assert vl.tensor([3]).item() == 3 and isinstance(vl.tensor([3]).item(), int)
    assert float(vl.tensor(2.5)) == 2.5
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        x.item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x > 0)


def test_shape_errors_name_op_and_shapes():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"):
        vl.zeros(2, 3) @ vl.zeros(4, 5)
    with pytest.raises(RuntimeError, match="invalid for input of size 6"):
        vl.zeros(2, 3).reshape(4, 2)
    with pytest.raises(IndexError, match="dimension out of range"):
        vl.zeros(2, 3).sum(2)
    with pytest.raises(RuntimeError, match="Sizes of tensors must match"):
        vl.cat([vl.zeros(2, 3), vl.zeros(2, 4)])
    with pytest.raises(RuntimeError, match=r"add: the size of tensor a \(3\) must match .* tensor b \(4\)"):
        vl.zeros(2, 3) + vl.zeros(4)
    with pytest.raises(RuntimeError, match=r"lt: .*shapes \[2, 3\] and \[2\]"):
        _ = vl.zeros(2, 3) < vl.zeros(2)
    with pytest.raises(IndexError, match="out of bounds"):
        vl.zeros(2, 3)[5]
    with pytest.raises(RuntimeError, match="can't be cast"):
        vl.zeros(2, dtype=vl.int64).add_(0.5)


def test_cuda_without_gpu_names_the_reason():
    if vl.cuda_available():
        pytest.skip("a GPU is present: this checks the message on machines without one")
    with pytest.raises(RuntimeError, match="CUDA is not available: cupy"):
        vl.zeros(2).to("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        vl.zeros(2).to(vl.device("tpu"))


def test_device_objects():
    assert str(vl.device("cuda:1")) == "cuda:1" and vl.device("cpu") == "cpu"
    assert vl.zeros(1).device == vl.device("cpu")


def test_mixed_devices_raise(device):
    if device == "cpu":
        pytest.skip("needs a GPU to mix devices")
    with pytest.raises(RuntimeError, match="same device"):
        vl.zeros(2) + vl.zeros(2, device=device)


def test_ops_on_device_match_cpu(gpu):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)
    out = {}
    device = gpu
    for dev in ("cpu", device):
        x = vl.tensor(a, device=dev, requires_grad=True)
        y = vl.tensor(b, device=dev, requires_grad=True)
        z = ((x @ y).relu().softmax(1) * 3).log_softmax(0).sum()
        z.backward()
        out[dev] = (z.item(), x.grad.cpu().numpy(), y.grad.cpu().numpy())
    np.testing.assert_allclose(out["cpu"][0], out[device][0], rtol=1e-5)
    np.testing.assert_allclose(out["cpu"][1], out[device][1], rtol=1e-4, atol=1e-6)


def test_zero_size_and_negative_dims():
    x = vl.zeros(0, 3, requires_grad=True)
    y = x.sum(-1)
    assert y.shape == (0,)
    x.sum().backward()
    assert x.grad.shape == (0, 3)
    assert vl.zeros(2, 3, 4).transpose(-1, -3).shape == (4, 3, 2)


def test_bool_and_integer_ops():
    a = vl.tensor([True, False])
    assert (a & vl.tensor([True, True])).tolist() == [True, False]
    assert (~a).tolist() == [False, True]
    assert vl.tensor([1, 2, 3]).sum().dtype == vl.int64
    assert (vl.tensor([1, 2]) == vl.tensor([1, 3])).tolist() == [True, False]


@pytest.mark.parametrize(
    "values",
    [
        [[4.0, 6.0], [8.0, 10.0]],
        [0.1, -2.5, 100.25],
        [1e-5, 1.0],
        [1e9, 1.0],
        [0.0, float("nan"), float("inf"), 1.5],
        [[1, 20], [3, 4]],
        [0.25, 0.5],
    ],
)
def test_repr_matches_torch_layout(values):
    torch = require("torch")
    assert repr(vl.tensor(values)) == repr(torch.tensor(values))


def test_list_of_zero_dim_tensors_and_format_and_size():
    t = vl.tensor([vl.tensor(1.5), vl.tensor(2.0)])
    assert t.dtype == vl.float32 and t.tolist() == [1.5, 2.0]
    assert f"{vl.tensor(3.14159):.2f}" == "3.14"
    s = vl.zeros(size=(2, 3)).shape
    assert s == (2, 3) and s.numel() == 6 and repr(s) == "visionlite.Size([2, 3])" and s[1:] == (3,)
    assert vl.sub(vl.ones(2), vl.ones(2), alpha=2).tolist() == [-1.0, -1.0]


def test_reductions_on_zero_dim_and_empty_inputs_match_torch():
    torch = require("torch")
    assert vl.tensor(3.0).sum(0).item() == torch.tensor(3.0).sum(0).item()
    assert vl.tensor(3.0).cumsum(0).shape == torch.tensor(3.0).cumsum(0).shape
    np.testing.assert_array_equal(vl.zeros(0, 3).logsumexp(0).numpy(), torch.zeros(0, 3).logsumexp(0).numpy())
    assert vl.ones(2, 3).sum(dim=()).item() == torch.ones(2, 3).sum(dim=()).item()


def test_advanced_indexing_with_ints_follows_torch_dim_order():
    torch = require("torch")
    a = np.arange(24.0).reshape(2, 3, 4)
    for index in [(0, slice(None), [1, 2]), (0, Ellipsis, [1, 2]), (None, 1, slice(None), [0, 2])]:
        t_index = tuple(torch.tensor(i) if isinstance(i, list) else i for i in index)
        np.testing.assert_array_equal(vl.tensor(a)[index].numpy(), torch.tensor(a)[t_index].numpy())
    x, tx = vl.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    x[0, :, [1, 2]] = vl.ones(3, 2)
    tx[0, :, [1, 2]] = torch.ones(3, 2)
    np.testing.assert_array_equal(x.numpy(), tx.numpy())


def test_bfloat16_stays_bfloat16():
    if vl.bfloat16 is None:
        pytest.skip("ml_dtypes is not installed: bfloat16 is unavailable")
    x = vl.ones(2, 2, dtype=vl.bfloat16)
    for out in (x.exp(), x / 2, x @ x, x.mean(), x.sigmoid()):
        assert out.dtype == vl.bfloat16


def test_clear_errors_for_bad_arguments():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        vl.zeros(2).to("tpu")
    with pytest.raises(RuntimeError, match="chunks"):
        vl.zeros(2, 3).chunk(0)
    with pytest.raises(RuntimeError, match=r"masked_fill: the mask of shape \[4\]"):
        vl.zeros(2, 3).masked_fill(vl.zeros(4, dtype=vl.bool), 1.0)
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        vl.zeros(2, 3).scatter(1, vl.tensor([0, 1]), 1.0)


def test_repr_of_large_tensors_is_summarised_like_torch():
    torch = require("torch")
    a = np.random.default_rng(0).standard_normal((40, 40)).astype(np.float32)
    assert repr(vl.tensor(a)) == repr(torch.tensor(a))
    assert repr(vl.arange(2000.0)).replace("visionlite", "torch") == repr(torch.arange(2000.0))
    assert repr(vl.tensor([True, False])) == repr(torch.tensor([True, False]))
