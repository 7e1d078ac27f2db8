"""Connectionist temporal classification loss (Graves et al., 2006), as ``torch.nn.functional.ctc_loss``.

The forward (alpha) recursion runs over the extended label sequence ``blank, l1, blank, l2, ..., blank``
in log space, one time step at a time with Tensor ops, so autograd supplies the alpha-beta backward.
Unreachable states hold a large finite negative number instead of -inf, which keeps logsumexp's gradient
at exactly zero there instead of NaN. PyTorch's gradient with respect to ``log_probs`` is the one for
logits behind a ``log_softmax`` (it adds ``exp(log_probs)`` on each valid step); a term with value zero
and that gradient reproduces it, so both the direct and the ``log_softmax`` paths match PyTorch.
"""
import numpy as np

from ...amp_state import autocast_op
from ...ops import elementwise as ew
from ...ops import movement as mv
from ...tensor import Tensor

__all__ = ["ctc_loss"]

_NEG = -1e30  # "log 0" that stays finite
_IMPOSSIBLE = -1e29


def _ints(x):
    return np.asarray(x.detach().cpu().numpy() if isinstance(x, Tensor) else x, dtype=np.int64).reshape(-1)


def _padded_targets(targets, target_lengths, n):
    t = _ints(targets) if targets.ndim == 1 else np.asarray(targets.detach().cpu().numpy(), dtype=np.int64)
    smax = int(target_lengths.max()) if target_lengths.size else 0
    out = np.zeros((n, max(smax, 1)), dtype=np.int64)
    if targets.ndim == 1:  # concatenated
        starts = np.concatenate([[0], np.cumsum(target_lengths)[:-1]])
        for i, (s, k) in enumerate(zip(starts, target_lengths)):
            out[i, :k] = t[s:s + k]
    else:
        for i, k in enumerate(target_lengths):
            out[i, :k] = t[i, :k]
    return out


def _logsumexp3(a, b, c):
    m = ew.maximum(ew.maximum(a, b), c).detach()
    return m + ew.log(ew.exp(a - m) + ew.exp(b - m) + ew.exp(c - m))


@autocast_op("ctc_loss")
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """CTC loss of ``log_probs (T, N, C)`` (log-softmax outputs; ``(T, C)`` unbatched) against ``targets``
    (``(N, S)`` padded or 1-D concatenated class indices, no blanks) with per-sample ``input_lengths`` and
    ``target_lengths``. ``reduction='mean'`` divides each loss by its target length, then averages."""
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    unbatched = log_probs.ndim == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    if unbatched and targets.ndim == 1:
        targets = targets.unsqueeze(0)
    T, N, C = lp.shape
    in_len, tg_len = _ints(input_lengths), _ints(target_lengths)
    if in_len.size != N or tg_len.size != N:
        raise RuntimeError(f"ctc_loss: expected input_lengths and target_lengths of size {N}, got "
                           f"{in_len.size} and {tg_len.size}")
    if in_len.size and in_len.max() > T:
        raise RuntimeError(f"Expected input_lengths to have value at most {T}, but got value {in_len.max()}")
    tgt = _padded_targets(targets, tg_len, N)
    L = 2 * tgt.shape[1] + 1
    ext = np.full((N, L), blank, dtype=np.int64)
    ext[:, 1::2] = tgt
    skip = np.zeros((N, L), dtype=bool)  # a label may follow the previous label directly (no blank)
    skip[:, 3::2] = ext[:, 3::2] != ext[:, 1:-2:2]
    dev, dt = lp.device, lp._data.dtype
    ext_t = Tensor._wrap(ext).to(dev)
    skip_t = Tensor._wrap(skip).to(dev)
    neg1 = Tensor._wrap(np.full((N, 1), _NEG, dtype=dt)).to(dev)
    neg2 = Tensor._wrap(np.full((N, 2), _NEG, dtype=dt)).to(dev)
    start = np.zeros((N, L), dtype=bool)
    start[:, 0] = True
    start[:, 1] = tg_len > 0
    alpha = ew.where(Tensor._wrap(start).to(dev), lp[0].gather(1, ext_t), _NEG)
    for t in range(1, T):
        a1 = mv.cat([neg1, alpha[:, :-1]], 1)
        a2 = ew.where(skip_t, mv.cat([neg2, alpha[:, :-2]], 1), _NEG)
        new = _logsumexp3(alpha, a1, a2) + lp[t].gather(1, ext_t)
        alpha = ew.where(Tensor._wrap((t < in_len)[:, None]).to(dev), new, alpha)
    last = Tensor._wrap((2 * tg_len)[:, None]).to(dev)
    before = Tensor._wrap(np.maximum(2 * tg_len - 1, 0)[:, None]).to(dev)
    end1 = alpha.gather(1, last).squeeze(1)
    end2 = ew.where(Tensor._wrap(tg_len > 0).to(dev), alpha.gather(1, before).squeeze(1), _NEG)
    m = ew.maximum(end1, end2).detach()
    nll = -(m + ew.log(ew.exp(end1 - m) + ew.exp(end2 - m)))
    valid = Tensor._wrap((np.arange(T)[:, None] < in_len[None, :])[..., None].astype(dt)).to(dev)
    p = ew.exp(lp) * valid
    nll = nll + (p - p.detach()).sum((0, 2))  # value 0; PyTorch's exp(log_probs) gradient term
    impossible = Tensor._wrap(nll._data > -_IMPOSSIBLE).to(dev)
    nll = ew.where(impossible, 0.0 if zero_infinity else float("inf"), nll)
    if unbatched:
        nll = nll.squeeze(0)
    if reduction == "none":
        return nll
    if reduction == "sum":
        return nll.sum()
    scale = Tensor._wrap(np.maximum(tg_len, 1).astype(dt)).to(dev)
    return (nll / (scale.squeeze(0) if unbatched else scale)).mean()
