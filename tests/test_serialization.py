"""visionlite.save / visionlite.load: the native safetensors format, torch's zip and legacy formats (from
committed fixtures made by scripts/make_checkpoint_fixtures.py, and from torch on the fly), the restricted
unpickler, atomic writes and clear errors for truncated or foreign files."""
import io
import os
import pickle
import struct
import subprocess
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite.core.serialization import CheckpointError, UnsafeCheckpointError

ASSETS = Path(__file__).parent / "assets" / "checkpoints"
EXPECTED = dict(np.load(ASSETS / "expected.npz"))
STATE_KEYS = ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
              "1.num_batches_tracked", "3.weight", "3.bias"]
DTYPES = ["float32", "float64", "float16", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "bool"]


def _np(t):
    """A visionlite tensor's values as numpy (bfloat16 widened to float32, as expected.npz stores it)."""
    assert isinstance(t, vl.Tensor), type(t)
    a = t.detach().cpu().numpy()
    return a.astype(np.float32) if t.dtype == vl.bfloat16 else a


# ------------------------------------------------------------------------------ committed torch fixtures
@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_fixture_state_dict(fmt):
    sd = vl.load(ASSETS / f"tiny_model_{fmt}.pth")
    assert isinstance(sd, OrderedDict) and list(sd) == STATE_KEYS
    for k, v in sd.items():
        np.testing.assert_array_equal(_np(v), EXPECTED[f"model/{k}"])
        assert v.device == vl.device("cpu") and not v.requires_grad
    assert sd["1.num_batches_tracked"].dtype == vl.int64 and sd["1.num_batches_tracked"].shape == ()
    # torch's module versions survive (BatchNorm is version 2), as load_state_dict needs them
    assert sd._metadata[""] == {"version": 1} and sd._metadata["1"]["version"] == 2


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_fixture_dtypes_shared_and_strided(fmt):
    ck = vl.load(ASSETS / f"dtypes_{fmt}.pt")
    for key in DTYPES:
        assert ck[key].dtype == getattr(vl, key), key
        np.testing.assert_array_equal(_np(ck[key]), EXPECTED[f"dtypes/{key}"])
    for key in ("scalar", "empty", "rows", "column", "transposed", "param"):
        assert ck[key].shape == EXPECTED[f"dtypes/{key}"].shape
        np.testing.assert_array_equal(_np(ck[key]), EXPECTED[f"dtypes/{key}"])
    # views of one storage load as separate, owned, contiguous arrays
    assert ck["column"].is_contiguous() and ck["transposed"].is_contiguous()
    ck["rows"]._data[0, 2] = -1
    assert _np(ck["column"])[1] == 8.0
    assert ck["param"].requires_grad and type(ck["param"]) is vl.Tensor
    assert ck["size"] == (2, 3) and ck["epoch"] == 3
    lst = ck["nested"]["list"]
    assert isinstance(lst, list) and lst[1:] == [1, 2.5, "s", None, True]
    np.testing.assert_array_equal(_np(lst[0]), EXPECTED["dtypes/nested.list.0"])
    assert isinstance(ck["nested"]["tuple"], tuple) and ck["nested"]["tuple"][1] == 7
    assert set(ck["int_keys"]) == {0, 1}
    np.testing.assert_array_equal(_np(ck["int_keys"][1]["momentum_buffer"]), EXPECTED["dtypes/int_keys.1"])


def test_format_detected_by_content_not_name():
    from_st = vl.load(ASSETS / "safetensors_named.pth")  # really safetensors
    from_torch = vl.load(ASSETS / "torch_named.safetensors")  # really torch's zip format
    assert sorted(from_st) == sorted(STATE_KEYS) and list(from_torch) == STATE_KEYS
    for k in STATE_KEYS:
        np.testing.assert_array_equal(_np(from_st[k]), EXPECTED[f"model/{k}"])
        np.testing.assert_array_equal(_np(from_torch[k]), EXPECTED[f"model/{k}"])


def test_file_objects_and_bfloat16_fallback(monkeypatch, tmp_path):
    with open(ASSETS / "dtypes_zip.pt", "rb") as f:
        ck = vl.load(io.BytesIO(f.read()))
    np.testing.assert_array_equal(_np(ck["float32"]), EXPECTED["dtypes/float32"])
    from visionlite.core import dtypes

    vl.save({"bf": vl.tensor([1.5, -2.25, 3.0], dtype=vl.bfloat16)}, tmp_path / "bf.safetensors")
    monkeypatch.setattr(dtypes, "bfloat16", None)  # as without ml_dtypes
    for fmt in ("zip", "legacy"):
        with pytest.warns(UserWarning, match="ml_dtypes"):
            ck = vl.load(ASSETS / f"dtypes_{fmt}.pt")
        assert ck["bfloat16"].dtype == vl.float32
        np.testing.assert_array_equal(ck["bfloat16"].numpy(), EXPECTED["dtypes/bfloat16"])
    for source in (tmp_path / "bf.safetensors", io.BytesIO((tmp_path / "bf.safetensors").read_bytes())):
        with pytest.warns(UserWarning, match="ml_dtypes"):
            bf = vl.load(source)["bf"]
        assert bf.dtype == vl.float32 and bf.tolist() == [1.5, -2.25, 3.0]


def test_map_location():
    path = ASSETS / "tiny_model_zip.pth"
    calls = []

    def keep_on_cpu(storage, location):
        calls.append((storage.ndim, location))
        return storage

    sd = vl.load(path, map_location=keep_on_cpu)
    assert len(calls) == len(STATE_KEYS) and all(c == (1, "cpu") for c in calls)
    assert vl.load(path, map_location={"cuda:0": "cpu"})["0.weight"].device == vl.device("cpu")
    assert vl.load(path, map_location=vl.device("cpu"))["0.bias"].device == vl.device("cpu")
    np.testing.assert_array_equal(_np(sd["3.weight"]), EXPECTED["model/3.weight"])
    with pytest.raises(ValueError, match="unknown device"):
        vl.load(path, map_location="tpu")
    with pytest.raises(TypeError, match="map_location"):
        vl.load(path, map_location=3.5)


def test_map_location_to_device(device, tmp_path):
    for path in (ASSETS / "dtypes_legacy.pt", ASSETS / "safetensors_named.pth"):
        out = vl.load(path, map_location=device)
        t = out["float32"] if "float32" in out else out["0.weight"]
        assert t.device == vl.device(device)
    x = vl.arange(6.0).reshape(2, 3).to(device).t()  # a GPU tensor is saved from host memory
    vl.save({"x": x}, tmp_path / "x.safetensors")
    back = vl.load(tmp_path / "x.safetensors", map_location=device)["x"]
    assert back.device == vl.device(device)
    np.testing.assert_array_equal(back.cpu().numpy(), np.arange(6.0, dtype=np.float32).reshape(2, 3).T)


def test_torch_checkpoint_saved_from_device(device, tmp_path):
    torch = require("torch")
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("torch cannot see the GPU, so it cannot write a GPU checkpoint")
    base = torch.arange(12.0, device=device).reshape(3, 4)
    ck = {"t": base.t(), "row": base[1], "bf": torch.ones(2, dtype=torch.bfloat16, device=device) / 3}
    expected_location = "cuda:0" if device == "cuda" else "cpu"
    for zipped in (True, False):
        torch.save(ck, tmp_path / "ck.pt", _use_new_zipfile_serialization=zipped)
        cpu = vl.load(tmp_path / "ck.pt")  # GPU checkpoints load on the CPU by default
        assert all(t.device == vl.device("cpu") for t in cpu.values())
        np.testing.assert_array_equal(cpu["t"].numpy(), ck["t"].cpu().numpy())
        np.testing.assert_array_equal(_np(cpu["bf"]), ck["bf"].float().cpu().numpy())
        seen = set()
        moved = vl.load(tmp_path / "ck.pt", map_location=lambda s, loc, seen=seen: seen.add(loc) or device)
        assert seen == {expected_location} and moved["row"].device == vl.device(device)
        np.testing.assert_array_equal(moved["row"].cpu().numpy(), ck["row"].cpu().numpy())
        mapped = vl.load(tmp_path / "ck.pt", map_location={expected_location: device})
        assert mapped["t"].device == vl.device(device)


# ------------------------------------------------------------------------------ torch on the fly
def _torch_checkpoint(torch):
    g = torch.Generator().manual_seed(3)
    base = torch.randn(5, 4, generator=g)
    ck = {name: (torch.randn(3, 2, generator=g) * 50).to(getattr(torch, name)) for name in DTYPES}
    ck.update({
        "shared_a": base[1:], "shared_b": base[:, 1], "strided": base[::2, ::3],
        "expanded": base[0].expand(3, 4),
        "nested": {"a": [base[2], {"b": (base[3], 1.5)}]}, "scalar": torch.tensor(7, dtype=torch.int32),
        "bytes": b"\x00\xffab", "set": {1, 2}, "neg_zero": -0.0,
    })
    return ck


def _assert_matches_torch(torch, got, ref):
    if isinstance(ref, torch.Tensor):
        assert isinstance(got, vl.Tensor) and got.shape == tuple(ref.shape)
        assert got.dtype.name == str(ref.dtype).replace("torch.", "")
        ref_np = (ref.float() if ref.dtype == torch.bfloat16 else ref).detach().numpy()
        np.testing.assert_array_equal(_np(got), ref_np)
    elif isinstance(ref, dict):
        assert type(got) is type(ref) and list(got) == list(ref)
        for k in ref:
            _assert_matches_torch(torch, got[k], ref[k])
    elif isinstance(ref, (list, tuple)):
        assert type(got) is type(ref) and len(got) == len(ref)
        for a, b in zip(got, ref):
            _assert_matches_torch(torch, a, b)
    else:
        assert got == ref and type(got) is type(ref)


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
@pytest.mark.parametrize("protocol", [2, 4])
def test_torch_save_on_the_fly(tmp_path, zipped, protocol):
    torch = require("torch")
    ck = _torch_checkpoint(torch)
    path = tmp_path / "ck.pth"
    torch.save(ck, path, _use_new_zipfile_serialization=zipped, pickle_protocol=protocol)
    _assert_matches_torch(torch, vl.load(path), ck)


def test_torch_model_state_dict_and_single_tensor(tmp_path):
    torch = require("torch")
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                                torch.nn.Linear(4, 2))
    sd = model.state_dict()
    for zipped in (True, False):
        torch.save(sd, tmp_path / "m.pt", _use_new_zipfile_serialization=zipped)
        got = vl.load(tmp_path / "m.pt")
        _assert_matches_torch(torch, got, sd)
        assert got._metadata == sd._metadata
    torch.save(torch.arange(5.0)[1::2], tmp_path / "t.pt")
    np.testing.assert_array_equal(vl.load(tmp_path / "t.pt").numpy(), [1.0, 3.0])


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")  # torch.jit is deprecated
def test_torchscript_archive_is_refused_clearly(tmp_path):
    torch = require("torch")
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), tmp_path / "scripted.pt")
    with pytest.raises(CheckpointError, match="TorchScript"):
        vl.load(tmp_path / "scripted.pt")


# ------------------------------------------------------------------------------ visionlite.save
def _checkpoint():
    w = vl.randn(3, 4)
    sd = OrderedDict([("conv.weight", w), ("conv.bias", vl.zeros(3)),
                      ("bn.num_batches_tracked", vl.tensor(5))])
    sd._metadata = OrderedDict([("", {"version": 1}), ("bn", {"version": 2})])
    return {
        "model": sd,
        "optimizer": {"state": {0: {"momentum_buffer": vl.ones(3, 4)}},
                      "param_groups": [{"lr": 0.1, "params": [0]}]},
        "ema": w,  # the same tensor twice
        "strided": vl.arange(12.0).reshape(3, 4).t(),
        "dtypes": {name: vl.tensor([[1, 0], [3, 4]]).to(getattr(vl, name)) for name in DTYPES},
        "numbers": [1, -2.5, float("inf"), 2 ** 70, True, None, "text", b"\x00\xff", (1, ("a",))],
        "array": np.arange(6, dtype=np.int16).reshape(2, 3),
        "np_scalar": np.float64(0.25),
        "scalar": vl.tensor(2.0),
        "empty": vl.zeros(0, 5),
        "dtype": vl.float16,
    }


def _assert_same(got, ref):
    if isinstance(ref, vl.Tensor):
        assert isinstance(got, vl.Tensor) and got.dtype == ref.dtype and got.shape == ref.shape
        np.testing.assert_array_equal(_np(got), _np(ref))
    elif isinstance(ref, (np.ndarray, np.generic)):
        assert type(got) is type(ref) and got.dtype == ref.dtype
        np.testing.assert_array_equal(got, ref)
    elif isinstance(ref, dict):
        assert type(got) is type(ref) and list(got) == list(ref)
        for k in ref:
            _assert_same(got[k], ref[k])
    elif isinstance(ref, (list, tuple)):
        assert type(got) is type(ref) and len(got) == len(ref)
        for a, b in zip(got, ref):
            _assert_same(a, b)
    else:
        assert got == ref and type(got) is type(ref)


def test_save_load_round_trip(tmp_path):
    ck = _checkpoint()
    vl.save(ck, tmp_path / "ck.vl")
    got = vl.load(tmp_path / "ck.vl")
    _assert_same(got, ck)
    assert got["model"]._metadata == ck["model"]._metadata
    assert got["ema"] is got["model"]["conv.weight"]  # stored once, shared again
    got["ema"]._data[0, 0] = 123.0  # loaded tensors are writable
    buf = io.BytesIO()
    vl.save(ck["model"], buf)
    _assert_same(vl.load(io.BytesIO(buf.getvalue())), ck["model"])
    vl.save(vl.tensor([1.5]), str(tmp_path / "t"))
    _assert_same(vl.load(str(tmp_path / "t")), vl.tensor([1.5]))


def test_native_file_is_plain_safetensors(tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    ck = _checkpoint()
    vl.save(ck["model"], tmp_path / "sd.safetensors")
    plain = load_file(tmp_path / "sd.safetensors")  # another reader sees the state dict under its own keys
    assert sorted(plain) == sorted(ck["model"])
    np.testing.assert_array_equal(plain["conv.weight"], ck["model"]["conv.weight"].numpy())
    with safe_open(tmp_path / "sd.safetensors", "np") as f:
        assert f.metadata()["format"] == "pt"
    vl.save(ck, tmp_path / "ck.safetensors")
    names = load_file(tmp_path / "ck.safetensors")
    assert {"optimizer.state.0.momentum_buffer", "model.conv.weight"} <= set(names) and "ema" not in names
    save_file({"b": np.ones(2, np.float32), "a": np.zeros((1, 2), np.int64)}, tmp_path / "other.safetensors")
    other = vl.load(tmp_path / "other.safetensors")
    assert list(other) == ["a", "b"] and other["a"].dtype == vl.int64


def test_save_refuses_unsupported_objects(tmp_path):
    # objects beyond plain state are pickled (see test_serialization_pickle.py); unpicklable ones are refused
    with pytest.raises(TypeError, match="cannot pickle"):
        vl.save({"model": {"net": lambda x: x}}, tmp_path / "x")
    with pytest.raises(ValueError, match="unknown checkpoint format"):
        vl.save({}, tmp_path / "x", format="pickle")
    with pytest.raises(FileNotFoundError, match="folder .*missing does not exist"):
        vl.save({}, tmp_path / "missing" / "x")
    assert os.listdir(tmp_path) == []  # nothing written


def test_save_torch_format_reads_in_torch(tmp_path):
    torch = require("torch")
    ck = _checkpoint()
    del ck["array"], ck["np_scalar"]  # plain numpy objects are not weights-only loadable in torch
    vl.save(ck, tmp_path / "ck.pt", format="torch")
    got = torch.load(tmp_path / "ck.pt", weights_only=True)
    mapped = torch.load(tmp_path / "ck.pt", weights_only=True, mmap=True)  # storages are 64-byte aligned
    for ref in (got, mapped):
        for k, v in ck["model"].items():
            np.testing.assert_array_equal(ref["model"][k].numpy(), v.numpy())
        np.testing.assert_array_equal(ref["strided"].numpy(), ck["strided"].numpy())
        assert ref["numbers"] == ck["numbers"] and ref["dtype"] == torch.float16
        assert ref["scalar"].shape == () and ref["empty"].shape == (0, 5)
        for name, t in ref["dtypes"].items():
            assert t.dtype == getattr(torch, name)
            np.testing.assert_array_equal(t.float().numpy(), _np(ck["dtypes"][name].float()))
    assert got["ema"].data_ptr() == got["model"]["conv.weight"].data_ptr()  # one storage, shared
    assert got["model"]._metadata == ck["model"]._metadata
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))
    vl.save(vl.load(ASSETS / "tiny_model_zip.pth"), tmp_path / "sd.pt", format="torch")
    sd = torch.load(tmp_path / "sd.pt", weights_only=True)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.Flatten(),
                                torch.nn.Linear(2, 3))
    model.load_state_dict(sd)
    np.testing.assert_array_equal(model[1].running_var.numpy(), EXPECTED["model/1.running_var"])
    _assert_same(vl.load(tmp_path / "ck.pt")["model"], ck["model"])


# ------------------------------------------------------------------------------ atomic writes
def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    from visionlite.core.serialization import atomic

    path = tmp_path / "ck.safetensors"
    vl.save({"w": vl.ones(3)}, path)
    before = path.read_bytes()

    def crash(fd):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(atomic.os, "fsync", crash)
    for fmt in ("safetensors", "torch"):
        with pytest.raises(KeyboardInterrupt):
            vl.save({"w": vl.zeros(1000)}, path, format=fmt)
        assert path.read_bytes() == before and os.listdir(tmp_path) == ["ck.safetensors"]


def test_killed_process_never_leaves_a_torn_checkpoint(tmp_path):
    path = tmp_path / "ck.safetensors"
    vl.save({"w": vl.ones(3)}, path)
    before = path.read_bytes()
    # the process dies after writing half the new content, before fsync and rename
    code = (
        "import os, visionlite as vl\n"
        "from visionlite.core.serialization import atomic\n"
        "real = atomic.write_atomically\n"
        "def dying(path, write):\n"
        "    def half(f):\n"
        "        class Half:\n"
        "            def write(self, data):\n"
        "                f.write(data[: len(data) // 2]); f.flush(); os._exit(3)\n"
        "        write(Half())\n"
        "    real(path, half)\n"
        "atomic.write_atomically = dying  # save() imports it at call time\n"
        f"vl.save({{'w': vl.zeros(10000)}}, {str(path)!r})\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    assert path.read_bytes() == before
    leftovers = [p for p in os.listdir(tmp_path) if p != "ck.safetensors"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".ck.safetensors.")
    assert leftovers[0].endswith(".tmp")


def test_saved_file_mode_follows_umask(tmp_path):
    old = os.umask(0o022)
    try:
        vl.save({"w": vl.ones(1)}, tmp_path / "ck")
    finally:
        os.umask(old)
    assert (os.stat(tmp_path / "ck").st_mode & 0o777) == 0o644


# ------------------------------------------------------------------------------ unsafe and broken files
class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _zip_checkpoint(path, data_pkl, records=()):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", data_pkl)
        zf.writestr("archive/byteorder", "little")
        for name, raw in records:
            zf.writestr(f"archive/data/{name}", raw)
        zf.writestr("archive/version", "3\n")


def _legacy_checkpoint(path, payload):
    with open(path, "wb") as f:
        for obj in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(obj, f, protocol=2)
        f.write(payload)
        pickle.dump([], f, protocol=2)


def test_malicious_pickle_is_refused_without_side_effects(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"w": _Evil(marker)}, protocol=2)
    pickle.loads(payload)  # control: the payload really runs when unpickled normally
    assert marker.exists()
    marker.unlink()
    _zip_checkpoint(tmp_path / "evil.pth", payload)
    _legacy_checkpoint(tmp_path / "evil_legacy.pth", payload)
    for name in ("evil.pth", "evil_legacy.pth"):
        with pytest.raises(UnsafeCheckpointError, match=r"'(posix|os|nt)\.system'.*malicious") as info:
            vl.load(tmp_path / name)
        assert name in str(info.value) and isinstance(info.value, pickle.UnpicklingError)
        assert not marker.exists()


def _g(module, name):
    return b"c" + f"{module}\n{name}\n".encode()


def _s(text):
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _int(v):
    return b"J" + struct.pack("<i", v)


def _tuple_of_ints(values):
    return b"(" + b"".join(_int(v) for v in values) + b"t"


def _tensor_pickle(numel, offset, size, stride, location="cpu"):
    """A hand-written data.pkl holding one float tensor viewing storage '0'."""
    pid = b"(" + _s("storage") + _g("torch", "FloatStorage") + _s("0") + _s(location) + _int(numel)
    return (b"\x80\x02" + _g("torch._utils", "_rebuild_tensor_v2") + b"(" + pid + b"tQ"
            + _int(offset) + _tuple_of_ints(size) + _tuple_of_ints(stride) + b"\x89"
            + _g("collections", "OrderedDict") + b")RtR.")


def test_crafted_pickles_are_refused(tmp_path):
    def load_pickle(data_pkl, records=(("0", b"\x00" * 16),)):
        _zip_checkpoint(tmp_path / "c.pth", data_pkl, records)
        return vl.load(tmp_path / "c.pth")

    t = load_pickle(_tensor_pickle(4, 1, (3,), (1,)))  # the hand-written form itself is fine
    assert t.shape == (3,) and t.dtype == vl.float32
    # a tensor saved from a GPU loads on the CPU unless map_location says otherwise
    gpu_pickle = _tensor_pickle(4, 0, (2, 2), (2, 1), location="cuda:0")
    _zip_checkpoint(tmp_path / "gpu.pth", gpu_pickle, [("0", b"\x00" * 16)])
    assert vl.load(tmp_path / "gpu.pth").device == vl.device("cpu")
    seen = []
    vl.load(tmp_path / "gpu.pth", map_location=lambda storage, location: seen.append(location))
    assert seen == ["cuda:0"]
    with pytest.raises(CheckpointError, match="past the end of its storage"):  # would read out of bounds
        load_pickle(_tensor_pickle(4, 2, (2, 2), (2, 1)))
    with pytest.raises(CheckpointError, match="holds 16 bytes, expected 40"):
        load_pickle(_tensor_pickle(10, 0, (10,), (1,)))
    # BUILD may not mutate objects other than an OrderedDict (here: the float32 dtype itself)
    with pytest.raises(UnsafeCheckpointError, match="BUILD"):
        load_pickle(b"\x80\x02" + _g("torch", "float32") + b"(N}(" + _s("np") + b"Nutb.")
    assert vl.float32.np == np.float32
    # BUILD on an OrderedDict may set _metadata (what torch writes) and nothing else
    ordered = b"\x80\x02" + _g("collections", "OrderedDict") + b")R}("
    got = load_pickle(ordered + _s("_metadata") + b"}(" + _s("") + b"}uub.")
    assert isinstance(got, OrderedDict) and got._metadata == {"": {}}
    for key in ("evil", "__class__", "__setitem__"):
        with pytest.raises(UnsafeCheckpointError, match=f"BUILD.*'{key}'"):
            load_pickle(ordered + _s(key) + b"Nub.")
        with pytest.raises(UnsafeCheckpointError, match=f"BUILD.*'{key}'"):
            load_pickle(ordered + _s("_metadata") + b"}" + _s(key) + b"Nub.")
    # INST would construct any class
    with pytest.raises(UnsafeCheckpointError, match="opcode"):
        load_pickle(b"\x80\x02(i" + b"collections\nOrderedDict\n.")
    # SETITEMS on a tensor instead of a dict
    with pytest.raises(UnsafeCheckpointError, match="SETITEMS"):
        load_pickle(_tensor_pickle(4, 0, (4,), (1,))[:-1] + b"(" + _s("k") + b"Nu.")


def test_weights_only_false_reads_what_weights_only_reads():
    safe = vl.load(ASSETS / "tiny_model_zip.pth")
    full = vl.load(ASSETS / "tiny_model_zip.pth", weights_only=False)
    assert list(full) == list(safe)
    for k in safe:
        np.testing.assert_array_equal(np.asarray(full[k]), np.asarray(safe[k]))


@pytest.mark.parametrize("name", ["tiny_model_zip.pth", "tiny_model_legacy.pth", "safetensors_named.pth"])
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_files_raise_clear_errors(tmp_path, name, keep):
    raw = (ASSETS / name).read_bytes()
    path = tmp_path / f"cut_{name}"
    path.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(CheckpointError, match=rf"checkpoint .*cut_{name} is truncated or corrupt"):
        vl.load(path)
    with pytest.raises(CheckpointError, match=r"checkpoint <file object> is truncated or corrupt"):
        vl.load(io.BytesIO(path.read_bytes()))


def test_corrupt_storage_bytes_are_detected(tmp_path):
    raw = bytearray((ASSETS / "tiny_model_zip.pth").read_bytes())
    with zipfile.ZipFile(ASSETS / "tiny_model_zip.pth") as zf:
        info = zf.getinfo("tiny_model_zip/data/0")
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26: info.header_offset + 30])
    raw[info.header_offset + 30 + name_len + extra_len + 2] ^= 0xFF  # flip one byte of the storage
    (tmp_path / "bad.pth").write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="bad.pth is truncated or corrupt.*CRC"):
        vl.load(tmp_path / "bad.pth")


def test_foreign_files_raise_clear_errors(tmp_path):
    (tmp_path / "notes.pth").write_text("just some text, not a checkpoint\n")
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps({"a": 1}, protocol=2))
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("readme.txt", "hi")
    for name, message in (("notes.pth", "is not a checkpoint"), ("empty.pth", "is empty"),
                          ("plain.pkl", "plain pickle"), ("other.zip", "not a torch checkpoint")):
        with pytest.raises(CheckpointError, match=message) as info:
            vl.load(tmp_path / name)
        assert name in str(info.value)
    with pytest.raises(FileNotFoundError):
        vl.load(tmp_path / "missing.pth")
