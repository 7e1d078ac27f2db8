"""``Tensor.to`` and ``Module.to`` share one parser (``core/to_args.py``): each of PyTorch's call forms is
accepted or rejected as PyTorch does, and both methods raise the same errors."""
import pytest

import visionlite as vl
from tests.helpers.refs import require

torch = require("torch")

# Placeholders, translated for each library: a float64 dtype, a device string/object, another tensor.
F64, I64, DEV, TEN = "F64", "I64", "DEV", "TEN"

FORMS = [
    ((F64,), {}),
    (("cpu",), {}),
    ((DEV,), {}),
    ((TEN,), {}),
    (("cpu", F64), {}),
    ((DEV, F64), {}),
    ((None, F64), {}),
    ((), {"dtype": F64}),
    ((), {"device": "cpu"}),
    ((), {"device": "cpu", "dtype": F64}),
    (("cpu",), {"dtype": F64}),
    ((F64, False, True), {}),
    ((F64,), {"non_blocking": True, "copy": True}),
    (("cpu", F64, False, True), {}),
    ((TEN, True, True), {}),
    ((TEN,), {"copy": True}),
    ((), {}),
    ((None,), {}),
    ((I64,), {}),
    # rejected by PyTorch
    ((F64, F64), {}),
    ((F64, "cpu"), {}),
    (("cpu", "cpu"), {}),
    (("cpu",), {"bogus": 1}),
    ((F64,), {"device": "cpu"}),
    ((F64,), {"dtype": F64}),
    (("cpu",), {"device": "cpu"}),
    ((TEN,), {"dtype": F64}),
    ((F64, False, True, True), {}),
    (("cpu", F64, False, True, True), {}),
    ((F64, 1), {}),
    ((F64,), {"copy": "yes"}),
]


def _translate(lib, args, kwargs):
    table = {F64: lib.float64, I64: lib.int64, DEV: lib.device("cpu"), TEN: lib.zeros(2, dtype=lib.float64)}

    def tr(v):
        return table.get(v, v) if isinstance(v, str) else v

    return tuple(tr(a) for a in args), {k: tr(v) for k, v in kwargs.items()}


def _call(fn):
    try:
        return fn(), None
    except (TypeError, RuntimeError, ValueError) as e:
        return None, e


@pytest.mark.parametrize("args,kwargs", FORMS, ids=[str(i) for i in range(len(FORMS))])
def test_tensor_to_forms_as_torch(args, kwargs):
    ta, tk = _translate(torch, args, kwargs)
    va, vk = _translate(vl, args, kwargs)
    t_out, t_err = _call(lambda: torch.ones(2, dtype=torch.float32).to(*ta, **tk))
    v_out, v_err = _call(lambda: vl.ones(2, dtype=vl.float32).to(*va, **vk))
    assert (t_err is None) == (v_err is None), f"torch: {t_err!r}; visionlite: {v_err!r}"
    if t_err is None:
        assert str(v_out.dtype).split(".")[-1] == str(t_out.dtype).split(".")[-1]
        assert v_out.device.type == t_out.device.type


@pytest.mark.parametrize("args,kwargs", FORMS, ids=[str(i) for i in range(len(FORMS))])
def test_module_to_forms_as_torch(args, kwargs):
    ta, tk = _translate(torch, args, kwargs)
    va, vk = _translate(vl, args, kwargs)
    t_out, t_err = _call(lambda: torch.nn.Linear(2, 2).to(*ta, **tk))
    v_out, v_err = _call(lambda: vl.nn.Linear(2, 2).to(*va, **vk))
    assert (t_err is None) == (v_err is None), f"torch: {t_err!r}; visionlite: {v_err!r}"
    if t_err is None:
        assert str(v_out.weight.dtype).split(".")[-1] == str(t_out.weight.dtype).split(".")[-1]
    else:
        assert type(v_err) is type(t_err) or "invalid combination" in str(v_err)


def test_copy_makes_a_copy_and_module_rejects_it():
    x = vl.ones(3)
    assert x.to("cpu") is x
    y = x.to("cpu", copy=True)
    assert y is not x and y.data_ptr() != x.data_ptr()
    with pytest.raises(RuntimeError, match="does not accept copy"):
        vl.nn.Linear(2, 2).to("cpu", copy=True)


@pytest.mark.parametrize("bad", ["mps", "tpu", "cuda:x", 1.5, "float33"])
def test_tensor_and_module_give_the_same_error(bad):
    # (PyTorch itself accepts ``to(1.5)`` silently; visionlite names the bad device)
    _, t_err = _call(lambda: vl.ones(2).to(bad))
    _, m_err = _call(lambda: vl.nn.Linear(2, 2).to(bad))
    assert t_err is not None and m_err is not None
    assert type(t_err) is type(m_err) and str(t_err) == str(m_err)


def test_dtype_by_name_is_a_visionlite_extension():
    assert vl.ones(2).to("float64").dtype == vl.float64
    assert vl.nn.Linear(2, 2).to("float64").weight.dtype == vl.float64
    assert vl.ones(2).to("cpu", "float16").dtype == vl.float16
