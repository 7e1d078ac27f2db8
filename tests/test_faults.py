"""Fault injection: hostile checkpoints, servers and archives, and processes killed mid-download or
mid-save. Every case must end in a clear error or the correct result, with bounded memory and nothing
half-written left behind. Files are built here (torch.save, hand-made pickles and zips); servers are
tests/helpers/fault_server.py on 127.0.0.1."""
import gzip
import hashlib
import io
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import tarfile
import time
import tracemalloc
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.fault_server import FaultServer
from tests.helpers.refs import require
from visionlite import download as dl
from visionlite import hub
from visionlite.core.serialization import CheckpointError, UnsafeCheckpointError
from visionlite.datasets import utils as dsu
from visionlite.download import DownloadError, download

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = bytes(range(256)) * 64  # 16 KiB
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(dl, "BACKOFF_BASE", 0.001)


@pytest.fixture
def server():
    with FaultServer() as s:
        yield s


def _peak_mb(fn):
    """(result or exception, peak traced MiB) of ``fn()``; numpy's buffers are traced too."""
    tracemalloc.start()
    try:
        try:
            out = fn()
        except Exception as e:  # noqa: BLE001 - returned for the caller to check
            out = e
        return out, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _files(folder):
    return sorted(os.path.relpath(os.path.join(d, n), folder)
                  for d, dirs, files in os.walk(folder) for n in dirs + files)


# ---------------------------------------------------------------------------------- hostile checkpoints
def test_expanded_storage_bomb_stays_a_view(tmp_path):
    torch = require("torch")
    path = tmp_path / "bomb.pt"
    torch.save({"bomb": torch.full((1,), 3.5).expand(20000, 20000),
                "rows": torch.arange(6.0).reshape(2, 1, 3).expand(2, 4, 3)}, path)
    assert path.stat().st_size < 4096  # a 1.6 GB tensor in a few KB
    ref = torch.load(path, weights_only=True)
    got, peak = _peak_mb(lambda: vl.load(path))
    assert not isinstance(got, Exception), got
    assert peak < 16, f"loading a {path.stat().st_size}-byte file took {peak:.0f} MiB"
    assert tuple(got["bomb"].shape) == tuple(ref["bomb"].shape) == (20000, 20000)
    np.testing.assert_array_equal(got["rows"].numpy(), ref["rows"].numpy())
    idx = (slice(19990, None), slice(0, 20000, 4000))
    np.testing.assert_array_equal(got["bomb"][idx].numpy(), ref["bomb"][idx].numpy())
    # writing through a self-overlapping tensor is refused, as torch refuses it
    with pytest.raises(RuntimeError):
        ref["rows"].add_(1)
    with pytest.raises(RuntimeError):
        got["rows"].add_(1)
    got["rows"][0, 0, 0] = -1.0  # item assignment copies the view first: the other rows keep their values
    assert got["rows"][0, 1, 0].item() == 0.0 and got["rows"][0, 0, 0].item() == -1.0


def test_out_of_memory_names_the_tensor_and_its_size(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from visionlite.core.serialization import storage

    path = tmp_path / "m.pt"
    base = torch.arange(12.0).reshape(3, 4)
    torch.save({"layer": {"weight": base, "weight_t": base.t()}}, path)

    class NoMemory:  # numpy, except that copies fail as on a machine out of memory
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def array(*args, **kwargs):
            raise MemoryError

    monkeypatch.setattr(storage, "np", NoMemory())
    with pytest.raises(CheckpointError, match=r"tensor 'layer.weight' of size \(3, 4\)"):
        vl.load(path)


def test_views_past_the_copy_budget_share_their_storage_as_in_torch(tmp_path):
    # many views of one storage: copying each would take 40 times the file; they share it instead
    torch = pytest.importorskip("torch")
    base = torch.arange(300_000.0)  # 1.2 MB, over the 1 MiB always allowed
    path = tmp_path / "views.pt"
    torch.save({"base": base, "views": [base.view(600, 500) for _ in range(40)], "odd": base[1::2]}, path)
    got, peak = _peak_mb(lambda: vl.load(path))
    assert peak < 12, peak
    ref = torch.load(path, weights_only=True)
    for loaded in (ref, got):
        loaded["views"][3].add_(1)
    np.testing.assert_array_equal(got["base"].numpy(), ref["base"].numpy())
    np.testing.assert_array_equal(got["odd"].numpy(), ref["odd"].numpy())
    np.testing.assert_array_equal(got["views"][39].numpy(), ref["views"][39].numpy())


def test_out_of_memory_anywhere_in_a_load_is_a_checkpoint_error(tmp_path, monkeypatch):
    from visionlite.core.serialization import safe_format

    vl.save({"a": vl.zeros(3)}, tmp_path / "m.safetensors")

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(safe_format, "_arrays_from_path", no_memory)
    with pytest.raises(CheckpointError, match="ran out of memory"):
        vl.load(tmp_path / "m.safetensors")


class _Storage:
    """Stands for a storage in a hand-made torch zip checkpoint (pickled by persistent id)."""

    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class _HostileTensor:
    def __init__(self, storage, size, stride, offset=0):
        self.args = (storage, offset, size, stride)

    def __reduce__(self):
        torch = require("torch")
        return torch._utils._rebuild_tensor_v2, self.args + (False, OrderedDict())


class _Call:
    """Pickles as ``func(*args)``: a REDUCE the file author chose."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _torch_zip(path, obj, records, compress=()):
    """A torch zip checkpoint of ``obj`` (with _Storage/_HostileTensor inside) and raw ``records``."""
    torch = require("torch")

    class Pickler(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, _Storage):
                return ("storage", torch.FloatStorage, o.key, "cpu", o.numel)
            return None

    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(obj)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", buf.getvalue())
        zf.writestr("archive/byteorder", "little")
        for key, data in records.items():
            zf.writestr(f"archive/data/{key}", data,
                        zipfile.ZIP_DEFLATED if key in compress else zipfile.ZIP_STORED)
        zf.writestr("archive/version", "3\n")
    return path


def test_hand_made_checkpoint_reads_like_torch(tmp_path):
    # the builder below makes files torch itself reads: the hostile variants differ in one thing only
    torch = require("torch")
    s = _Storage("0", 4)
    path = _torch_zip(tmp_path / "ok.pt", {"t": _HostileTensor(s, (2, 2), (1, 2))},
                      {"0": np.arange(4, dtype=np.float32).tobytes()})
    ref = torch.load(path, weights_only=True)["t"]
    np.testing.assert_array_equal(vl.load(path)["t"].numpy(), ref.numpy())


@pytest.mark.parametrize("size,stride,offset", [((5,), (1,), 0), ((2, 2), (2, 1), 1), ((3,), (2,), 0)])
def test_declared_size_the_storage_cannot_back(tmp_path, size, stride, offset):
    s = _Storage("0", 4)
    path = _torch_zip(tmp_path / "x.pt", {"t": _HostileTensor(s, size, stride, offset)}, {"0": bytes(16)})
    with pytest.raises(CheckpointError, match="reaches past the end of its storage"):
        vl.load(path)


def test_huge_storage_claim_is_refused_before_allocating(tmp_path):
    s = _Storage("0", 1 << 40)  # 4 TiB claimed, 16 bytes present
    path = _torch_zip(tmp_path / "x.pt", {"t": _HostileTensor(s, (1 << 40,), (1,))}, {"0": bytes(16)})
    err, peak = _peak_mb(lambda: vl.load(path))
    assert isinstance(err, CheckpointError) and "storage 0" in str(err), err
    assert peak < 16


def test_compressed_record_bomb(tmp_path):
    n = 1 << 20  # 4 MiB of float zeros deflate to about 4 KB
    s = _Storage("0", n)
    path = _torch_zip(tmp_path / "x.pt", {"t": _HostileTensor(s, (n,), (1,))}, {"0": bytes(4 * n)},
                      compress={"0"})
    assert path.stat().st_size < 40_000
    with pytest.raises(CheckpointError, match="decompression bomb"):
        vl.load(path)


def test_pickled_bytearray_amplification(tmp_path):
    path = _torch_zip(tmp_path / "x.pt", {"b": _Call(bytearray, 1 << 40)}, {})
    err, peak = _peak_mb(lambda: vl.load(path))
    assert isinstance(err, UnsafeCheckpointError) and "bytearray" in str(err), err
    assert peak < 16
    # legitimate bytearrays (built from their content) still load
    ok = _torch_zip(tmp_path / "ok.pt", {"b": bytearray(b"abc")}, {})
    assert vl.load(ok) == {"b": bytearray(b"abc")}


def test_bytearray8_and_frame_lengths_are_bounded_by_the_file(tmp_path):
    torch = require("torch")
    # protocol 5 stores a bytearray as BYTEARRAY8 <length> <bytes>: claim 2**45 bytes
    buf = io.BytesIO()
    torch.save({"b": bytearray(b"xyz")}, buf, pickle_protocol=5)
    raw = bytearray(buf.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as zf:
        names = zf.namelist()
        pkl = zf.read([n for n in names if n.endswith("data.pkl")][0])
        records = {n: zf.read(n) for n in names if not n.endswith("data.pkl")}
    at = pkl.index(b"\x96\x03\x00\x00\x00\x00\x00\x00\x00xyz")
    bad = pkl[:at + 1] + struct.pack("<Q", 1 << 45) + pkl[at + 9:]
    path = tmp_path / "ba8.pt"
    with zipfile.ZipFile(path, "w") as zf:
        for n in names:
            zf.writestr(n, bad if n.endswith("data.pkl") else records[n])
    err, peak = _peak_mb(lambda: vl.load(path))
    assert isinstance(err, CheckpointError), err
    assert peak < 16
    # a legacy-format file whose first pickle frame claims 32 TiB
    from visionlite.core.serialization.torch_legacy import MAGIC_NUMBER

    legacy = tmp_path / "frame.pt"
    legacy.write_bytes(b"\x80\x04\x95" + struct.pack("<Q", 1 << 45) + b"\x8a\x0a"
                       + MAGIC_NUMBER.to_bytes(10, "little") + b".")
    err, peak = _peak_mb(lambda: vl.load(legacy))
    assert isinstance(err, CheckpointError), err
    assert peak < 16


def _safetensors_with_structure(path, structure_text):
    from safetensors.numpy import save_file

    save_file({"a": np.zeros(2, np.float32)}, str(path),
              metadata={"visionlite.structure": structure_text, "visionlite.format": "1"})
    return path


@pytest.mark.parametrize("attr", ["keys", "items", "__dict__", "__class__", "_metadata_x"])
def test_safetensors_metadata_cannot_set_attributes(tmp_path, attr):
    structure = {"odict": [["a", {"tensor": "a"}]], "attrs": {attr: {"dict": []}}}
    path = _safetensors_with_structure(tmp_path / "x.safetensors", json.dumps(structure))
    with pytest.raises(CheckpointError, match=repr(attr)):
        vl.load(path)


def test_safetensors_metadata_keeps_what_the_writer_writes(tmp_path):
    torch = require("torch")
    sd = torch.nn.BatchNorm2d(3).state_dict()  # carries _metadata (module versions)
    mine = vl.nn.BatchNorm2d(3).state_dict()
    vl.save(mine, tmp_path / "bn.safetensors")
    got = vl.load(tmp_path / "bn.safetensors")
    assert got._metadata == sd._metadata and list(got) == list(sd)


@pytest.mark.parametrize("depth", [150, 100_000])
def test_deep_safetensors_structure(tmp_path, depth):
    text = '{"list": [' * depth + "]}" * depth
    path = _safetensors_with_structure(tmp_path / "deep.safetensors", text)
    with pytest.raises(CheckpointError, match="deep"):
        vl.load(path)
    with pytest.raises(ValueError, match="deep"):
        nested = []
        for _ in range(150):
            nested = [nested]
        vl.save({"x": nested}, tmp_path / "y.safetensors")
    # what save accepts, load reads back: the deepest allowed nesting round-trips
    nested = [1.5]
    for _ in range(99):
        nested = [nested]
    vl.save({"x": nested}, tmp_path / "z.safetensors")
    assert vl.load(tmp_path / "z.safetensors") == {"x": nested}


# --------------------------------------------------------------------------------------- hostile servers
def _fetch(url, tmp_path, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("tries", 2)
    return download(url, tmp_path / "out" / "f.bin", **kw)


def _nothing_left(tmp_path):
    folder = tmp_path / "out"
    return not folder.exists() or os.listdir(folder) == []


def test_truncated_body_every_time(server, tmp_path):
    url = server.serve("f.bin", DATA, "truncate")
    with pytest.raises(DownloadError, match="after 2 attempts") as info:
        _fetch(url, tmp_path, sha256=SHA)
    assert url in str(info.value) and _nothing_left(tmp_path)


def test_drip_stops_at_the_deadline(server, tmp_path):
    url = server.serve("f.bin", DATA, "drip", interval=0.05)
    start = time.monotonic()
    with pytest.raises(DownloadError, match="deadline of 1 s"):
        _fetch(url, tmp_path, sha256=SHA, deadline=1.0)
    assert time.monotonic() - start < 4 and _nothing_left(tmp_path)


def test_drip_below_the_minimum_speed_is_dropped(server, tmp_path):
    url = server.serve("f.bin", DATA, "drip", interval=0.05)
    with pytest.raises(DownloadError, match="sent only") as info:
        _fetch(url, tmp_path, sha256=SHA, min_speed=(1000, 0.3))
    assert "after 2 attempts" in str(info.value) and _nothing_left(tmp_path)


def test_gzip_bomb_via_content_encoding(server, tmp_path):
    url = server.serve("f.bin", mode="inflate", inflated=64 << 20)
    assert len(server.bomb(64 << 20)) < 100_000
    err, peak = _peak_mb(lambda: _fetch(url, tmp_path, max_bytes=len(DATA)))
    assert isinstance(err, DownloadError) and "max_bytes" in str(err), err
    assert peak < 16 and _nothing_left(tmp_path)


def test_gzip_content_encoding_within_the_limit_is_decoded(server, tmp_path):
    # a server that compresses anyway: the decoded file is what is kept and verified
    url = server.serve("f.bin", mode="inflate", inflated=1 << 20)
    path = _fetch(url, tmp_path, max_bytes=2 << 20, sha256=hashlib.sha256(bytes(1 << 20)).hexdigest())
    assert os.path.getsize(path) == 1 << 20


def test_endless_body(server, tmp_path):
    url = server.serve("f.bin", mode="endless")
    with pytest.raises(DownloadError, match="max_bytes"):
        _fetch(url, tmp_path, max_bytes=1 << 20)
    assert _nothing_left(tmp_path)
    with pytest.raises(DownloadError, match="deadline"):  # no size known: the deadline ends it
        _fetch(url, tmp_path, deadline=0.5)
    assert _nothing_left(tmp_path)


def test_announced_length_over_the_limit_is_refused_before_reading(server, tmp_path):
    url = server.serve("f.bin", DATA, "ok")
    with pytest.raises(DownloadError, match=f"{len(DATA):,} bytes"):
        _fetch(url, tmp_path, max_bytes=len(DATA) - 1)
    assert server.gets["f.bin"] == 1 and _nothing_left(tmp_path)


def test_html_page_and_server_errors(server, tmp_path):
    with pytest.raises(DownloadError, match="HTML page"):
        _fetch(server.serve("a.bin", mode="html"), tmp_path)
    # served as a binary file a byte at a time: told by its first bytes, however small the reads
    page = b"\n\n<!DOCTYPE html>\n<html><body>quota exceeded</body></html>\n"
    with pytest.raises(DownloadError, match="HTML page"):
        _fetch(server.serve("c.bin", page, "drip", interval=0.002), tmp_path)
    with pytest.raises(DownloadError, match="HTTP 503"):
        _fetch(server.serve("b.bin", mode="5xx"), tmp_path)
    assert server.gets["b.bin"] == 2 and _nothing_left(tmp_path)


def test_registry_size_bounds_weights_downloads(server, tmp_path, monkeypatch):
    from visionlite.models import SqueezeNet1_1_Weights

    weights = SqueezeNet1_1_Weights.IMAGENET1K_V1
    monkeypatch.setenv("VISIONLITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VISIONLITE_OFFLINE", raising=False)
    server.serve(weights.file_name, mode="endless")
    monkeypatch.setenv("VISIONLITE_WEIGHTS_MIRROR", server.url("").rstrip("/"))  # loopback: no opt-in
    with pytest.raises(DownloadError, match="max_bytes"):
        weights.get_state_dict(progress=False)
    assert hub.list_cached() == [] and hub.list_partial() == []
    limit = hub.size_limit(weights.meta["_file_size"])
    assert weights.meta["_file_size"] * 2**20 < limit < weights.meta["_file_size"] * 2**20 * 1.05 + 2**21


def test_plain_http_mirror_needs_opt_in(monkeypatch):
    monkeypatch.delenv("VISIONLITE_ALLOW_HTTP", raising=False)
    monkeypatch.setenv("VISIONLITE_WEIGHTS_MIRROR", "http://mirror.example.org/weights")
    with pytest.raises(DownloadError, match="VISIONLITE_ALLOW_HTTP"):
        hub.resolve_url("https://download.pytorch.org/models/resnet18-f37072fd.pth")
    monkeypatch.setenv("VISIONLITE_ALLOW_HTTP", "1")
    assert hub.resolve_url("https://x/y/resnet18-f37072fd.pth") == \
        "http://mirror.example.org/weights/resnet18-f37072fd.pth"


def test_meta_says_what_the_hash_check_covers():
    from visionlite.models import get_model_weights, list_models

    members = [m for name in list_models() for m in get_model_weights(name)]
    kinds = {m.meta["_sha256_verified"] for m in members}
    assert kinds == {"full", "prefix"}
    for m in members:
        assert (m.meta["_sha256_verified"] == "full") == bool(m.sha256)
        if m.sha256:
            assert m.sha256.startswith(hub.hash_prefix_from_name(m.file_name))


def test_offline_with_a_corrupt_cached_file_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONLITE_HOME", str(tmp_path))
    monkeypatch.setenv("VISIONLITE_OFFLINE", "1")
    monkeypatch.delenv("VISIONLITE_WEIGHTS_MIRROR", raising=False)
    name = "net-" + ("0" * 8 if not SHA.startswith("0" * 8) else "1" * 8) + ".pth"
    path = tmp_path / "checkpoints" / name
    path.parent.mkdir()
    path.write_bytes(DATA)
    with pytest.raises(hub.OfflineError, match="corrupt .* removed"):
        hub.cached_file(f"https://example.org/{name}", progress=False)
    assert not path.exists()


# ------------------------------------------------------------------------------------ killed processes
_CHILD_DOWNLOAD = """
import sys
from visionlite.download import download
download(sys.argv[1], sys.argv[2], progress=False)
"""


def _kill_mid_download(server, dst):
    half = len(DATA) // 2
    url = server.serve(dst.name, DATA, "ok", stall_after=half)
    proc = subprocess.Popen([sys.executable, "-c", _CHILD_DOWNLOAD, url, str(dst)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert server.stalled.wait(20), "the child never started downloading"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the child has written what it received
            parts = dl.partial_files(dst)
            if parts and os.path.getsize(parts[0]) == half:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    return url, half


def test_sigkill_mid_download_then_resume(server, tmp_path):
    dst = tmp_path / "out" / "f.bin"
    url, half = _kill_mid_download(server, dst)
    assert not dst.exists() and [os.path.getsize(p) for p in dl.partial_files(dst)] == [half]
    assert download(url, dst, sha256=SHA, progress=False) == str(dst)
    assert dst.read_bytes() == DATA
    assert server.ranges[dst.name] == [None, f"bytes={half}-"]  # the second process resumed
    assert os.listdir(dst.parent) == ["f.bin"]
    stale = dst.parent / f".f.bin.{os.getpid() + 1}.0123abcd.part"
    stale.write_bytes(b"x")
    download(url, dst, sha256=SHA, progress=False)  # a verified cache hit clears stale parts
    assert os.listdir(dst.parent) == ["f.bin"] and len(server.ranges[dst.name]) == 2


def test_resumed_part_that_fails_its_hash_starts_over(server, tmp_path):
    dst = tmp_path / "out" / "f.bin"
    url, half = _kill_mid_download(server, dst)
    part = dl.partial_files(dst)[0]
    with open(part, "r+b") as f:
        f.write(b"\xff" * 8)  # damaged on disk after the kill
    assert download(url, dst, sha256=SHA, progress=False) == str(dst)
    assert dst.read_bytes() == DATA and server.ranges[dst.name][-1] is None
    assert os.listdir(dst.parent) == ["f.bin"]


def test_cache_cli_shows_and_clears_partial_downloads(server, tmp_path, monkeypatch, capsys):
    from visionlite.cli import main

    monkeypatch.setenv("VISIONLITE_HOME", str(tmp_path))
    dst = tmp_path / "checkpoints" / "net-0123abcd.pth"
    _kill_mid_download(server, dst)
    assert [p.name for p in hub.list_partial()] == [dst.name]
    assert main(["cache", "list"]) == 0
    out = capsys.readouterr().out
    assert "1 partial download" in out and dst.name in out
    main(["cache", "verify"])
    assert "partial" in capsys.readouterr().out
    assert main(["cache", "clear", "-y"]) == 0
    assert f"{dst.name} (partial)" in capsys.readouterr().out
    assert os.listdir(dst.parent) == []


_CHILD_SAVE = """
import sys, time, visionlite as vl
from visionlite.core.serialization import atomic
def stall(fd):  # the new content is written; the process dies before it is made durable and renamed
    print("written", flush=True)
    time.sleep(60)
atomic.os.fsync = stall
vl.save({"w": vl.zeros(100_000)}, sys.argv[1], format=sys.argv[2])
"""


@pytest.mark.parametrize("fmt", ["safetensors", "torch"])
def test_sigkill_mid_save_leaves_the_old_checkpoint(tmp_path, fmt):
    path = tmp_path / "ck.pt"
    vl.save({"w": vl.ones(3)}, path, format=fmt)
    before = path.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", _CHILD_SAVE, str(path), fmt], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "written", proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert path.read_bytes() == before
    np.testing.assert_array_equal(vl.load(path)["w"].numpy(), np.ones(3, np.float32))
    assert all(n == "ck.pt" or (n.startswith(".ck.pt.") and n.endswith(".tmp")) for n in os.listdir(tmp_path))


# ------------------------------------------------------------------------------------- hostile archives
BOMB = 24 << 20  # 24 MiB of zeros: some 24 KB compressed, a ratio of about 1000


def _zip(path, entries, method=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


def _tar(path, entries, mode="w:gz"):
    with tarfile.open(path, mode) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("kind", ["zip", "tar.gz", "gz"])
def test_decompression_bombs_are_refused(tmp_path, kind):
    work = tmp_path / "work"
    work.mkdir()
    zeros = bytes(BOMB)
    if kind == "zip":
        archive = _zip(work / "bomb.zip", [("ok.txt", b"ok"), ("zeros.bin", zeros)])
    elif kind == "tar.gz":
        archive = _tar(work / "bomb.tar.gz", [("ok.txt", b"ok"), ("zeros.bin", zeros)])
    else:
        archive = work / "zeros.bin.gz"
        archive.write_bytes(gzip.compress(zeros))
    assert archive.stat().st_size < BOMB // 200
    before = _files(tmp_path)
    with pytest.raises(dsu.ArchiveTooLargeError, match="max_ratio") as info:
        dsu.extract_archive(archive, work / "out")
    assert str(archive) in str(info.value)
    assert [f for f in _files(tmp_path) if f != "work/out"] == before  # nothing written
    with pytest.raises(dsu.ArchiveTooLargeError, match="max_bytes"):
        dsu.extract_archive(archive, work / "out", max_ratio=10**6, max_bytes=BOMB // 2)
    # raising the limits extracts a trusted archive
    dsu.extract_archive(archive, work / "out", max_ratio=10**6)
    assert (work / "out" / "zeros.bin").stat().st_size == BOMB
    assert not [n for n in os.listdir(work / "out") if n.startswith(".")]


def test_traversal_entries_are_refused(tmp_path):
    for archive in (_zip(tmp_path / "t.zip", [("../evil.txt", b"x")]),
                    _tar(tmp_path / "t.tar.gz", [("a/../../evil.txt", b"x")])):
        with pytest.raises(dsu.UnsafeArchiveError, match="'..'"):
            dsu.extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists() and not os.path.exists(tmp_path.parent / "evil.txt")


@pytest.mark.parametrize("kind", ["tar.gz", "tar", "zip", "gz"])
def test_truncated_archives_name_the_file(tmp_path, kind):
    rng = np.random.default_rng(0)
    first, second = b"complete member", rng.bytes(200_000)  # random: no compression
    if kind == "zip":
        archive = _zip(tmp_path / "a.zip", [("first.txt", first), ("second.bin", second)])
    elif kind == "gz":
        archive = tmp_path / "second.bin.gz"
        archive.write_bytes(gzip.compress(second))
    else:
        archive = _tar(tmp_path / f"a.{kind}", [("first.txt", first), ("second.bin", second)],
                       "w:gz" if kind == "tar.gz" else "w")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    with pytest.raises(dsu.CorruptArchiveError, match="truncated or corrupt") as info:
        dsu.extract_archive(archive, out)
    assert str(archive) in str(info.value)
    assert not out.exists() or _files(out) == []  # no half-written member, no staging folder
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".part")]
