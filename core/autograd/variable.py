"""``Variable``, as old PyTorch code spells it: since PyTorch 0.4 a Variable is a Tensor."""
from ..tensor import Tensor

__all__ = ["Variable"]


def Variable(data, requires_grad=False, volatile=False):  # noqa: N802  (torch.autograd.Variable)
    """``data`` itself (a Tensor), with ``requires_grad`` set when asked, as ``torch.autograd.Variable``."""
    if not isinstance(data, Tensor):
        raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
    if requires_grad:
        data.requires_grad_(True)
    return data
