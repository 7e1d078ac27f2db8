"""Tensor methods PyTorch has under other names or in place (``gt_``, ``log1p_``, ``clamp_min``, ``addmm``,
``mH``, ``is_nonzero``, ...) give PyTorch's results on the same inputs."""
import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require

torch = require("torch")
A = np.random.default_rng(0).uniform(0.1, 2, (3, 4)).astype(np.float32)
B = np.random.default_rng(1).uniform(0.1, 2, (3, 4)).astype(np.float32)

CALLS = [
    lambda L, a, b: a.log1p_(), lambda L, a, b: a.rsqrt_(), lambda L, a, b: a.square_(),
    lambda L, a, b: a.erf_(), lambda L, a, b: a.expm1_(), lambda L, a, b: a.gt_(b),
    lambda L, a, b: a.le_(1.0), lambda L, a, b: a.ne_(b),
    lambda L, a, b: a.cumsum_(1), lambda L, a, b: a.tril_(), lambda L, a, b: a.remainder_(0.3),
    lambda L, a, b: a.clamp_min(1.0), lambda L, a, b: a.clamp_max_(1.0), lambda L, a, b: a.logit_(0.1),
    lambda L, a, b: a.multiply_(b), lambda L, a, b: a.xlogy_(b), lambda L, a, b: a.float_power(2).float(),
    lambda L, a, b: a.addmm(b, L.ones(4, 4), beta=0.5, alpha=2),
    lambda L, a, b: a.mH, lambda L, a, b: a.H, lambda L, a, b: a.adjoint(), lambda L, a, b: a.conj(),
    lambda L, a, b: a.real, lambda L, a, b: a.resolve_neg(),
]


@pytest.mark.parametrize("i", range(len(CALLS)))
def test_method_matches_torch(i):
    ta, tb = torch.tensor(A), torch.tensor(B)
    va, vb = vl.tensor(A), vl.tensor(B)
    ref, ours = CALLS[i](torch, ta, tb), CALLS[i](vl, va, vb)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(va.numpy(), ta.numpy(), rtol=1e-5, atol=1e-6)  # in-place forms wrote self


def test_predicates():
    for L in (torch, vl):
        x = L.tensor([2.0])
        assert x.is_nonzero() and not x.is_complex() and x.is_signed() and not x.is_neg()
        assert x.get_device() == -1 and x.is_same_size(L.tensor([1.0])) and not x.is_inference()
        assert not L.tensor([1], dtype=L.uint8).is_signed()
        with pytest.raises(RuntimeError, match="more than one value is ambiguous"):
            L.ones(2).is_nonzero()
