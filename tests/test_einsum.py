"""einsum against PyTorch: explicit, implicit and ellipsis equations, gradients, grad_fn names."""
import numpy as np
import pytest

import visionlite as vl
from tests.helpers import op_check
from tests.helpers.op_check import gradcheck, helper_test_op
from tests.helpers.refs import require

torch = require("torch")


@pytest.fixture(autouse=True)
def _run_on(device):
    op_check.current["device"] = device
    yield
    op_check.current["device"] = "cpu"


CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("ii->i", [(3, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->ji", [(2, 3)]),
    ("i,j->ij", [(3,), (4,)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (2, 3, 4)]),
    ("...ij,jk", [(5, 2, 2, 3), (3, 4)]),
    ("b...,b...->b", [(2, 3, 4), (2, 3, 4)]),
    ("...i,...i->...", [(4, 3), (2, 1, 3)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]),
]


@pytest.mark.parametrize("eq,shapes", CASES, ids=[c[0] for c in CASES])
def test_einsum(eq, shapes):
    helper_test_op(shapes, lambda *xs: torch.einsum(eq, *xs), lambda *xs: vl.einsum(eq, *xs))
    rng = np.random.default_rng(2)
    gradcheck(lambda *xs: vl.einsum(eq, *xs), [rng.uniform(-1, 1, s) for s in shapes])


@pytest.mark.parametrize("eq,shapes", [("ij,jk->ik", [(2, 3), (3, 4)]), ("ij->", [(2, 3)]),
                                       ("ij->ji", [(2, 3)]), ("...ij,...jk->...ik", [(2, 2, 3), (2, 3, 4)])])
def test_einsum_grad_fn_name(eq, shapes):
    ts = [torch.ones(s, requires_grad=True) for s in shapes]
    vs = [vl.ones(s, requires_grad=True) for s in shapes]
    assert vl.einsum(eq, *vs).grad_fn.name() == torch.einsum(eq, *ts).grad_fn.name()
