"""ctc_loss/CTCLoss against PyTorch: padded and concatenated targets, repeated labels, varying input
and target lengths, every reduction, impossible alignments (zero_infinity), unbatched input; gradients
with respect to log_probs (PyTorch's convention) and to logits behind log_softmax; a float64 gradcheck
through log_softmax."""
import numpy as np
import pytest

import visionlite as vl
from tests.helpers.op_check import gradcheck
from tests.helpers.refs import require

torch = require("torch")
T, N, C = 12, 3, 5
LOGITS = np.random.default_rng(0).normal(size=(T, N, C)).astype(np.float32)
TARGETS = np.array([[1, 2, 2, 3], [4, 1, 0, 0], [2, 2, 2, 0]], dtype=np.int64)  # repeats need blanks
TLEN = np.array([4, 2, 3], dtype=np.int64)
ILEN = np.array([12, 9, 7], dtype=np.int64)


def _run(lib, logits, concatenated, reduction, through_softmax, zero_infinity=False, ilen=ILEN):
    x = lib.tensor(logits, requires_grad=True)
    lp = x.log_softmax(2) if through_softmax else x
    if concatenated:
        tg = lib.tensor(np.concatenate([t[:k] for t, k in zip(TARGETS, TLEN)]))
    else:
        tg = lib.tensor(TARGETS)
    mod = (torch.nn.CTCLoss if lib is torch else vl.nn.CTCLoss)(blank=0, reduction=reduction,
                                                                zero_infinity=zero_infinity)
    loss = mod(lp, tg, lib.tensor(ilen), lib.tensor(TLEN))
    w = np.linspace(0.5, 1.5, int(np.prod(loss.shape))).reshape(tuple(loss.shape)).astype(np.float32)
    (loss * lib.tensor(w)).sum().backward()
    return loss.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("concatenated", [False, True])
@pytest.mark.parametrize("through_softmax", [False, True])
def test_ctc_matches_torch(reduction, concatenated, through_softmax):
    logits = LOGITS if through_softmax else np.log(np.exp(LOGITS) / np.exp(LOGITS).sum(-1, keepdims=True))
    ours = _run(vl, logits, concatenated, reduction, through_softmax)
    ref = _run(torch, logits, concatenated, reduction, through_softmax)
    np.testing.assert_allclose(ours[0], ref[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours[1], ref[1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_impossible_alignment(zero_infinity):
    ilen = np.array([12, 9, 3], dtype=np.int64)  # 3 steps cannot emit "2 2 2" (needs 5)
    ours = _run(vl, LOGITS, False, "none", True, zero_infinity, ilen)
    ref = _run(torch, LOGITS, False, "none", True, zero_infinity, ilen)
    np.testing.assert_allclose(ours[0], ref[0], rtol=1e-5)
    if zero_infinity:
        np.testing.assert_allclose(ours[1], ref[1], rtol=1e-4, atol=1e-5)


def test_unbatched_and_gradcheck():
    lp = np.log(np.exp(LOGITS[:, 0]) / np.exp(LOGITS[:, 0]).sum(-1, keepdims=True))

    def args(L):
        return L.tensor(TARGETS[0]), L.tensor(12), L.tensor(4)

    ours = vl.nn.functional.ctc_loss(vl.tensor(lp), *args(vl))
    ref = torch.nn.functional.ctc_loss(torch.tensor(lp), *args(torch))
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-5)

    def fn(x):
        return vl.nn.functional.ctc_loss(x.log_softmax(2), vl.tensor(TARGETS), vl.tensor(ILEN),
                                         vl.tensor(TLEN), reduction="none")

    gradcheck(fn, [LOGITS.astype(np.float64)])
