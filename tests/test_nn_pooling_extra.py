"""MaxUnpool1d/2d and LPPool1d/2d (functional and modules) against PyTorch: values, gradients, reprs."""
import numpy as np
import pytest

import visionlite as vl
from tests.helpers.op_check import gradcheck, helper_test_op
from tests.helpers.refs import require

torch = require("torch")


def _unpool2d(L, x, output_size=None, k=2, s=2, p=0):
    y, idx = L.nn.functional.max_pool2d(x, k, s, p, return_indices=True)
    return L.nn.functional.max_unpool2d(y * 2, idx, k, s, p, output_size=output_size)


def _unpool1d(L, x):
    y, idx = L.nn.functional.max_pool1d(x, 3, 2, 1, return_indices=True)
    return L.nn.functional.max_unpool1d(y, idx, 3, 2, 1)


# overlapping windows may pick one element twice: both picks get the gradient (as PyTorch) while only one
# value lands, so a finite difference cannot agree there; those cases are checked against PyTorch only
@pytest.mark.parametrize("case", [
    ([(2, 3, 6, 6)], lambda L, x: _unpool2d(L, x), True),
    ([(1, 2, 7, 5)], lambda L, x: _unpool2d(L, x, output_size=[7, 5]), True),
    ([(1, 2, 7, 7)], lambda L, x: _unpool2d(L, x, k=3, s=2, p=1), False),
    ([(2, 3, 9)], lambda L, x: _unpool1d(L, x), False),
    ([(2, 3, 6, 6)], lambda L, x: L.nn.functional.lp_pool2d(x, 2.0, 2), True),
    ([(2, 3, 7, 7)], lambda L, x: L.nn.functional.lp_pool2d(x.abs() + 0.1, 3.0, (3, 2), (2, 1), True), True),
    ([(2, 3, 9)], lambda L, x: L.nn.functional.lp_pool1d(x, 2.0, 3, 2), True),
])
def test_against_torch(case):
    shapes, fn, finite_difference = case
    helper_test_op(shapes, lambda x: fn(torch, x), lambda x: fn(vl, x))
    if finite_difference:
        gradcheck(lambda x: fn(vl, x), [np.random.default_rng(1).uniform(0.2, 1.5, shapes[0])])


def test_modules():
    x = np.random.default_rng(0).normal(size=(1, 2, 4, 4)).astype(np.float32)
    for tm, vm in [(torch.nn.MaxUnpool2d(2), vl.nn.MaxUnpool2d(2)), (torch.nn.MaxUnpool1d(3, 2, 1),
                                                                     vl.nn.MaxUnpool1d(3, 2, 1)),
                   (torch.nn.LPPool2d(2, 2), vl.nn.LPPool2d(2, 2)), (torch.nn.LPPool1d(1.5, 3, 2),
                                                                     vl.nn.LPPool1d(1.5, 3, 2))]:
        assert repr(vm) == repr(tm)
    tpool, vpool = torch.nn.MaxPool2d(2, return_indices=True), vl.nn.MaxPool2d(2, return_indices=True)
    ty, ti = tpool(torch.tensor(x))
    vy, vi = vpool(vl.tensor(x))
    ref = torch.nn.MaxUnpool2d(2)(ty, ti, output_size=torch.Size([1, 2, 4, 4]))
    ours = vl.nn.MaxUnpool2d(2)(vy, vi, output_size=[1, 2, 4, 4])
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())
    ref = torch.nn.LPPool2d(2, 2)(torch.tensor(x))
    np.testing.assert_allclose(vl.nn.LPPool2d(2, 2)(vl.tensor(x)).numpy(), ref.numpy(), rtol=1e-5)
