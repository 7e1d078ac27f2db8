"""Losses against PyTorch (values and gradients, every reduction), float64 gradchecks, and input checks."""
import numpy as np
import pytest

import visionlite as vl
import visionlite.nn.functional as F
from tests.helpers.nn_check import to_np
from tests.helpers.op_check import gradcheck, helper_test_op
from tests.helpers.refs import require
from visionlite import nn

torch = require("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(6, 5)).astype(np.float32)
LOGITS_ND = RNG.normal(size=(2, 4, 3, 3)).astype(np.float32)
TARGET = np.array([0, 4, 2, 2, 1, 3], dtype=np.int64)
TARGET_IGN = np.array([0, -100, 2, 7, 1, 3], dtype=np.int64)  # 7 is ignored below via ignore_index=7
TARGET_ND = RNG.integers(0, 4, size=(2, 3, 3)).astype(np.int64)
CLASS_W = np.array([0.5, 2.0, 1.0, 0.3, 1.5], dtype=np.float32)
PROBS = np.abs(RNG.normal(size=(6, 5))).astype(np.float32)
PROBS /= PROBS.sum(1, keepdims=True)


def _w(lib, arr):
    return None if arr is None else (torch.tensor(arr) if lib is torch else vl.tensor(arr))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weight", [None, CLASS_W])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_class_indices(reduction, weight, smoothing):
    def fn(lib, f):
        return lambda x, t: f.cross_entropy(x, t, weight=_w(lib, weight), reduction=reduction,
                                            label_smoothing=smoothing)
    helper_test_op(None, fn(torch, TF), fn(vl, F), inputs=[LOGITS, TARGET])
    # Ignored targets: both PyTorch's default -100 and a custom index.
    for ign in (-100, 7):
        t = np.where(TARGET_IGN == 7, ign, TARGET_IGN) if ign == -100 else np.where(TARGET_IGN == -100, 1,
                                                                                     TARGET_IGN)

        def fn_ign(lib, f, ign=ign):
            return lambda x, tt: f.cross_entropy(x, tt, weight=_w(lib, weight), reduction=reduction,
                                                 ignore_index=ign, label_smoothing=smoothing)
        helper_test_op(None, fn_ign(torch, TF), fn_ign(vl, F), inputs=[LOGITS, t])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_spatial_and_unbatched(reduction):
    w4 = CLASS_W[:4]
    for weight in (None, w4):
        for smoothing in (0.0, 0.1):
            def fn(lib, f, weight=weight, smoothing=smoothing):
                return lambda x, t: f.cross_entropy(x, t, weight=_w(lib, weight), reduction=reduction,
                                                    label_smoothing=smoothing)
            helper_test_op(None, fn(torch, TF), fn(vl, F), inputs=[LOGITS_ND, TARGET_ND])
    helper_test_op(None, lambda x, t: TF.cross_entropy(x, t, reduction=reduction),
                   lambda x, t: F.cross_entropy(x, t, reduction=reduction), inputs=[LOGITS[0], np.array(3)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_probabilities(reduction):
    for weight in (None, CLASS_W):
        for smoothing in (0.0, 0.25):
            def fn(lib, f, weight=weight, smoothing=smoothing):
                return lambda x, t: f.cross_entropy(x, t, weight=_w(lib, weight), reduction=reduction,
                                                    label_smoothing=smoothing)
            # Gradients flow to the soft target too.
            helper_test_op(None, fn(torch, TF), fn(vl, F), inputs=[LOGITS, PROBS])
    probs_nd = np.abs(RNG.normal(size=LOGITS_ND.shape)).astype(np.float32)
    helper_test_op(None, lambda x, t: TF.cross_entropy(x, t, reduction=reduction),
                   lambda x, t: F.cross_entropy(x, t, reduction=reduction), inputs=[LOGITS_ND, probs_nd])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss(reduction):
    logp = np.log(PROBS)
    for weight in (None, CLASS_W):
        def fn(lib, f, weight=weight):
            return lambda x, t: f.nll_loss(x, t, weight=_w(lib, weight), reduction=reduction, ignore_index=7)
        target = np.where(TARGET_IGN == -100, 0, TARGET_IGN)
        helper_test_op(None, fn(torch, TF), fn(vl, F), inputs=[logp, target])
    helper_test_op(None, lambda x, t: TF.nll_loss(x, t, reduction=reduction),
                   lambda x, t: F.nll_loss(x, t, reduction=reduction), inputs=[LOGITS_ND, TARGET_ND])


def test_all_ignored_mean_is_nan_like_torch():
    t = np.full(6, -100, dtype=np.int64)
    assert np.isnan(TF.cross_entropy(torch.tensor(LOGITS), torch.tensor(t)).item())
    assert np.isnan(F.cross_entropy(vl.tensor(LOGITS), vl.tensor(t)).item())


REG = [RNG.normal(size=(4, 6)).astype(np.float32), RNG.normal(size=(4, 6)).astype(np.float32)]
REG[1][0, :3] = REG[0][0, :3]  # d == 0 exactly: the l1 / smooth-l1 kink
REG[1][1, 0] = REG[0][1, 0] - 1.0  # |d| == beta exactly
REG[1][1, 1] = REG[0][1, 1] + 0.5


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name,kw", [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {}),
                                     ("smooth_l1_loss", {"beta": 0.5}), ("smooth_l1_loss", {"beta": 0.0}),
                                     ("huber_loss", {}), ("huber_loss", {"delta": 0.5})])
def test_regression_losses(name, kw, reduction):
    helper_test_op(None, lambda x, t: getattr(TF, name)(x, t, reduction=reduction, **kw),
                   lambda x, t: getattr(F, name)(x, t, reduction=reduction, **kw), inputs=REG)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_regression_losses_with_elementwise_weight(name, reduction):
    w = np.abs(RNG.normal(size=(4, 6))).astype(np.float32)
    helper_test_op(None, lambda x, t: getattr(TF, name)(x, t, reduction=reduction, weight=torch.tensor(w)),
                   lambda x, t: getattr(F, name)(x, t, reduction=reduction, weight=vl.tensor(w)), inputs=REG)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy(reduction):
    p = RNG.uniform(0.05, 0.95, size=(4, 3)).astype(np.float32)
    t = RNG.uniform(0, 1, size=(4, 3)).astype(np.float32)
    w = RNG.uniform(0.5, 2, size=(4, 3)).astype(np.float32)
    helper_test_op(None, lambda x, y: TF.binary_cross_entropy(x, y, reduction=reduction),
                   lambda x, y: F.binary_cross_entropy(x, y, reduction=reduction), inputs=[p, t])
    tw = torch.tensor(w)
    helper_test_op(None, lambda x, y: TF.binary_cross_entropy(x, y, weight=tw, reduction=reduction),
                   lambda x, y: F.binary_cross_entropy(x, y, weight=vl.tensor(w), reduction=reduction),
                   inputs=[p, t])
    # Saturated probabilities: the logs are clamped at -100 in both.
    sat = np.array([[0.0, 1.0, 0.5]], dtype=np.float32)
    helper_test_op(None, lambda x, y: TF.binary_cross_entropy(x, y, reduction=reduction),
                   lambda x, y: F.binary_cross_entropy(x, y, reduction=reduction),
                   inputs=[sat, np.array([[1.0, 0.0, 0.3]], dtype=np.float32)])
    helper_test_op(None, lambda x, y: TF.binary_cross_entropy(x, y, reduction=reduction),
                   lambda x, y: F.binary_cross_entropy(x, y, reduction=reduction),
                   inputs=[sat, np.array([[0.0, 1.0, 0.3]], dtype=np.float32)], grad_rtol=1e-5)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits(reduction):
    x = np.array([[-80.0, -3.0, 0.0, 2.5], [0.0, 40.0, -0.5, 1.0]], dtype=np.float32)
    t = np.array([[0.0, 1.0, 1.0, 0.3], [0.0, 1.0, 0.7, 0.0]], dtype=np.float32)
    pw = np.array([1.0, 3.0, 0.5, 2.0], dtype=np.float32)
    w = np.array([[1.0, 0.5, 2.0, 1.0]], dtype=np.float32)
    for pos_weight in (None, pw):
        for weight in (None, w):
            def fn(lib, f, pos_weight=pos_weight, weight=weight):
                return lambda a, b: f.binary_cross_entropy_with_logits(
                    a, b, weight=_w(lib, weight), pos_weight=_w(lib, pos_weight), reduction=reduction)
            helper_test_op(None, fn(torch, TF), fn(vl, F), inputs=[x, t])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    logp = np.log(PROBS)
    target = PROBS[::-1].copy()
    target[0, 1] = 0.0  # 0 * log(0) counts as 0
    if log_target:
        target = np.log(np.where(target > 0, target, 1e-3)).astype(np.float32)
    with pytest.warns(UserWarning) if reduction == "mean" else _nullcontext():
        # PyTorch's target gradient is NaN where target == 0, so the target is a constant here...
        helper_test_op(None, lambda x: TF.kl_div(x, torch.tensor(target), reduction=reduction,
                                                 log_target=log_target),
                       lambda x: F.kl_div(x, vl.tensor(target), reduction=reduction, log_target=log_target),
                       inputs=[logp])
        # ...and differentiated where it is positive.
        helper_test_op(None, lambda x, y: TF.kl_div(x, y, reduction=reduction, log_target=log_target),
                       lambda x, y: F.kl_div(x, y, reduction=reduction, log_target=log_target),
                       inputs=[logp, np.abs(target) + 0.01])


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ------------------------------------------------------------------------------------ gradchecks
def test_loss_gradchecks_float64():
    x = RNG.normal(size=(3, 4))
    t = np.array([1, 0, 3])
    p = RNG.uniform(0.1, 0.9, size=(3, 4))
    gradcheck(lambda a: F.cross_entropy(a, vl.tensor(t), label_smoothing=0.1,
                                        weight=vl.tensor([1.0, 2.0, 0.5, 1.0], dtype=vl.float64)), [x])
    gradcheck(lambda a, b: F.cross_entropy(a, b), [x, p / p.sum(1, keepdims=True)])
    gradcheck(lambda a: F.nll_loss(a, vl.tensor(t), reduction="sum"), [x])
    gradcheck(lambda a, b: F.mse_loss(a, b), [x, p])
    gradcheck(lambda a, b: F.smooth_l1_loss(a, b, beta=0.5), [x, p])
    gradcheck(lambda a, b: F.huber_loss(a, b, delta=0.7), [x, p])
    gradcheck(lambda a, b: F.l1_loss(a, b), [x, p])
    gradcheck(lambda a, b: F.binary_cross_entropy(a, b), [p, p[::-1].copy()])
    gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=vl.tensor([2.0, 1, 1, 0.5],
                                                                                          dtype=vl.float64)),
              [x, p])
    gradcheck(lambda a, b: F.kl_div(a, b, reduction="batchmean"), [np.log(p), p[::-1].copy()])


# ---------------------------------------------------------------------------------------- modules
MODULES = [
    ("CrossEntropyLoss", {"label_smoothing": 0.1}, [LOGITS, TARGET]),
    ("CrossEntropyLoss", {"weight": CLASS_W, "ignore_index": 2}, [LOGITS, TARGET]),
    ("NLLLoss", {"reduction": "sum"}, [np.log(PROBS), TARGET]),
    ("MSELoss", {}, REG), ("L1Loss", {"reduction": "sum"}, REG), ("SmoothL1Loss", {"beta": 0.5}, REG),
    ("HuberLoss", {"delta": 2.0}, REG),
    ("BCELoss", {"weight": np.full((1, 5), 0.5, np.float32)}, [PROBS, PROBS[::-1].copy()]),
    ("BCEWithLogitsLoss", {"pos_weight": np.arange(1, 6, dtype=np.float32)}, [LOGITS, PROBS]),
    ("KLDivLoss", {"reduction": "batchmean"}, [np.log(PROBS), PROBS[::-1].copy()]),
]


@pytest.mark.parametrize("name,kw,inputs", MODULES, ids=[m[0] for m in MODULES])
def test_loss_modules(name, kw, inputs):
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    vkw = {k: vl.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    tm, vm = getattr(torch.nn, name)(**tkw), getattr(nn, name)(**vkw)
    assert repr(vm) == repr(tm)
    assert list(vm.state_dict()) == list(tm.state_dict())
    helper_test_op(None, tm, vm, inputs=inputs)


def test_legacy_reduction_flags():
    assert nn.MSELoss(size_average=False).reduction == "sum"
    assert nn.MSELoss(reduce=False).reduction == "none"
    assert nn.CrossEntropyLoss(size_average=True, reduce=True).reduction == "mean"


# ----------------------------------------------------------------------------------------- errors
def test_clear_errors():
    x = vl.tensor(LOGITS)
    with pytest.raises(IndexError, match=r"Target 9 is out of bounds.*5 classes"):
        F.cross_entropy(x, vl.tensor([0, 1, 9, 2, 1, 1]))
    with pytest.raises(IndexError, match=r"Target -3 is out of bounds"):
        F.nll_loss(x, vl.tensor([0, 1, -3, 2, 1, 1]))
    with pytest.raises(RuntimeError, match="integer"):
        F.nll_loss(x, vl.tensor(PROBS))
    with pytest.raises(ValueError, match="probabilities"):
        F.cross_entropy(x, vl.tensor(PROBS[:, :3]))
    with pytest.raises(ValueError, match="target of shape"):
        F.cross_entropy(x, vl.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="one entry per class"):
        F.cross_entropy(x, vl.tensor(TARGET), weight=vl.ones(3))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(x, vl.tensor(PROBS))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, vl.tensor(TARGET), label_smoothing=1.5)
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(x, x[0])


def test_cross_entropy_backward_values_exact():
    # d/dx CE = softmax(x) - onehot(t), over N for 'mean'.
    x = vl.tensor(LOGITS.astype(np.float64), requires_grad=True)
    F.cross_entropy(x, vl.tensor(TARGET)).backward()
    e = np.exp(LOGITS.astype(np.float64) - LOGITS.max(1, keepdims=True))
    expected = (e / e.sum(1, keepdims=True) - np.eye(5)[TARGET]) / 6
    np.testing.assert_allclose(to_np(x.grad), expected, atol=1e-12)


def test_cross_entropy_probabilities_refuse_ignore_index_like_torch():
    msg = "ignore_index is not supported for floating point target"
    for ign in (0, 3):
        with pytest.raises(RuntimeError, match=msg):
            TF.cross_entropy(torch.tensor(LOGITS), torch.tensor(PROBS), ignore_index=ign)
        with pytest.raises(RuntimeError, match=msg):
            F.cross_entropy(vl.tensor(LOGITS), vl.tensor(PROBS), ignore_index=ign)
    # Negative indices (the default -100 included) are accepted by both.
    for ign in (-100, -1):
        got = F.cross_entropy(vl.tensor(LOGITS), vl.tensor(PROBS), ignore_index=ign)
        want = TF.cross_entropy(torch.tensor(LOGITS), torch.tensor(PROBS), ignore_index=ign)
        np.testing.assert_allclose(to_np(got), want.numpy(), rtol=1e-5)
