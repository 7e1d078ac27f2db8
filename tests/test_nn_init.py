"""nn.init against PyTorch: gains and fans exactly, distributions by their bounds and moments, exact
deterministic initialisers (eye, dirac, constant), orthogonality, seeding."""
import math

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.nn_check import to_np
from tests.helpers.refs import require
from visionlite import nn
from visionlite.nn import init

torch = require("torch")
tinit = torch.nn.init


GAINS = [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
         ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu", None),
         ("conv_transpose2d", None)]


@pytest.mark.parametrize("name,param", GAINS)
def test_calculate_gain(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(tinit.calculate_gain(name, param), rel=1e-12)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "x")


@pytest.mark.parametrize("shape", [(3, 5), (8, 4, 3, 3), (2, 6, 5), (6, 1, 2, 2, 2)])
def test_fans(shape):
    assert init._calculate_fan_in_and_fan_out(vl.empty(*shape)) == \
        tinit._calculate_fan_in_and_fan_out(torch.empty(*shape))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(vl.empty(4))


def _std(t):
    return float(to_np(t).std())


SHAPE = (128, 64, 3, 3)


@pytest.mark.parametrize("fn,kw", [
    ("xavier_uniform_", {}), ("xavier_uniform_", {"gain": 2.0}), ("xavier_normal_", {"gain": 0.5}),
    ("kaiming_uniform_", {}), ("kaiming_uniform_", {"a": math.sqrt(5)}),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}), ("kaiming_normal_", {"a": 0.1}),
    ("normal_", {"mean": 0.5, "std": 0.02}), ("uniform_", {"a": -0.3, "b": 0.7}),
    ("trunc_normal_", {"std": 0.02}), ("trunc_normal_", {"mean": 1.0, "std": 1.0, "a": 0.0, "b": 1.5}),
])
def test_random_initialisers_match_torch_distribution(fn, kw):
    torch.manual_seed(0)
    vl.manual_seed(0)
    t = getattr(tinit, fn)(torch.empty(SHAPE), **kw)
    v = vl.empty(*SHAPE)
    out = getattr(init, fn)(v, **kw)
    assert out is v
    tv, vv = t.numpy(), to_np(v)
    # 74k samples: means and stds agree to well under 1%, and the supports match.
    assert abs(vv.mean() - tv.mean()) < 0.01 * tv.std() + 1e-4
    assert abs(vv.std() / tv.std() - 1) < 0.01
    if "uniform" in fn:
        assert vv.min() >= tv.min() - 0.01 * tv.std() and vv.max() <= tv.max() + 0.01 * tv.std()
        assert abs(vv.min() - tv.min()) < 0.02 * tv.std() and abs(vv.max() - tv.max()) < 0.02 * tv.std()
    if "trunc" in fn:
        assert vv.min() >= kw.get("a", -2.0) and vv.max() <= kw.get("b", 2.0)


def test_trunc_normal_bounds_are_absolute():
    vl.manual_seed(1)
    x = to_np(init.trunc_normal_(vl.empty(10000), mean=0.0, std=1.0, a=-0.5, b=2.0))
    assert x.min() >= -0.5 and x.max() <= 2.0 and x.min() < -0.49


def test_deterministic_initialisers_equal_torch():
    for shape, groups in [((4, 4, 3, 3), 1), ((6, 2, 3), 3), ((4, 2, 3, 3, 3), 2), ((3, 5, 5, 5), 1)]:
        expected = tinit.dirac_(torch.empty(shape), groups=groups).numpy()
        np.testing.assert_array_equal(to_np(init.dirac_(vl.empty(*shape), groups=groups)), expected)
    np.testing.assert_array_equal(to_np(init.eye_(vl.empty(3, 5))), tinit.eye_(torch.empty(3, 5)).numpy())
    assert to_np(init.constant_(vl.empty(2, 2), 0.3)).tolist() == [[np.float32(0.3)] * 2] * 2
    assert to_np(init.ones_(vl.empty(3))).tolist() == [1, 1, 1]
    assert to_np(init.zeros_(vl.empty(3))).tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="2 dimensions"):
        init.eye_(vl.empty(2, 2, 2))


@pytest.mark.parametrize("shape", [(6, 10), (10, 6), (4, 3, 2, 2)])
def test_orthogonal(shape):
    vl.manual_seed(0)
    w = to_np(init.orthogonal_(vl.empty(*shape), gain=2.0)).reshape(shape[0], -1).astype(np.float64)
    rows, cols = w.shape
    gram = w @ w.T if rows <= cols else w.T @ w
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(rows, cols)), atol=1e-5)


def test_init_on_parameters_records_no_graph_and_seeds():
    p = nn.Parameter(vl.empty(5, 5))
    init.kaiming_normal_(p)
    assert p.grad_fn is None and p.requires_grad
    init.trunc_normal_(p, std=0.02)
    init.orthogonal_(p)
    g1, g2 = vl.Generator().manual_seed(3), vl.Generator().manual_seed(3)
    a = to_np(init.xavier_uniform_(vl.empty(4, 4), generator=g1))
    b = to_np(init.xavier_uniform_(vl.empty(4, 4), generator=g2))
    assert np.array_equal(a, b)


def test_layer_default_inits_match_torch_distribution():
    torch.manual_seed(0)
    vl.manual_seed(0)
    layers = (lambda m: m.Linear(300, 200), lambda m: m.Bilinear(40, 30, 50), lambda m: m.Embedding(500, 64))
    for make in layers:
        tm, vm = make(torch.nn), make(nn)
        for (name, tp), (vname, vp) in zip(tm.named_parameters(), vm.named_parameters()):
            assert name == vname
            t, v = tp.detach().numpy(), to_np(vp)
            # The relative error of a sample std is about 1 / sqrt(2 n); allow 5 of those.
            assert abs(v.std() / t.std() - 1) < 5 / np.sqrt(2 * t.size), name
            if "Embedding" not in repr(vm):  # uniform: the same support
                assert np.abs(v).max() <= np.abs(t).max() * 1.02 and np.abs(v).max() > np.abs(t).max() * 0.9
    assert to_np(nn.PReLU(3).weight).tolist() == [0.25] * 3
