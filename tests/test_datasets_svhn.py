"""SVHN and its MATLAB 5 reader: .mat files written by scipy (when importable) and by a byte-level
writer here that follows MathWorks' format description, served locally and loaded, compared with
scipy.io.loadmat and TorchVision's SVHN."""
import hashlib
import struct
import zlib

import numpy as np
import pytest

from tests.helpers.refs import require
from visionlite import download as dl
from visionlite.datasets import SVHN
from visionlite.datasets._matlab import load_mat
from visionlite.download import HashMismatchError


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(dl, "BACKOFF_BASE", 0.001)


# --------------------------------------------------------------------------- a MATLAB 5 writer for tests

def _element(order, mi_type, payload, small_ok=True):
    if small_ok and len(payload) <= 4:  # small data element: size and type share the first word
        return struct.pack(order + "I", (len(payload) << 16) | mi_type) + payload.ljust(4, b"\0")
    return struct.pack(order + "II", mi_type, len(payload)) + payload + b"\0" * (-len(payload) % 8)


def _matrix(order, name, mx_class, array, mi_type, np_type):
    """An miMATRIX element: flags, dimensions, name, then the values column-major as ``np_type``."""
    flags = _element(order, 6, struct.pack(order + "II", mx_class, 0))
    dims = _element(order, 5, struct.pack(order + f"{array.ndim}i", *array.shape))
    body = flags + dims + _element(order, 1, name.encode())
    body += _element(order, mi_type, np.asfortranarray(array).astype(np.dtype(np_type).newbyteorder(order))
                     .tobytes(order="F"))
    return struct.pack(order + "II", 14, len(body)) + body


def mat_file(variables, order="<", compress=False):
    """A MATLAB 5 file: 116-byte text, subsystem offset, version 0x0100, byte-order mark, elements."""
    header = b"MATLAB 5.0 MAT-file, written by a test".ljust(116, b" ") + b"\0" * 8
    header += struct.pack(order + "H", 0x0100) + (b"IM" if order == "<" else b"MI")
    out = header
    for element in variables:
        if compress:
            packed = zlib.compress(element)
            element = struct.pack(order + "II", 15, len(packed)) + packed
        out += element
    return out


def svhn_arrays(rng, n):
    return rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8), rng.integers(1, 11, (n, 1)).astype(np.uint8)


@pytest.mark.parametrize("order, compress", [("<", False), (">", False), ("<", True)])
def test_reader_on_handwritten_files(tmp_path, order, compress):
    rng = np.random.default_rng(0)
    x, y = svhn_arrays(rng, 3)
    doubles = np.array([[1.5, -2.0, 3.25]])
    text = np.array([[ord(c) for c in "hello"]], dtype=np.uint16)
    cell_body = (_element(order, 6, struct.pack(order + "II", 1, 0))  # an empty cell array (class 1)
                 + _element(order, 5, struct.pack(order + "ii", 0, 0)) + _element(order, 1, b"c"))
    cell = struct.pack(order + "II", 14, len(cell_body)) + cell_body
    elements = [_matrix(order, "X", 9, x, 2, np.uint8), _matrix(order, "y", 6, y, 2, np.uint8),
                _matrix(order, "values", 6, doubles, 9, np.float64),
                _matrix(order, "s", 4, text, 4, np.uint16), cell]
    (tmp_path / "f.mat").write_bytes(mat_file(elements, order, compress))
    out = load_mat(tmp_path / "f.mat")
    assert sorted(out) == ["X", "s", "values", "y"]  # the cell array is skipped
    np.testing.assert_array_equal(out["X"], x)
    np.testing.assert_array_equal(out["y"], y)
    assert out["y"].dtype == np.uint8  # stored type kept, as scipy.io.loadmat does by default
    np.testing.assert_array_equal(out["values"], doubles)
    assert out["values"].dtype.isnative and list(out["s"]) == ["hello"]


def test_reader_refuses_other_files(tmp_path):
    (tmp_path / "v73.mat").write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(512, b"\0"))
    with pytest.raises(ValueError, match="7.3"):
        load_mat(tmp_path / "v73.mat")
    (tmp_path / "junk.mat").write_bytes(b"x" * 200)
    with pytest.raises(ValueError, match="not a MATLAB 5 file"):
        load_mat(tmp_path / "junk.mat")
    cut = mat_file([_matrix("<", "X", 9, np.zeros((4, 4), np.uint8), 2, np.uint8)])[:-12]
    (tmp_path / "cut.mat").write_bytes(cut)
    with pytest.raises(ValueError, match="cut.mat"):
        load_mat(tmp_path / "cut.mat")


@pytest.mark.parametrize("compress", [False, True])
def test_reader_matches_scipy(tmp_path, compress):
    sio = require("scipy.io")
    rng = np.random.default_rng(1)
    x, y = svhn_arrays(rng, 5)
    variables = {"X": x, "y": y, "f": rng.standard_normal((3, 4)),
                 "i": np.arange(6, dtype=np.int32).reshape(2, 3),
                 "name": "svhn"}
    sio.savemat(tmp_path / "s.mat", variables, do_compression=compress)
    ours, ref = load_mat(tmp_path / "s.mat"), sio.loadmat(tmp_path / "s.mat")
    for key in ("X", "y", "f", "i"):
        assert ours[key].dtype == ref[key].dtype and ours[key].shape == ref[key].shape
        np.testing.assert_array_equal(ours[key], ref[key])
    assert list(ours["name"]) == list(ref["name"])


def _serve(server, monkeypatch, blob):
    server.add_file("housenumbers/test_32x32.mat", blob)
    split_list = dict(SVHN.split_list, test=[server.url("housenumbers/test_32x32.mat"), "test_32x32.mat",
                                            hashlib.md5(blob).hexdigest()])
    monkeypatch.setattr(SVHN, "split_list", split_list)
    return split_list


def test_svhn_download_and_load(local_http_server, tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    x, y = svhn_arrays(rng, 6)
    y[0, 0] = 10  # SVHN's label for the digit 0
    elements = [_matrix("<", "X", 9, x, 2, np.uint8), _matrix("<", "y", 6, y, 2, np.uint8)]
    blob = mat_file(elements, compress=True)
    _serve(local_http_server, monkeypatch, blob)
    ds = SVHN(tmp_path, split="test", download=True)
    assert len(ds) == 6 and ds.data.shape == (6, 3, 32, 32) and ds.labels.dtype == np.int64
    img, target = ds[0]
    assert target == 0 and img.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(img), x[..., 0])
    assert [ds[i][1] for i in range(1, 6)] == [int(v) % 10 for v in y[1:, 0]]
    SVHN(tmp_path, split="test", download=True)
    assert local_http_server.gets("housenumbers/test_32x32.mat") == 1
    with pytest.raises(ValueError, match="Unknown value 'val' for argument split"):
        SVHN(tmp_path, split="val")


def test_svhn_matches_torchvision(local_http_server, tmp_path, monkeypatch):
    sio = require("scipy.io")
    tv_datasets = require("torchvision.datasets")
    rng = np.random.default_rng(3)
    x, y = svhn_arrays(rng, 4)
    sio.savemat(tmp_path / "src.mat", {"X": x, "y": y}, do_compression=True)
    split_list = _serve(local_http_server, monkeypatch, (tmp_path / "src.mat").read_bytes())
    monkeypatch.setattr(tv_datasets.SVHN, "split_list", split_list)
    ours = SVHN(tmp_path / "r", split="test", download=True)
    theirs = tv_datasets.SVHN(tmp_path / "r", split="test")
    np.testing.assert_array_equal(ours.data, theirs.data)
    np.testing.assert_array_equal(ours.labels, theirs.labels)
    for i in range(4):
        assert ours[i][1] == theirs[i][1]
        np.testing.assert_array_equal(np.asarray(ours[i][0]), np.asarray(theirs[i][0]))


def test_svhn_corrupt_download_and_missing_file(local_http_server, tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match="download=True"):
        SVHN(tmp_path, split="test")
    split_list = _serve(local_http_server, monkeypatch, b"not a mat file")
    monkeypatch.setattr(SVHN, "split_list", dict(split_list, test=split_list["test"][:2] + ["0" * 32]))
    with pytest.raises(HashMismatchError):
        SVHN(tmp_path, split="test", download=True)
    assert not (tmp_path / "test_32x32.mat").exists()
    assert local_http_server.gets("housenumbers/test_32x32.mat") == 1
