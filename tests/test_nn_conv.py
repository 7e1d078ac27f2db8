"""Convolutions: F.conv1d/conv2d/conv_transpose1d/conv_transpose2d and the Conv modules, against PyTorch
(forward and gradients, same inputs and weights) and float64 finite differences."""
import math

import numpy as np
import pytest

import visionlite as vl
import visionlite.nn.functional as F
from tests.helpers.op_check import gradcheck, helper_test_op
from tests.helpers.refs import require
from visionlite import nn
from visionlite.core.ops import conv as conv_ops

torch = require("torch")
TF = torch.nn.functional

CONV2D = [  # (input shape, weight shape, bias, kwargs)
    ((2, 3, 7, 9), (4, 3, 3, 3), True, {}),
    ((2, 3, 7, 9), (4, 3, 3, 3), True, {"padding": 1}),
    ((2, 3, 8, 7), (5, 3, 3, 2), True, {"stride": 2, "padding": 1}),
    ((2, 3, 11, 10), (4, 3, 3, 3), True, {"stride": (2, 3), "padding": (1, 2), "dilation": (2, 1)}),
    ((1, 3, 9, 9), (4, 3, 3, 3), False, {"dilation": 2, "padding": 2}),
    ((2, 4, 8, 8), (6, 2, 3, 3), True, {"groups": 2, "padding": 1}),
    ((2, 4, 8, 8), (4, 1, 3, 3), True, {"groups": 4, "padding": 1}),  # depthwise
    ((2, 4, 9, 8), (8, 1, 3, 3), False, {"groups": 4, "padding": 1, "stride": 2}),  # depthwise, multiplier 2
    ((2, 4, 8, 8), (8, 4, 1, 1), True, {}),  # 1x1: plain GEMM
    ((2, 4, 9, 8), (8, 4, 1, 1), False, {"stride": 2}),
    ((2, 4, 8, 8), (6, 2, 1, 1), True, {"groups": 2, "padding": 1}),
    ((3, 1, 12, 12), (6, 1, 5, 5), True, {}),  # LeNet's first layer
    ((2, 3, 7, 9), (4, 3, 4, 2), True, {"padding": "same", "dilation": (1, 2)}),  # asymmetric 'same'
    ((2, 3, 7, 9), (4, 3, 3, 3), True, {"padding": "valid"}),
    ((1, 2, 5, 5), (3, 2, 5, 5), True, {}),  # kernel covers the whole input
    ((2, 3, 6, 6), (4, 3, 3, 3), True, {"stride": 3, "padding": 2}),  # unused trailing rows
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("xs,ws,bias,kw", CONV2D)
def test_conv2d_matches_torch(xs, ws, bias, kw, device):
    shapes = [xs, ws] + ([(ws[0],)] if bias else [])
    helper_test_op(shapes, lambda *a: TF.conv2d(*a, **kw), lambda *a: F.conv2d(*a, **kw), atol=1e-4,
                   grad_atol=1e-3, device=device)


def test_conv2d_unbatched_input():
    helper_test_op([(3, 6, 5), (2, 3, 3, 3)], lambda x, w: TF.conv2d(x, w, padding=1),
                   lambda x, w: F.conv2d(x, w, padding=1), atol=1e-4)


def test_conv2d_several_column_chunks(device):
    # 2 x 34 x 34 grid positions and K = 9 * 64 rows: more than one im2col chunk on the CPU.
    helper_test_op([(2, 64, 32, 32), (8, 64, 3, 3), (8,)], lambda *a: TF.conv2d(*a, padding=1),
                   lambda *a: F.conv2d(*a, padding=1), atol=2e-4, grad_atol=5e-3, grad_rtol=1e-3,
                   device=device)


def test_conv2d_float64_keeps_dtype():
    x = vl.randn(1, 2, 5, 5, dtype=vl.float64)
    w = vl.randn(3, 2, 3, 3, dtype=vl.float64)
    assert F.conv2d(x, w).dtype == vl.float64


CONV1D = [((2, 3, 10), (4, 3, 3), True, {}),
          ((2, 4, 11), (6, 2, 3), False, {"stride": 2, "padding": 1, "groups": 2, "dilation": 2}),
          ((3, 9), (4, 3, 4), True, {"padding": "same"})]


@pytest.mark.parametrize("xs,ws,bias,kw", CONV1D)
def test_conv1d_matches_torch(xs, ws, bias, kw):
    shapes = [xs, ws] + ([(ws[0],)] if bias else [])
    helper_test_op(shapes, lambda *a: TF.conv1d(*a, **kw), lambda *a: F.conv1d(*a, **kw), atol=1e-4,
                   grad_atol=1e-3)


CONV_T2D = [  # (input shape, weight shape (C_in, C_out/groups, kH, kW), bias, kwargs)
    ((2, 4, 5, 6), (4, 3, 3, 3), True, {}),
    ((2, 4, 5, 6), (4, 3, 3, 3), True, {"stride": 2, "padding": 1, "output_padding": 1}),
    ((2, 4, 5, 6), (4, 2, 3, 2), False, {"stride": (2, 3), "padding": (1, 0), "output_padding": (0, 2),
                                         "groups": 2, "dilation": (1, 2)}),
    ((2, 4, 5, 6), (4, 1, 3, 3), True, {"stride": 2, "groups": 4}),
    ((2, 4, 5, 6), (4, 3, 1, 1), True, {"stride": 2, "output_padding": 1}),
    ((2, 4, 5, 6), (4, 3, 2, 2), True, {"dilation": 3, "output_padding": 2}),
    ((1, 2, 3, 3), (2, 2, 4, 4), True, {"stride": 2, "padding": 1}),  # DCGAN-style 2x upsampling
]


@pytest.mark.parametrize("xs,ws,bias,kw", CONV_T2D)
def test_conv_transpose2d_matches_torch(xs, ws, bias, kw, device):
    groups = kw.get("groups", 1)
    shapes = [xs, ws] + ([(ws[1] * groups,)] if bias else [])
    helper_test_op(shapes, lambda *a: TF.conv_transpose2d(*a, **kw), lambda *a: F.conv_transpose2d(*a, **kw),
                   atol=1e-4, grad_atol=1e-3, device=device)


def test_conv_transpose1d_matches_torch():
    kw = {"stride": 2, "padding": 1, "output_padding": 1}
    helper_test_op([(2, 4, 7), (4, 3, 3), (3,)], lambda *a: TF.conv_transpose1d(*a, **kw),
                   lambda *a: F.conv_transpose1d(*a, **kw), atol=1e-4, grad_atol=1e-3)


@pytest.mark.parametrize("kw,xs,ws", [
    ({"stride": 2, "padding": 1, "dilation": 1}, (1, 2, 5, 4), (3, 2, 3, 3)),
    ({"stride": 1, "padding": 2, "dilation": 2, "groups": 2}, (1, 2, 4, 4), (2, 1, 3, 2)),
    ({"stride": 2}, (1, 3, 5, 5), (3, 1, 3, 3)),  # depthwise (groups=3 below)
    ({"stride": 2}, (1, 2, 5, 4), (3, 2, 1, 1)),
])
def test_conv2d_gradcheck(kw, xs, ws):
    if ws[1] == 1 and xs[1] == 3:
        kw = dict(kw, groups=3)
    rng = np.random.default_rng(0)
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw),
              [rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])])


def test_conv_transpose2d_gradcheck():
    rng = np.random.default_rng(0)
    kw = {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}
    gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
              [rng.standard_normal((1, 2, 3, 3)), rng.standard_normal((2, 2, 3, 3)), rng.standard_normal(4)])


def test_conv1d_gradcheck():
    rng = np.random.default_rng(0)
    gradcheck(lambda x, w: F.conv1d(x, w, stride=2, padding=1),
              [rng.standard_normal((1, 2, 7)), rng.standard_normal((3, 2, 3))])


# ------------------------------------------------------------------------------ errors
def test_wrong_channels_names_the_fix():
    x, w = vl.randn(1, 3, 8, 8), vl.randn(16, 4, 3, 3)
    with pytest.raises(RuntimeError, match=r"expected input with 4 channels \(weight shape \[16, 4, 3, 3\], "
                                           r"groups=1\), got 3 channels in input of shape \[1, 3, 8, 8\]"):
        F.conv2d(x, w)
    with pytest.raises(RuntimeError, match="expected input with 8 channels"):
        F.conv2d(vl.randn(1, 4, 8, 8), vl.randn(16, 4, 3, 3), groups=2)


@pytest.mark.parametrize("call,err,pattern", [
    (lambda: F.conv2d(vl.randn(8, 8), vl.randn(1, 1, 3, 3)), RuntimeError, "3D \\(unbatched\\) or 4D"),
    (lambda: F.conv2d(vl.randn(1, 1, 8, 8), vl.randn(1, 1, 3)), RuntimeError, "weight must be 4-D"),
    (lambda: F.conv2d(vl.randn(1, 1, 8, 8), vl.randn(1, 1, 3, 3), stride=2, padding="same"), ValueError,
     "not supported for strided"),
    (lambda: F.conv2d(vl.randn(1, 1, 2, 2), vl.randn(1, 1, 3, 3)), RuntimeError, "smaller than the"),
    (lambda: F.conv2d(vl.randn(1, 1, 4, 4), vl.randn(1, 1, 3, 3, dtype=vl.float64)), RuntimeError,
     "dtype"),
    (lambda: F.conv2d(vl.randn(1, 1, 4, 4), vl.randn(2, 1, 3, 3), vl.randn(3)), RuntimeError,
     "bias must have shape \\[2\\]"),
    (lambda: F.conv2d(vl.randn(1, 2, 4, 4), vl.randn(3, 1, 3, 3), groups=2), ValueError, "divisible by"),
    (lambda: F.conv2d(vl.randn(1, 1, 4, 4), vl.randn(1, 1, 3, 3), padding="full"), ValueError, "'same'"),
    (lambda: F.conv_transpose2d(vl.randn(1, 2, 4, 4), vl.randn(2, 1, 3, 3), output_padding=1),
     ValueError, "output padding must be smaller"),
    (lambda: F.conv_transpose2d(vl.randn(1, 3, 4, 4), vl.randn(2, 1, 3, 3)), RuntimeError,
     "expected input with 2 channels"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, "in_channels \\(3\\) must be divisible"),
    (lambda: nn.Conv2d(2, 4, 3, padding_mode="mirror"), ValueError, "padding_mode"),
    (lambda: nn.Conv2d(2, 4, 3, stride=2, padding="same"), ValueError, "strided"),
    (lambda: nn.ConvTranspose2d(2, 4, 3, padding_mode="reflect"), ValueError, "zeros"),
])
def test_bad_arguments_raise_clear_errors(call, err, pattern):
    with pytest.raises(err, match=pattern):
        call()


# ------------------------------------------------------------------------------ modules
def _twin(tm, vm):
    vm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return tm, vm


MODULES = [
    (lambda m: m.Conv2d(3, 8, 3, padding=1), (2, 3, 6, 7)),
    (lambda m: m.Conv2d(4, 8, 3, stride=2, groups=2, bias=False, padding=1, padding_mode="reflect"),
     (2, 4, 7, 6)),
    (lambda m: m.Conv2d(4, 6, (3, 2), padding="same", dilation=2, padding_mode="circular"), (2, 4, 6, 7)),
    (lambda m: m.Conv2d(4, 6, 3, padding=2, padding_mode="replicate"), (1, 4, 5, 5)),
    (lambda m: m.Conv1d(4, 6, 3, padding=1, padding_mode="reflect"), (2, 4, 9)),
    (lambda m: m.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1), (2, 4, 5, 4)),
    (lambda m: m.ConvTranspose1d(4, 6, 3, stride=2), (2, 4, 5)),
]


@pytest.mark.parametrize("make,shape", MODULES)
def test_module_matches_torch(make, shape):
    tm, vm = _twin(make(torch.nn), make(nn))
    assert repr(vm) == repr(tm)
    assert list(vm.state_dict()) == list(tm.state_dict())
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    tx, vx = torch.tensor(x, requires_grad=True), vl.tensor(x, requires_grad=True)
    ty, vy = tm(tx), vm(vx)
    np.testing.assert_allclose(vy.detach().numpy(), ty.detach().numpy(), atol=1e-5, rtol=1e-4)
    ty.sum().backward()
    vy.sum().backward()
    np.testing.assert_allclose(vx.grad.numpy(), tx.grad.numpy(), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(vm.weight.grad.numpy(), tm.weight.grad.numpy(), atol=1e-4, rtol=1e-4)


def test_conv_transpose_output_size():
    tm, vm = _twin(torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1), nn.ConvTranspose2d(3, 2, 3, 2, 1))
    x = np.random.default_rng(0).standard_normal((1, 3, 4, 5)).astype(np.float32)
    ty = tm(torch.tensor(x), output_size=[8, 10])
    vy = vm(vl.tensor(x), output_size=[8, 10])
    assert tuple(vy.shape) == tuple(ty.shape) == (1, 2, 8, 10)
    np.testing.assert_allclose(vy.detach().numpy(), ty.detach().numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="valid sizes"):
        vm(vl.tensor(x), output_size=[12, 10])


def test_default_init_bounds_like_torch():
    vl.manual_seed(0)
    m = nn.Conv2d(16, 32, 3)
    bound = 1 / math.sqrt(16 * 9)  # kaiming_uniform(a=sqrt(5)) on fan_in = 144
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert w.shape == (32, 16, 3, 3) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound  # uniform on [-bound, bound]
    assert np.abs(b).max() <= bound
    t = nn.ConvTranspose2d(6, 4, 3, groups=2)
    assert tuple(t.weight.shape) == (6, 2, 3, 3)


def test_training_step_decreases_loss():
    vl.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 3, stride=2))
    x = vl.randn(4, 1, 8, 8)
    target = vl.randn(4, 2, 3, 3)
    losses = []
    for _ in range(5):
        loss = ((model(x) - target) ** 2).mean()
        for p in model.parameters():
            p.grad = None
        loss.backward()
        with vl.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_chunk_size_does_not_change_results(monkeypatch):
    x = vl.randn(2, 3, 20, 20)
    w = vl.randn(4, 3, 3, 3)
    full = F.conv2d(x, w, padding=1, stride=2).numpy()
    monkeypatch.setattr(conv_ops, "_CHUNK_ELEMS_CPU", 1)  # smallest chunks (512 columns)
    np.testing.assert_allclose(F.conv2d(x, w, padding=1, stride=2).numpy(), full, atol=1e-5)


@pytest.fixture
def threaded(monkeypatch):
    """Split even small arrays across 3 threads, so the parallel paths (uneven parts) are exercised."""
    from visionlite.core.ops import _threads

    monkeypatch.setattr(_threads, "_MIN_ELEMS", 0)
    monkeypatch.setenv("VISIONLITE_NUM_THREADS", "3")


@pytest.mark.parametrize("idx", [2, 3, 6, 7, 11])
def test_conv2d_threaded_matches_torch(threaded, idx):
    xs, ws, bias, kw = CONV2D[idx]
    shapes = [xs, ws] + ([(ws[0],)] if bias else [])
    helper_test_op(shapes, lambda *a: TF.conv2d(*a, **kw), lambda *a: F.conv2d(*a, **kw), atol=1e-4,
                   grad_atol=1e-3)


def test_conv_transpose2d_threaded_matches_torch(threaded):
    xs, ws, bias, kw = CONV_T2D[2]
    helper_test_op([xs, ws], lambda *a: TF.conv_transpose2d(*a, **kw),
                   lambda *a: F.conv_transpose2d(*a, **kw), atol=1e-4, grad_atol=1e-3)


@pytest.mark.parametrize("transposed", [False, True])
def test_conv_empty_batch(transposed):
    # Mask R-CNN runs its mask head on zero detections: a batch of 0 images, forward and backward.
    torch.manual_seed(0)
    ref = (torch.nn.ConvTranspose2d(8, 4, 2, stride=2) if transposed else torch.nn.Conv2d(8, 4, 3, padding=1))
    ours = (nn.ConvTranspose2d(8, 4, 2, stride=2) if transposed else nn.Conv2d(8, 4, 3, padding=1))
    x = vl.zeros(0, 8, 14, 14, requires_grad=True)
    y = ours(x)
    y.sum().backward()
    assert tuple(y.shape) == tuple(ref(torch.zeros(0, 8, 14, 14)).shape)
    assert tuple(x.grad.shape) == (0, 8, 14, 14)
    assert float(np.abs(ours.weight.grad.numpy()).sum()) == 0.0
