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
