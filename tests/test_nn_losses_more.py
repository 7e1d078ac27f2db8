"""Margin, embedding and likelihood losses against PyTorch (functional and module forms, every
reduction), gradients of both inputs, and float64 gradchecks."""
import numpy as np
import pytest

import visionlite as vl
from tests.helpers.op_check import gradcheck, helper_test_op
from tests.helpers.refs import require

torch = require("torch")
TF = torch.nn.functional
VF = vl.nn.functional
rng = np.random.default_rng(0)
SIGNS = np.where(rng.random(6) > 0.5, 1.0, -1.0).astype(np.float32)
PROBS = (rng.random((4, 5)) > 0.5).astype(np.float32)
CLASSES = np.array([0, 3, 4, 1], dtype=np.int64)
ML_TARGET = np.array([[3, 0, -1, 1, 2], [1, 2, 4, 0, -1], [-1, 1, 2, 3, 0], [2, 2, -1, 0, 0]], dtype=np.int64)
COUNTS = rng.poisson(3, (4, 5)).astype(np.float32)


def _t(a):
    return torch.tensor(a)


def _v(a):
    return vl.tensor(a)


# name -> (input shapes, call(F, lib-converter, *inputs, reduction))
CASES = {
    "margin_ranking": ([(6,), (6,)], lambda F, c, a, b, r: F.margin_ranking_loss(a, b, c(SIGNS), 0.3,
                                                                                 reduction=r)),
    "hinge_embedding": ([(6,)], lambda F, c, a, r: F.hinge_embedding_loss(a, c(SIGNS), 0.7, reduction=r)),
    "soft_margin": ([(6,)], lambda F, c, a, r: F.soft_margin_loss(a, c(SIGNS), reduction=r)),
    "multilabel_soft_margin": ([(4, 5)], lambda F, c, a, r: F.multilabel_soft_margin_loss(
        a, c(PROBS), weight=c(np.linspace(0.5, 1.5, 5).astype(np.float32)), reduction=r)),
    "cosine_embedding": ([(6, 3), (6, 3)], lambda F, c, a, b, r: F.cosine_embedding_loss(a, b, c(SIGNS), 0.2,
                                                                                         reduction=r)),
    "triplet_margin": ([(4, 3), (4, 3), (4, 3)], lambda F, c, a, p, n, r: F.triplet_margin_loss(
        a, p, n, margin=1.5, reduction=r)),
    "triplet_margin_swap_p1": ([(4, 3), (4, 3), (4, 3)], lambda F, c, a, p, n, r: F.triplet_margin_loss(
        a, p, n, margin=2.0, p=1, swap=True, reduction=r)),
    "triplet_with_distance": ([(4, 3), (4, 3), (4, 3)], lambda F, c, a, p, n, r:
                              F.triplet_margin_with_distance_loss(
                                  a, p, n, distance_function=lambda x, y: 1 - F.cosine_similarity(x, y),
                                  margin=0.5, swap=True, reduction=r)),
    "multi_margin": ([(4, 5)], lambda F, c, a, r: F.multi_margin_loss(a, c(CLASSES), margin=0.8,
                                                                       reduction=r)),
    "multi_margin_p2_weight": ([(4, 5)], lambda F, c, a, r: F.multi_margin_loss(
        a, c(CLASSES), p=2, weight=c(np.linspace(0.5, 2, 5).astype(np.float32)), reduction=r)),
    "multilabel_margin": ([(4, 5)], lambda F, c, a, r: F.multilabel_margin_loss(a, c(ML_TARGET),
                                                                                reduction=r)),
    "poisson_nll": ([(4, 5)], lambda F, c, a, r: F.poisson_nll_loss(a, c(COUNTS), reduction=r)),
    "poisson_nll_full_linear": ([(4, 5)], lambda F, c, a, r: F.poisson_nll_loss(
        a.abs() + 0.1, c(COUNTS), log_input=False, full=True, reduction=r)),
    "gaussian_nll": ([(4, 5), (4, 5)], lambda F, c, a, v, r: F.gaussian_nll_loss(
        a, c(COUNTS / 3), v.abs() + 0.05, full=True, reduction=r)),
    "gaussian_nll_var_per_sample": ([(4, 5), (4, 1)], lambda F, c, a, v, r: F.gaussian_nll_loss(
        a, c(COUNTS / 3), v * v, eps=0.1, reduction=r)),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", list(CASES))
def test_loss(name, reduction):
    shapes, call = CASES[name]
    helper_test_op(shapes, lambda *xs: call(TF, _t, *xs, reduction), lambda *xs: call(VF, _v, *xs, reduction),
                   low=-1.5, high=1.5)
    # the variance clamp passes its gradient through unchanged (as PyTorch): not a finite difference
    if reduction == "mean" and name != "gaussian_nll_var_per_sample":
        gen = np.random.default_rng(4)
        ins = [gen.uniform(-1.5, 1.5, s) for s in shapes]
        conv = (lambda a: vl.tensor(np.asarray(a, np.float64)))
        gradcheck(lambda *xs: call(VF, conv, *xs, "none"), ins)


def test_unbatched_and_modules():
    x = rng.uniform(-1, 1, 5).astype(np.float32)
    for tm, vm, args in [
        (torch.nn.MultiMarginLoss(), vl.nn.MultiMarginLoss(), (np.int64(2),)),
        (torch.nn.MultiLabelMarginLoss(), vl.nn.MultiLabelMarginLoss(), (ML_TARGET[0],)),
        (torch.nn.SoftMarginLoss(reduction="sum"), vl.nn.SoftMarginLoss(reduction="sum"),
         (SIGNS[:5],)),
        (torch.nn.PoissonNLLLoss(full=True), vl.nn.PoissonNLLLoss(full=True), (COUNTS[0],)),
        (torch.nn.HingeEmbeddingLoss(margin=0.5), vl.nn.HingeEmbeddingLoss(margin=0.5), (SIGNS[:5],)),
    ]:
        ref = tm(torch.tensor(x), *[torch.tensor(a) for a in args])
        ours = vm(vl.tensor(x), *[vl.tensor(a) for a in args])
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6, err_msg=type(tm).__name__)
    a, b = rng.uniform(-1, 1, (2, 3, 4)).astype(np.float32)
    ref = torch.nn.CosineEmbeddingLoss(0.1)(_t(a), _t(b), _t(SIGNS[:3]))
    ours = vl.nn.CosineEmbeddingLoss(0.1)(_v(a), _v(b), _v(SIGNS[:3]))
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-5)
    ref = torch.nn.TripletMarginLoss(swap=True)(_t(a), _t(b), _t(a[::-1].copy()))
    ours = vl.nn.TripletMarginLoss(swap=True)(_v(a), _v(b), _v(a[::-1].copy()))
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-5)
    v = rng.uniform(0.1, 1, 3).astype(np.float32)
    ref = torch.nn.GaussianNLLLoss()(_t(a), _t(b), _t(v))
    ours = vl.nn.GaussianNLLLoss()(_v(a), _v(b), _v(v))
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-5)


def test_errors_as_torch():
    with pytest.raises(ValueError, match="var has negative"):
        VF.gaussian_nll_loss(vl.ones(3), vl.ones(3), -vl.ones(3))
    with pytest.raises(ValueError, match="incorrect size"):
        VF.gaussian_nll_loss(vl.ones(3, 2), vl.ones(3, 2), vl.ones(2, 2))
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        vl.nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="margin to be greater than 0"):
        vl.nn.TripletMarginWithDistanceLoss(margin=0)
