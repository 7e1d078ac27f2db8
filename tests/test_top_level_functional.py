"""The nn.functional ops PyTorch also offers at top level (``torch.conv2d``, ``torch.dropout``, ...): same
results as torch.<name> on the same positional arguments, and loaded only on first use."""
import subprocess
import sys

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.op_check import helper_test_op
from tests.helpers.refs import require

torch = require("torch")

CASES = {
    "conv1d": ([(2, 3, 8), (4, 3, 3), (4,)], lambda L, x, w, b: L.conv1d(x, w, b, 2, 1)),
    "conv2d": ([(1, 2, 6, 6), (3, 2, 3, 3)], lambda L, x, w: L.conv2d(x, w, None, 1, 1, 1, 1)),
    "conv_transpose2d": ([(1, 2, 4, 4), (2, 3, 3, 3)], lambda L, x, w: L.conv_transpose2d(x, w, None, 2)),
    "dropout_eval": ([(3, 4)], lambda L, x: L.dropout(x, 0.5, False)),
    "layer_norm": ([(2, 3, 4), (4,), (4,)], lambda L, x, w, b: L.layer_norm(x, [4], w, b, 1e-5)),
    "group_norm": ([(2, 4, 3), (4,), (4,)], lambda L, x, w, b: L.group_norm(x, 2, w, b, 1e-5)),
    "bilinear": ([(2, 3), (2, 4), (5, 3, 4)], lambda L, a, b, w: L.bilinear(a, b, w, None)),
    "pixel_shuffle": ([(1, 8, 2, 2)], lambda L, x: L.pixel_shuffle(x, 2)),
    "pixel_unshuffle": ([(1, 2, 4, 4)], lambda L, x: L.pixel_unshuffle(x, 2)),
    "cosine_similarity": ([(3, 4), (3, 4)], lambda L, a, b: L.cosine_similarity(a, b, 1, 1e-8)),
    "pairwise_distance": ([(3, 4), (3, 4)], lambda L, a, b: L.pairwise_distance(a, b, 2.0, 1e-6)),
    "prelu": ([(2, 3, 4), (3,)], lambda L, x, w: L.prelu(x, w)),
    "selu": ([(3, 4)], lambda L, x: L.selu(x)),
    "celu": ([(3, 4)], lambda L, x: L.celu(x, 0.7)),
    "rrelu_eval": ([(3, 4)], lambda L, x: L.rrelu(x, 0.1, 0.3, False)),
    "hardshrink": ([(3, 4)], lambda L, x: L.hardshrink(x, 0.4)),
    "threshold": ([(3, 4)], lambda L, x: L.threshold(x, 0.1, -1.0)),
    "rms_norm": ([(2, 4), (4,)], lambda L, x, w: L.rms_norm(x, [4], w, 1e-6)),
    "max_pool2d": ([(1, 2, 5, 5)], lambda L, x: L.max_pool2d(x, 2, 2, 0, 1, True)),
    "max_pool1d": ([(1, 2, 7)], lambda L, x: L.max_pool1d(x, 3, 2)),
    "avg_pool1d": ([(1, 2, 7)], lambda L, x: L.avg_pool1d(x, 3, 2, 1)),
    "adaptive_avg_pool1d": ([(1, 2, 7)], lambda L, x: L.adaptive_avg_pool1d(x, 3)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_top_level_matches_torch(name):
    shapes, fn = CASES[name]
    helper_test_op(shapes, lambda *xs: fn(torch, *xs), lambda *xs: fn(vl, *xs), atol=1e-5, rtol=1e-4)


def test_dropout_training_and_lazy_loading():
    y = vl.dropout(vl.ones(1000), 0.5, True)
    kept = y.numpy() != 0
    assert 0.4 < kept.mean() < 0.6 and np.allclose(y.numpy()[kept], 2.0)
    code = ("import sys, visionlite as vl; assert 'visionlite.core.nn' not in sys.modules; vl.conv2d; "
            "assert 'visionlite.core.nn.functional' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
