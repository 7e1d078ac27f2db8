"""In-place ReLU with nothing to record (no_grad, or an input that needs no grad) writes max(x, 0) into
the input's storage in one pass: same values as PyTorch, the same object back, the version bumped (so a
graph that saved the tensor notices), views writing through to their base."""

import numpy as np

import visionlite as vl
import visionlite.nn.functional as F
from tests.helpers.refs import require
from visionlite.core.autograd.versions import version_of


def test_matches_torch_and_bumps_the_version():
    torch = require("torch")
    a = np.random.default_rng(0).standard_normal((2, 3, 5, 4)).astype(np.float32)
    x, xt = vl.tensor(a.copy()), torch.tensor(a.copy())
    before = version_of(x)
    with vl.no_grad():
        y = vl.nn.ReLU(inplace=True)(x)
    torch.nn.functional.relu(xt, inplace=True)
    assert y is x and version_of(x) == before + 1
    np.testing.assert_array_equal(x.numpy(), xt.numpy())


def test_a_view_writes_through_and_integers_keep_their_dtype():
    base = vl.tensor(np.array([[-1.0, 2.0], [-3.0, 4.0]], np.float32))
    F.relu(base[1], inplace=True)
    np.testing.assert_array_equal(base.numpy(), [[-1.0, 2.0], [0.0, 4.0]])
    ints = vl.tensor(np.array([-1, 2]))
    assert F.relu(ints, inplace=True).dtype == vl.int64 and ints.tolist() == [0, 2]


def test_a_saved_tensor_modified_in_place_is_still_caught():
    w = vl.tensor(np.array([1.0, -2.0]), requires_grad=True)
    h = w * 1.0  # requires grad: the recorded path
    z = h.detach()  # shares storage and version with h, needs no grad: the fast path
    out = (h * h).sum()
    F.relu(z, inplace=True)
    try:
        out.backward()
    except RuntimeError as e:
        assert "modified by an inplace operation" in str(e)
    else:
        raise AssertionError("backward used a tensor changed in place")
