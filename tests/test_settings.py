"""Global settings user scripts carry over from PyTorch: set_printoptions (against torch's repr),
set_num_threads/get_num_threads, and the no-op visionlite.backends flags."""

import re

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require

torch = require("torch")


@pytest.fixture
def printoptions():
    """Apply options to both libraries; restore both defaults afterwards, even on failure."""

    def apply(**kwargs):
        vl.set_printoptions(**kwargs)
        torch.set_printoptions(**kwargs)

    yield apply
    vl.set_printoptions(profile="default")
    torch.set_printoptions(profile="default")


VALUES = [
    np.array([1.123456, -2.5, 3.0], np.float32),
    np.array([[1e-5, 2.0], [3.5, 1e4]], np.float32),
    np.array([1.0, 2.0, 300.0], np.float32),
    np.array([0.1, 100.25, np.nan, -np.inf], np.float64),
    np.arange(30, dtype=np.int64),
    np.random.default_rng(0).standard_normal((12, 9)).astype(np.float32),
    np.arange(60, dtype=np.float32).reshape(3, 4, 5) / 7,
    np.random.default_rng(1).standard_normal((30, 40)).astype(np.float32),
    np.array([True, False] * 20),
]

OPTIONS = [
    {"precision": 2},
    {"precision": 7},
    {"sci_mode": True},
    {"sci_mode": False},
    {"sci_mode": True, "precision": 1},
    {"threshold": 5},
    {"threshold": 5, "edgeitems": 1},
    {"threshold": 20, "edgeitems": 2, "precision": 3},
    {"profile": "short"},
    {"profile": "full"},
    {"threshold": 4, "edgeitems": 0},
    {"linewidth": 30},
]


def _same_layout(v, t):
    # "visionlite." is 5 characters longer than "torch.", which can move a dtype suffix to its own line.
    def norm(s):
        return re.sub(r",\n *dtype=", ", dtype=", s.replace("visionlite.", "torch."))

    return norm(v) == norm(t)


@pytest.mark.parametrize("opts", OPTIONS, ids=[str(o) for o in OPTIONS])
@pytest.mark.parametrize("i", range(len(VALUES)))
def test_repr_with_printoptions_matches_torch(printoptions, opts, i):
    printoptions(**opts)
    a = VALUES[i]
    assert _same_layout(repr(vl.tensor(a)), repr(torch.tensor(a)))


def test_linewidth_matches_torch(printoptions):
    printoptions(linewidth=40)
    a = np.arange(20, dtype=np.float32) / 4
    assert repr(vl.tensor(a)) == repr(torch.tensor(a))


def test_default_layout_and_suffixes_match_torch():
    for a in VALUES + [np.zeros(0, np.int64), np.zeros((2, 0), np.float32), np.zeros(0, np.float64)]:
        assert _same_layout(repr(vl.tensor(a)), repr(torch.tensor(a)))
    v = vl.tensor(VALUES[5], requires_grad=True)
    t = torch.tensor(VALUES[5], requires_grad=True)
    assert _same_layout(repr(v), repr(t))
    v, t = vl.tensor(VALUES[0], requires_grad=True), torch.tensor(VALUES[0], requires_grad=True)
    assert _same_layout(repr(v * 2), repr(t * 2))


def test_printoptions_reset_by_default_profile(printoptions):
    printoptions(precision=1, threshold=3, sci_mode=True)
    printoptions(profile="default")
    a = np.array([1.123456, 2.5, 3.0, 4.0, 5.0], np.float32)
    assert repr(vl.tensor(a)) == repr(torch.tensor(a)) == "tensor([1.1235, 2.5000, 3.0000, 4.0000, 5.0000])"


def test_printoptions_bad_profile():
    with pytest.raises(ValueError, match="profile"):
        vl.set_printoptions(profile="tiny")


def test_set_num_threads_controls_the_op_pool(monkeypatch):
    from visionlite.core.ops import _threads

    before = vl.get_num_threads()
    monkeypatch.setattr(_threads, "_override", [None])  # restored after the test
    monkeypatch.setattr(_threads, "_MIN_ELEMS", 0)
    vl.set_num_threads(3)
    assert vl.get_num_threads() == 3
    parts = _threads.split_map(lambda a, b: (a, b), 9, 10**6)
    assert parts == [(0, 3), (3, 6), (6, 9)]
    vl.set_num_threads(1)
    assert _threads.split_map(lambda a, b: (a, b), 9, 10**6) == [(0, 9)]
    for bad in (0, -2, 1.5, True):
        with pytest.raises(RuntimeError, match="positive integer"):
            vl.set_num_threads(bad)
    vl.set_num_threads(before)  # BLAS's count too (set_num_threads drives both)
    monkeypatch.setattr(_threads, "_override", [None])
    assert vl.get_num_threads() == before


def test_backends_flags_are_settable_noops():
    import visionlite.backends.cudnn as cudnn

    assert cudnn is vl.backends.cudnn
    for name in ("benchmark", "deterministic", "enabled", "allow_tf32"):
        assert getattr(vl.backends.cudnn, name) == getattr(torch.backends.cudnn, name), name
    old = cudnn.benchmark, cudnn.deterministic
    try:
        vl.backends.cudnn.benchmark = True
        vl.backends.cudnn.deterministic = True
        assert cudnn.benchmark and cudnn.deterministic
        conv = vl.nn.Conv2d(1, 1, 3)
        assert conv(vl.ones(1, 1, 4, 4)).shape == (1, 1, 2, 2)
    finally:
        cudnn.benchmark, cudnn.deterministic = old
    with vl.backends.cudnn.flags(enabled=False, deterministic=True):
        assert not cudnn.enabled and cudnn.deterministic
    assert cudnn.enabled and not cudnn.deterministic
    assert not cudnn.is_available() and cudnn.version() is None


def test_backends_cuda_matmul_and_mps():
    m = vl.backends.cuda.matmul
    assert m.allow_tf32 == torch.backends.cuda.matmul.allow_tf32
    m.allow_tf32 = True
    try:
        a = vl.ones(2, 3)
        assert (a @ a.T).tolist() == [[3.0, 3.0], [3.0, 3.0]]
    finally:
        m.allow_tf32 = False
    with pytest.raises(AttributeError):
        m.allow_tf23 = True  # a typo raises instead of silently doing nothing
    assert isinstance(vl.backends.cuda.is_built(), bool)
    assert vl.backends.mps.is_available() is False and vl.backends.mps.is_built() is False
