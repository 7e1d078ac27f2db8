"""Shape-changing in-place methods (unsqueeze_, squeeze_, transpose_/swapdims_, t_) against PyTorch:
shapes, values, shared storage with other views, and gradients through a non-leaf."""
import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require

torch = require("torch")

CASES = [("unsqueeze_", (0,)), ("unsqueeze_", (-1,)), ("squeeze_", ()), ("squeeze_", (0,)),
         ("squeeze_", (2,)), ("transpose_", (0, 2)), ("swapdims_", (1, 0))]


@pytest.mark.parametrize("name,args", CASES)
def test_matches_torch(name, args):
    data = np.arange(6, dtype=np.float64).reshape(1, 6, 1)
    ours, theirs = vl.tensor(data), torch.tensor(data)
    assert getattr(ours, name)(*args) is ours
    getattr(theirs, name)(*args)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_t_and_storage_shared_with_views():
    for lib in (vl, torch):
        x = lib.arange(6.0).reshape(2, 3)
        flat = x.view(6)
        x.t_()
        assert tuple(x.shape) == (3, 2)
        x.add_(1)  # the storage is the one ``flat`` sees
        assert flat.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_gradient_through_non_leaf_and_leaf_error():
    grads = []
    for lib in (vl, torch):
        a = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable"):
            a.unsqueeze_(0)
        b = a * lib.tensor([2.0, 3.0, 4.0], dtype=lib.float64)
        b.unsqueeze_(0).transpose_(0, 1)
        assert tuple(b.shape) == (3, 1)
        (b * lib.tensor([[1.0], [5.0], [7.0]], dtype=lib.float64)).sum().backward()
        grads.append(a.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
