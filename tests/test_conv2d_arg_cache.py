"""conv2d's cache of validated calls (core/nn/functional/conv.py): a repeated call gives PyTorch's result
for every argument form (ints, pairs, lists, 'same', unbatched input), and the checks a cached call skips
still raise where the tensors changed (dtype, type)."""

import numpy as np
import pytest

import visionlite as vl
import visionlite.nn.functional as F
from tests.helpers.refs import require
from visionlite.core.nn.functional import conv as conv_module


def helper_test_repeated(x_shape, w_shape, **kw):
    """The same call three times (the last two cached) and once more at another batch: torch's output."""
    torch = require("torch")
    rng = np.random.default_rng(sum(x_shape))
    w = rng.standard_normal(w_shape)
    for shape in (x_shape, x_shape, x_shape, (3,) + tuple(x_shape[1:]) if len(x_shape) == 4 else x_shape):
        x = rng.standard_normal(shape)
        ours = F.conv2d(vl.tensor(x), vl.tensor(w), **kw)
        theirs = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), **kw)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", [
    ((1, 4, 7, 6), (5, 4, 3, 3), {"padding": 1}),
    ((2, 4, 7, 6), (4, 1, 3, 3), {"padding": (1, 2), "stride": 2, "groups": 4}),
    ((2, 4, 7, 6), (6, 2, 3, 2), {"padding": [1, 0], "stride": [2, 1], "dilation": [1, 2], "groups": 2}),
    ((4, 7, 6), (5, 4, 3, 3), {"padding": "same"}),
    ((1, 4, 7, 6), (5, 4, 1, 1), {"stride": (2, 1)}),
], ids=["ints", "depthwise_pairs", "lists", "unbatched_same", "pointwise"])
def test_repeated_calls_match_torch(case):
    x_shape, w_shape, kw = case
    helper_test_repeated(x_shape, w_shape, **kw)


def test_cached_call_still_checks_dtype():
    w = vl.randn(5, 4, 3, 3)
    F.conv2d(vl.randn(1, 4, 6, 6), w, padding=1)
    with pytest.raises(RuntimeError, match="dtype"):
        F.conv2d(vl.randn(1, 4, 6, 6, dtype=vl.float64), w, padding=1)
    with pytest.raises(RuntimeError, match="bias"):
        F.conv2d(vl.randn(1, 4, 6, 6), w, vl.randn(5, dtype=vl.float64), padding=1)
    with pytest.raises(TypeError, match="Tensor"):
        F.conv2d(np.zeros((1, 4, 6, 6), np.float32), w, padding=1)


def test_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(conv_module, "_GEOMETRIES", {})
    monkeypatch.setattr(conv_module, "_MAX_GEOMETRIES", 3)
    w = vl.randn(2, 2, 1, 1)
    for size in range(2, 9):
        F.conv2d(vl.randn(1, 2, size, size), w)
    assert 1 <= len(conv_module._GEOMETRIES) <= 3
