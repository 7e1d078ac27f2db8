"""Matrix products: ``matmul`` (batched, broadcast, 1-D cases), ``mm``, ``bmm``, ``dot``, ``outer``,
``einsum``, ``addmm``, ``baddbmm``, ``linear``-ready helpers."""

from ..amp_state import autocast_op
from ..autograd.function import Op
from ..autograd.node_names import label, presents_as
from ..tensor import Tensor
from ._gemm_pool import matmul as _gemm
from ._util import binary_operands


class MatMul(Op):
    """``a @ b`` for inputs of at least 2 dims; batch dims broadcast and are summed back by the engine."""

    def forward(self, a, b):
        if self.recording:
            na, nb = self.needs_input_grad
            self.save(self.inputs[1] if na else None, self.inputs[0] if nb else None)
        return _gemm(a, b).astype(a.dtype, copy=False)  # bfloat16 matmul may widen

    def backward(self, g):
        b, a = self.saved_values()
        ga = g @ b.mT if b is not None else None
        gb = a.mT @ g if a is not None else None
        return ga, gb


@autocast_op("matmul")
def matmul(a, b):
    """Matrix product with NumPy/PyTorch semantics: 1-D operands are promoted and the extra dim removed."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        a, b = binary_operands(a, b, "matmul")
    if a._data.ndim == 0 or b._data.ndim == 0:
        raise RuntimeError(
            f"matmul: both arguments need at least 1 dimension, got {a._data.ndim}D and "
            f"{b._data.ndim}D tensors"
        )
    a, b = binary_operands(a, b, "matmul")  # same device, promoted dtypes
    ka = a._data.shape[-1]
    kb = b._data.shape[-2] if b._data.ndim > 1 else b._data.shape[0]
    if ka != kb:
        sa = "x".join(map(str, a._data.shape[-2:])) if a._data.ndim > 1 else str(ka)
        sb = "x".join(map(str, b._data.shape[-2:])) if b._data.ndim > 1 else str(kb)
        raise RuntimeError(f"matmul: mat1 and mat2 shapes cannot be multiplied ({sa} and {sb})")
    squeeze_a = a._data.ndim == 1
    squeeze_b = b._data.ndim == 1
    if squeeze_a:
        a = a.unsqueeze(0)
    if squeeze_b:
        b = b.unsqueeze(1)
    out = MatMul.apply(a, b)
    if squeeze_a and squeeze_b:
        return out.reshape(())
    if squeeze_a:
        return out.squeeze(-2)
    if squeeze_b:
        return out.squeeze(-1)
    return out


@autocast_op("mm")
def mm(a, b):
    """Matrix product of 2-D tensors: (n, m) @ (m, p) -> (n, p)."""
    if a._data.ndim != 2 or b._data.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got {a._data.ndim}D and {b._data.ndim}D")
    return matmul(a, b)


@autocast_op("bmm")
@presents_as("BmmBackward0", "a", "b")
def bmm(a, b):
    """Batched matrix product of 3-D tensors: (b, n, m) @ (b, m, p) -> (b, n, p)."""
    if a._data.ndim != 3 or b._data.ndim != 3:
        raise RuntimeError(f"bmm: expected 3-D tensors, got {a._data.ndim}D and {b._data.ndim}D")
    if a._data.shape[0] != b._data.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: {a._data.shape[0]} and {b._data.shape[0]}")
    return matmul(a, b)


@autocast_op("dot")
def dot(a, b):
    """Inner product of two 1-D tensors of the same length, as a 0-d tensor."""
    if a._data.ndim != 1 or b._data.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a._data.ndim}D and {b._data.ndim}D tensors")
    return matmul(a, b)


@autocast_op("mv")
def mv(a, v):
    """Matrix-vector product: (n, m) @ (m,) -> (n,)."""
    return matmul(a, v)


@autocast_op("outer")
def outer(a, b):
    """Outer product of two vectors: (n,) and (m,) -> (n, m)."""
    return a.reshape(-1, 1) * b.reshape(1, -1)


@autocast_op("addmm")
def addmm(bias, a, b, beta=1, alpha=1):
    """``beta * bias + alpha * (a @ b)`` for 2-D ``a``, ``b``; ``bias`` broadcasts to the result."""
    out = matmul(a, b)
    if alpha != 1:
        out = out * alpha
    return out + (bias if beta == 1 else bias * beta)


@autocast_op("baddbmm")
def baddbmm(bias, a, b, beta=1, alpha=1):
    """``beta * bias + alpha * (a @ b)`` for batches of matrices (3-D ``a``, ``b``)."""
    return addmm(bias, a, b, beta, alpha)


@autocast_op("einsum")
def einsum(equation, *operands):
    """Einstein summation, built from permute/reshape/matmul-free broadcasting so gradients flow.

    Each operand is aligned to a common set of labels, multiplied with broadcasting, and summed over
    the labels missing from the output.
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    eq = _expand_ellipsis(equation.replace(" ", ""), operands)
    if "->" in eq:
        lhs, out = eq.split("->")
    else:
        lhs = eq
        letters = lhs.replace(",", "")
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(
            f"einsum(): {len(terms)} operand terms in {equation!r} but {len(operands)} operands given"
        )
    labels = list(out) + sorted(set("".join(terms)) - set(out))
    aligned = []
    for term, x in zip(terms, operands):
        if len(term) != x._data.ndim:
            raise ValueError(
                f"einsum(): term {term!r} has {len(term)} labels but the operand has {x._data.ndim} dims"
            )
        # Repeated labels in one term (a diagonal) are taken with advanced indexing.
        for c in set(term):
            while term.count(c) > 1:
                i, j = term.index(c), term.index(c, term.index(c) + 1)
                x = x.diagonal(0, i, j)
                term = term[:i] + term[i + 1 : j] + term[j + 1 :] + c
        order = [term.index(c) for c in labels if c in term]
        x = x.permute(*order)
        shape = []
        present = [c for c in labels if c in term]
        k = 0
        for c in labels:
            if c in term:
                shape.append(x.shape[k])
                k += 1
            else:
                shape.append(1)
        del present
        aligned.append(x.reshape(*shape))
    prod = aligned[0]
    for x in aligned[1:]:
        prod = prod * x
    if len(labels) > len(out):
        prod = prod.sum(tuple(range(len(out), len(labels))))
    # PyTorch's node: a final reshape after its bmm path; a single operand ends in its sum or permute
    name = "ViewBackward0" if len(operands) > 1 else (
        "SumBackward1" if len(labels) > len(out) else "PermuteBackward0")
    return label(prod, name, *operands)


def _expand_ellipsis(eq, operands):
    """Spell each ``...`` out as fresh capital labels, right-aligned across operands (broadcast dims);
    without ``->`` the broadcast dims lead the output, as numpy and PyTorch order them."""
    if "..." not in eq:
        return eq
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum(): {len(terms)} operand terms in {eq!r} but {len(operands)} operands given")
    used = set(eq)
    fresh = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used]
    counts = [operands[i]._data.ndim - (len(t) - 3) if "..." in t else 0 for i, t in enumerate(terms)]
    if any(n < 0 for n in counts):
        raise ValueError(f"einsum(): an operand has fewer dims than the labels of {eq!r}")
    width = max(counts)
    letters = "".join(fresh[:width])
    terms = [t.replace("...", letters[width - n:]) for t, n in zip(terms, counts)]
    if arrow:
        out = out.replace("...", letters)
    else:
        rest = "".join(terms).replace(",", "")
        out = letters + "".join(sorted(c for c in set(rest) if rest.count(c) == 1 and c not in letters))
    return ",".join(terms) + "->" + out
