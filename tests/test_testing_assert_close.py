"""visionlite.testing.assert_close raises when and as torch.testing.assert_close does: same exception
type and the same message (module prefixes aside) for each pair of inputs."""
import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require

torch = require("torch")

F32 = np.array([1.0, 2.0, 3.0], np.float32)
CASES = [
    (lambda L: (L.tensor(F32), L.tensor(F32 + np.float32(1e-6))), {}),
    (lambda L: (L.tensor(F32), L.tensor([1.0, 2.5, 3.0])), {}),
    (lambda L: (L.tensor(F32), L.tensor([1.0, 2.5, 3.0])), {"rtol": 0.3, "atol": 0.0}),
    (lambda L: (L.tensor([1, 2, 3]), L.tensor([1, 4, 3])), {}),
    (lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.0, 2.0], dtype=L.float64)), {}),
    (lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.0, 2.5], dtype=L.float64)), {"check_dtype": False}),
    (lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.0, 2.0, 3.0])), {}),
    (lambda L: (1.0, 1.5), {}),
    (lambda L: (1, 2), {}),
    (lambda L: (L.tensor(2.0), L.tensor(3.0)), {}),
    (lambda L: ([L.tensor(1.0), L.tensor(2.0)], [L.tensor(1.0), L.tensor(3.0)]), {}),
    (lambda L: ({"a": L.tensor(1.0)}, {"a": L.tensor(2.0)}), {}),
    (lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.0, 2.0])), {"rtol": 1e-3}),
    (lambda L: (L.tensor([float("nan")]), L.tensor([float("nan")])), {}),
    (lambda L: (L.tensor([float("nan"), 1.0]), L.tensor([float("nan"), 1.0])), {"equal_nan": True}),
    (lambda L: (L.tensor([1.0, 2.0]), [1.0, 2.0]), {}),
    (lambda L: (L.tensor([True, False]), L.tensor([True, True])), {}),
    (lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.0, 2.5])), {"msg": "custom"}),
    (lambda L: (L.ones(2, 2), L.tensor([[1.0, 1.0], [1.0, 3.0]])), {}),
    (lambda L: ([1, 2], [1, 2, 3]), {}),
    (lambda L: (L.tensor([1.0, float("inf")]), L.tensor([1.0, float("inf")])), {}),
    (lambda L: (L.tensor([1.0, 2.0], dtype=L.float64), L.tensor([1.0, 2.0 + 1e-8], dtype=L.float64)), {}),
]


def _outcome(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the exception itself is what is compared
        return type(e).__name__, str(e)
    return None


def _normalise(text):
    return text.replace("torch.", "").replace("visionlite.", "").replace("core.tensor.", "") \
        .replace("<class 'Tensor'>", "<class 'T'>").replace("<class 'tensor.Tensor'>", "<class 'T'>")


@pytest.mark.parametrize("i", range(len(CASES)))
def test_assert_close_matches_torch(i):
    make, kw = CASES[i]
    ref = _outcome(lambda: torch.testing.assert_close(*make(torch), **kw))
    ours = _outcome(lambda: vl.testing.assert_close(*make(vl), **kw))
    assert (ours is None) == (ref is None), (ours, ref)
    if ref is not None:
        assert ours[0] == ref[0]
        assert _normalise(ours[1]) == _normalise(ref[1])


def test_make_tensor_and_callable_msg():
    vl.manual_seed(0)
    t = vl.testing.make_tensor(3, 4, dtype=vl.float32, low=-1, high=1)
    assert tuple(t.shape) == (3, 4) and float(t.abs().max()) <= 1
    i = vl.testing.make_tensor((50,), dtype=vl.int64, exclude_zero=True)
    assert int((i == 0).sum()) == 0 and int(i.min()) >= -9 and int(i.max()) < 10
    with pytest.raises(AssertionError, match="^prefix: Tensor-likes"):
        vl.testing.assert_close(vl.ones(2), vl.zeros(2), msg=lambda m: "prefix: " + m)
    import visionlite.testing as T
    assert T.assert_close is vl.testing.assert_close
