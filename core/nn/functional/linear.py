"""Affine maps: ``linear`` and ``bilinear``, as in ``torch.nn.functional``."""
from ...amp_state import autocast_op
from ...autograd.node_names import label
from ...tensor import Tensor

__all__ = ["linear", "bilinear"]


@autocast_op("linear")
def linear(input, weight, bias=None):
    """``input @ weight.T + bias``: input ``(*, in)``, weight ``(out, in)``, bias ``(out,)``;
    returns ``(*, out)``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"linear(): argument 'input' must be a visionlite Tensor, not {type(input).__name__}")
    if weight.ndim not in (1, 2):
        raise RuntimeError(f"linear(): weight must be 1-D or 2-D, got shape {list(weight.shape)}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[-1]:
        got = list(input.shape)
        raise RuntimeError(f"linear(): input's last dim must equal in_features={weight.shape[-1]}, got "
                           f"input of shape {got} (mat1 and mat2 shapes cannot be multiplied)")
    lead = input.shape[:-1]
    # Folding the leading dims into one makes a single 2-D product whose weight gradient needs no
    # per-batch sum.
    x = input.reshape(-1, input.shape[-1]) if input.ndim > 2 else input
    wt = weight.t() if weight.ndim == 2 else weight
    out = x @ wt
    if bias is not None:
        # presented as PyTorch's one addmm(bias, input, weight.t()) node
        out = label(out + bias, "AddmmBackward0", bias, x, wt) if weight.ndim == 2 else out + bias
    if input.ndim > 2:
        out = out.reshape(*lead, *out.shape[1:])
        # As torch's _unsafe_view: the folded product is private to this call, so the result is not a view of
        # anything the caller holds, and in-place ops on it (ReLU(inplace=True) after a Linear) are allowed.
        out._base = None
    return out


@autocast_op("bilinear")
def bilinear(input1, input2, weight, bias=None):
    """``y_k = x1^T A_k x2 + b_k``: inputs ``(*, in1)`` and ``(*, in2)``, weight ``(out, in1, in2)``;
    returns ``(*, out)``."""
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-D (out, in1, in2), got shape {list(weight.shape)}")
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError("bilinear(): input1 and input2 need the same leading dims, got "
                           f"{list(input1.shape)} and {list(input2.shape)}")
    if input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(f"bilinear(): inputs of sizes {input1.shape[-1]} and {input2.shape[-1]} don't "
                           f"match weight of shape {list(weight.shape)}")
    lead = input1.shape[:-1]
    x1 = input1.reshape(-1, input1.shape[-1])
    x2 = input2.reshape(-1, input2.shape[-1])
    # (out, N, in1): row n of slice k is A_k x2_n; then contract with x1 over in1.
    t = x2 @ weight.transpose(1, 2)
    out = (t * x1).sum(-1).t()
    if bias is not None:
        out = out + bias
    return out.reshape(*lead, weight.shape[0])
