"""Arrays derived from fixed weights (core/ops/weight_cache.py): built once per weight version, rebuilt
after in-place and ``.data`` changes, dropped with the weight, bounded; convolutions that keep their
tap-major weight matrix stay right when the weight changes between eval calls."""

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite.core.autograd.versions import counter_of, counter_value
from visionlite.core.ops import conv, weight_cache


@pytest.fixture
def empty_cache(monkeypatch):
    monkeypatch.setattr(weight_cache, "_ENTRIES", type(weight_cache._ENTRIES)())


def _key(t):
    counter = counter_of(t)
    return counter, counter_value(counter)


def test_built_once_per_version(empty_cache):
    w = vl.randn(4, 4)
    built = []

    def build(a):
        built.append(1)
        return a * 2

    key = _key(w)
    first = weight_cache.derived(w._data, "double", key, build)
    assert weight_cache.derived(w._data, "double", key, build) is first and len(built) == 1
    assert weight_cache.derived(w._data, "other", key, build) is not first and len(built) == 2
    assert weight_cache.derived(w._data, "double", None, build) is not first and len(built) == 3


def test_dead_weights_leave_and_the_cache_is_bounded(empty_cache, monkeypatch):
    monkeypatch.setattr(weight_cache, "_MAX_BYTES", 3 * 64 * 8)
    weights = [vl.randn(8, 8, dtype=vl.float64) for _ in range(5)]
    for w in weights:
        weight_cache.derived(w._data, "copy", _key(w), lambda a: a.copy())
    assert len(weight_cache._ENTRIES) == 3
    del weights, w
    assert len(weight_cache._ENTRIES) == 0


def test_convolution_weight_matrix_follows_weight_changes(empty_cache, monkeypatch):
    torch = require("torch")
    calls = []
    real = conv.weight_matrix
    monkeypatch.setattr(conv, "weight_matrix", lambda w, g: calls.append(1) or real(w, g))
    rng = np.random.default_rng(0)
    x = vl.tensor(rng.standard_normal((1, 32, 15, 15)).astype(np.float32))
    layer = vl.nn.Conv2d(32, 48, 3, stride=2, padding=1).eval()

    def check():
        with vl.no_grad():
            y = layer(x).numpy()
        ref = torch.nn.functional.conv2d(torch.tensor(x.numpy()), torch.tensor(layer.weight.detach().numpy()),
                                         torch.tensor(layer.bias.detach().numpy()), stride=2, padding=1)
        np.testing.assert_allclose(y, ref.numpy(), rtol=1e-4, atol=1e-4)

    check()
    check()
    assert len(calls) == 1  # the second call reused the matrix
    with vl.no_grad():
        layer.weight.mul_(-2.0)
    check()
    layer.weight.data.copy_(vl.tensor(rng.standard_normal((48, 32, 3, 3)).astype(np.float32)))
    check()
    assert len(calls) == 3
