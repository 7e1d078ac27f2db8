"""Two raw convolution paths on the same inputs: forward output and both gradients must agree; which path
ran (``count_calls``)."""

import numpy as np

from visionlite.core.ops import conv


def raw_conv(x, w, g, geom, saved):
    """``(y, (dx, dw))`` of ``conv_forward`` / ``conv_backward`` with ``saved`` as the backward's input."""
    return conv.conv_forward(x, w, None, geom)[0], conv.conv_backward(saved, g, w, geom, True, True)


def assert_paths_agree(a, b):
    """``a`` and ``b`` from ``raw_conv`` on the same inputs through two paths (float32 tolerances)."""
    np.testing.assert_allclose(a[0], b[0], rtol=1e-5, atol=1e-5)
    for ga, gb in zip(a[1], b[1]):
        np.testing.assert_allclose(ga, gb, rtol=1e-5, atol=1e-4)


def count_calls(monkeypatch, module, names):
    """Wraps ``module.<name>`` for each of ``names`` so that every call appends its name to the returned
    list (in call order), then runs the real function."""
    calls = []
    for name in names:
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _n=name, _r=real: calls.append(_n) or _r(*a))
    return calls


def helper_test_double_backward(x_shape, w_shape, **kwargs):
    """A gradient penalty through ``conv2d(x, w, **kwargs)`` (float64): the second-order gradients of the
    weight and the input equal PyTorch's."""
    import visionlite as vl
    from tests.helpers.refs import require

    torch = require("torch")
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    xs, ws = vl.tensor(x, requires_grad=True), vl.tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    for a, b, lib in ((xs, ws, vl), (xt, wt, torch)):
        y = lib.nn.functional.conv2d(a, b, **kwargs)
        (gx,) = lib.autograd.grad(y.square().sum(), a, create_graph=True)
        gx.square().sum().backward()
    np.testing.assert_allclose(ws.grad.numpy(), wt.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def helper_test_strided_input_view(channels, **kwargs):
    """``conv2d`` of a non-contiguous view (every other channel, one column cropped) equals PyTorch's."""
    import visionlite as vl
    from tests.helpers.refs import require

    torch = require("torch")
    x = np.random.default_rng(2).standard_normal((2, 2 * channels, 14, 15))
    w = np.random.default_rng(3).standard_normal((channels, 1, 3, 3))
    y, ty = (lib.nn.functional.conv2d(lib.tensor(x)[:, ::2, :, 1:], lib.tensor(w), groups=channels, **kwargs)
             for lib in (vl, torch))
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-12, atol=1e-12)
