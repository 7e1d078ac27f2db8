"""An in-place op on a whole-base reshape view (InstanceNorm2d then ReLU(inplace=True), as RAFT's
encoders do) takes view_rebase's one-pass position path and keeps PyTorch's gradients."""
import numpy as np

import visionlite as vl
from tests.helpers.refs import require
from visionlite.core.autograd.view_rebase import view_positions

torch = require("torch")


def test_positions_of_views():
    base = np.zeros((6, 8), np.float32)
    index = np.arange(base.size).reshape(base.shape)
    for make in (lambda a: a.reshape(2, 3, 8), lambda a: a.reshape(48), lambda a: a[1:].reshape(-1),
                 lambda a: a.T, lambda a: a.reshape(4, 12)[:, ::2]):
        np.testing.assert_array_equal(view_positions(base, make(base)), make(index))


def test_inplace_relu_after_instance_norm_gradients():
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 4))
    g = np.random.default_rng(1).standard_normal((2, 3, 5, 4))
    grads = []
    for lib in (vl, torch):
        xi = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.instance_norm(xi * 2)
        out = lib.nn.ReLU(inplace=True)(y)
        assert out.grad_fn.name() == "AsStridedBackward0"  # as torch: the view's history is rebased
        (out * lib.tensor(g)).sum().backward()
        grads.append(xi.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-10, atol=1e-12)
