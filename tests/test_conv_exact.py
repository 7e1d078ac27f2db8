"""conv_exact's path (exact im2col columns for small feature maps and deep GEMMs) against PyTorch:
forward and gradients, with several column chunks, strides, dilation and groups."""
import pytest

import visionlite.nn.functional as F
from tests.helpers.op_check import helper_test_op
from tests.helpers.refs import require
from visionlite.core.ops import conv as conv_ops
from visionlite.core.ops import conv_exact

torch = require("torch")
TF = torch.nn.functional

EXACT = [  # (input shape, weight shape, kwargs): each has K >= 512 and a grid wasting > 10% of columns
    ((5, 64, 6, 6), (8, 64, 3, 3), {"padding": 1}),
    ((3, 64, 9, 7), (6, 64, 3, 3), {"stride": 2, "padding": 1}),
    ((2, 64, 8, 8), (4, 64, 3, 3), {"padding": 2, "dilation": 2}),
    ((2, 128, 6, 6), (8, 64, 3, 3), {"padding": 1, "groups": 2}),
    ((2, 32, 9, 9), (4, 32, 5, 5), {"stride": (1, 2)}),
    ((1, 64, 9, 7), (6, 64, 3, 3), {"stride": 2, "padding": 1}),  # batch 1: the GEMM writes the output
    ((1, 128, 6, 6), (8, 64, 3, 3), {"padding": 1, "groups": 2}),
]


@pytest.mark.parametrize("xs,ws,kw", EXACT)
def test_exact_columns_match_torch(xs, ws, kw, device, monkeypatch):
    monkeypatch.setattr(conv_exact, "_CHUNK_ELEMS_CPU", 1 << 12)  # one image per chunk: several chunks
    geom = conv_ops.ConvGeometry(xs[0], xs[1], xs[2:], ws, kw.get("groups", 1), _pair(kw.get("stride", 1)),
                                 (kw.get("padding", 0),) * 4, _pair(kw.get("dilation", 1)))
    assert geom.exact, "the case must take the exact-columns path"
    helper_test_op([xs, ws, (ws[0],)], lambda *a: TF.conv2d(*a, **kw), lambda *a: F.conv2d(*a, **kw),
                   atol=2e-4, grad_atol=5e-3, grad_rtol=1e-3, device=device)


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)
