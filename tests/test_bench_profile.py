"""The benchmarks' breakdown of visionlite's time (scripts/_bench_profile.py): categories that add up to
the wall time, GEMMs found inside the convolution, and every wrapper removed afterwards."""

import os
import sys

import numpy as np

import visionlite as vl
from visionlite.core.autograd.function import Op
from visionlite.core.ops import conv

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import _bench_profile  # noqa: E402


def _step():
    x = vl.tensor(np.random.default_rng(0).standard_normal((4, 8, 20, 20)).astype(np.float32),
                  requires_grad=True)
    w = vl.tensor(np.random.default_rng(1).standard_normal((16, 8, 3, 3)).astype(np.float32),
                  requires_grad=True)
    y = vl.nn.functional.relu(vl.nn.functional.conv2d(x, w, padding=1))
    y.sum().backward()


def test_breakdown_adds_up_and_finds_the_gemms():
    matmul, conv_forward = np.matmul, conv.Conv2dOp.forward
    result = _bench_profile.profile_run(_step)
    cats = result["categories"]
    assert set(cats) == set(_bench_profile.CATEGORIES)
    assert abs(sum(cats.values()) - result["wall"]) < 1e-6 * max(result["wall"], 1.0) + 1e-9
    assert cats["GEMM"] > 0 and cats["copies/layout"] > 0
    labels = {label for label, _, _ in result["top"]}
    assert {"Conv2dOp.forward", "Conv2dOp.backward"} <= labels
    conv_rows = [gemm for label, _, gemm in result["top"] if label.startswith("Conv2dOp.")]
    assert all(g > 0 for g in conv_rows)  # the GEMMs are credited to the op that issued them
    assert np.matmul is matmul and conv.Conv2dOp.forward is conv_forward  # all wrappers undone
    ops = _bench_profile._subclasses(Op)
    assert not any(hasattr(cls.__dict__.get("forward"), "__wrapped__") for cls in ops)
    text = _bench_profile.format_breakdown(result)
    assert "GEMM" in text and "Conv2dOp.backward" in text
