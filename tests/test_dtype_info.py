"""finfo, iinfo, result_type, promote_types and can_cast against PyTorch (core/dtype_info.py)."""

import itertools

import pytest

import visionlite as vl
from tests.helpers.refs import require

torch = require("torch")

FLOATS = ["float16", "float32", "float64"] + (["bfloat16"] if vl.bfloat16 is not None else [])
INTS = ["uint8", "int8", "int16", "int32", "int64"]
ALL = ["bool"] + INTS + FLOATS


def tdt(name):
    return getattr(torch, name)


def vdt(name):
    return getattr(vl, name)


@pytest.mark.parametrize("name", FLOATS)
def test_finfo(name):
    v, t = vl.finfo(vdt(name)), torch.finfo(tdt(name))
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(v, attr) == getattr(t, attr), attr
        assert type(getattr(v, attr)) is type(getattr(t, attr)), attr
    assert repr(v) == repr(t)


def test_finfo_default_and_names():
    assert vl.finfo().dtype == torch.finfo().dtype == "float32"
    assert vl.finfo(vl.double).eps == torch.finfo(torch.double).eps
    assert vl.finfo("float16").max == 65504.0
    assert vl.finfo(vl.float32) == vl.finfo(vl.float) and vl.finfo(vl.float32) != vl.finfo(vl.float64)
    assert vl.finfo(vl.ones(2, dtype=vl.float64).dtype).bits == 64


def test_finfo_follows_default_dtype():
    vl.set_default_dtype(vl.float64)
    try:
        assert vl.finfo().bits == 64
    finally:
        vl.set_default_dtype(vl.float32)


@pytest.mark.parametrize("name", INTS)
def test_iinfo(name):
    v, t = vl.iinfo(vdt(name)), torch.iinfo(tdt(name))
    for attr in ("bits", "max", "min", "dtype"):
        assert getattr(v, attr) == getattr(t, attr), attr
        assert type(getattr(v, attr)) is type(getattr(t, attr)), attr
    assert repr(v) == repr(t)


def test_info_errors():
    with pytest.raises(TypeError, match="floating point.*iinfo"):
        vl.finfo(vl.int32)
    with pytest.raises(TypeError, match="integer.*finfo"):
        vl.iinfo(vl.float32)
    with pytest.raises(TypeError, match="bool"):
        vl.iinfo(vl.bool)
    with pytest.raises(TypeError, match="unknown dtype"):
        vl.finfo("float128")


@pytest.mark.parametrize("a,b", list(itertools.combinations_with_replacement(ALL, 2)))
def test_promote_types(a, b):
    assert vl.promote_types(vdt(a), vdt(b)).name == str(torch.promote_types(tdt(a), tdt(b))).split(".")[-1]
    assert vl.promote_types(vdt(b), vdt(a)).name == str(torch.promote_types(tdt(b), tdt(a))).split(".")[-1]


@pytest.mark.parametrize("a,b", list(itertools.product(ALL, ALL)))
def test_can_cast(a, b):
    assert vl.can_cast(vdt(a), vdt(b)) == torch.can_cast(tdt(a), tdt(b))


def _pairs():
    def operands(lib, dt):
        return [lib.ones(2, dtype=getattr(lib, dt)), lib.ones((), dtype=getattr(lib, dt))]

    names = ["bool", "uint8", "int32", "int64", "float16", "float32", "float64"]
    scalars = [True, 3, 2.5]
    out = []
    for a, b in itertools.product(names, names):
        for i, j in itertools.product(range(2), range(2)):
            out.append(((a, i), (b, j)))
    for a in names:
        for i in range(2):
            for s in scalars:
                out.append(((a, i), s))
                out.append((s, (a, i)))
    return out, operands


PAIRS, _OPERANDS = _pairs()


def _make(lib, spec):
    if isinstance(spec, tuple):
        return _OPERANDS(lib, spec[0])[spec[1]]
    return spec


@pytest.mark.parametrize("x,y", PAIRS)
def test_result_type(x, y):
    want = torch.result_type(_make(torch, x), _make(torch, y))
    got = vl.result_type(_make(vl, x), _make(vl, y))
    assert got.name == str(want).split(".")[-1]


def test_result_type_scalars_and_errors():
    assert vl.result_type(2, 3.0) is vl.float32 and vl.result_type(True, 2) is vl.int64
    with pytest.raises(TypeError, match="Tensor or a number"):
        vl.result_type("a", vl.ones(2))
