"""MNIST, FashionMNIST, KMNIST and EMNIST end to end: idx-ubyte.gz files in the official format, served
from a local HTTP server, downloaded through mirrors, verified, decompressed and loaded, then compared
with TorchVision reading the same files."""
import gzip
import hashlib
import io
import struct
import zipfile

import numpy as np
import pytest

from tests.helpers.refs import require
from visionlite import download as dl
from visionlite.datasets import EMNIST, KMNIST, MNIST, FashionMNIST
from visionlite.download import DownloadError, HashMismatchError


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(dl, "BACKOFF_BASE", 0.001)


def idx_bytes(array):
    """An idx file as LeCun documents it: 0, 0, type code, ndim, big-endian uint32 sizes, then data."""
    codes = {np.uint8: 0x08, np.int16: 0x0B, np.float32: 0x0D}
    header = bytes([0, 0, codes[array.dtype.type], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def gz(data):
    return gzip.compress(data, mtime=0)


def make_split(rng, n, size=28):
    return rng.integers(0, 256, (n, size, size), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def serve_mnist(server, folder, seed=0):
    """Put the four MNIST files under /folder/ on the server; returns (resources with MD5s, arrays)."""
    rng = np.random.default_rng(seed)
    arrays = {"train": make_split(rng, 12), "t10k": make_split(rng, 5)}
    resources = []
    for prefix, (images, labels) in arrays.items():
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{prefix}-{kind}-ubyte.gz"
            blob = gz(idx_bytes(arr))
            server.add_file(f"{folder}/{name}", blob)
            resources.append((name, hashlib.md5(blob).hexdigest()))
    return resources, arrays


def assert_same_as_torchvision(ours, theirs):
    assert len(ours) == len(theirs)
    assert ours.data.numpy().dtype == np.uint8
    np.testing.assert_array_equal(ours.data.numpy(), theirs.data.numpy())
    np.testing.assert_array_equal(ours.targets.numpy(), theirs.targets.numpy())
    assert ours.targets.numpy().dtype == np.int64
    for i in (0, len(ours) - 1):
        (img, t), (ref_img, ref_t) = ours[i], theirs[i]
        assert img.mode == ref_img.mode == "L" and t == ref_t and isinstance(t, int)
        np.testing.assert_array_equal(np.asarray(img), np.asarray(ref_img))
    assert ours.classes == theirs.classes and ours.class_to_idx == theirs.class_to_idx


def test_mnist_download_through_mirrors_and_load(local_http_server, tmp_path, monkeypatch):
    tv_datasets = require("torchvision.datasets")
    resources, arrays = serve_mnist(local_http_server, "good")
    local_http_server.behave("down/train-images-idx3-ubyte.gz", fail_first=100, fail_status=503)
    mirrors = [local_http_server.url("down") + "/", local_http_server.url("good") + "/"]
    monkeypatch.setattr(MNIST, "mirrors", mirrors)
    monkeypatch.setattr(MNIST, "resources", resources)

    train = MNIST(tmp_path, train=True, download=True)
    test = MNIST(tmp_path, train=False)
    np.testing.assert_array_equal(train.data.numpy(), arrays["train"][0])
    np.testing.assert_array_equal(test.targets.numpy(), arrays["t10k"][1])
    assert_same_as_torchvision(train, tv_datasets.MNIST(tmp_path, train=True))
    assert_same_as_torchvision(test, tv_datasets.MNIST(tmp_path, train=False))
    assert "Split: Train" in repr(train) and "Number of datapoints: 12" in repr(train)

    gets = local_http_server.total_gets()
    MNIST(tmp_path, download=True)  # everything present: no request at all
    assert local_http_server.total_gets() == gets


def test_mnist_transforms_are_applied(local_http_server, tmp_path, monkeypatch):
    resources, arrays = serve_mnist(local_http_server, "m")
    monkeypatch.setattr(MNIST, "mirrors", [local_http_server.url("m") + "/"])
    monkeypatch.setattr(MNIST, "resources", resources)
    ds = MNIST(tmp_path, download=True, transform=lambda im: np.asarray(im).sum(),
               target_transform=lambda t: -t)
    img, target = ds[3]
    assert img == arrays["train"][0][3].sum() and target == -int(arrays["train"][1][3])


def test_mnist_missing_files_say_how_to_fix(tmp_path):
    with pytest.raises(RuntimeError, match="download=True") as info:
        MNIST(tmp_path)
    assert "train-images-idx3-ubyte" in str(info.value)
    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"")
    with pytest.raises(RuntimeError, match="download=True") as info:
        MNIST(tmp_path)
    assert "train-labels-idx1-ubyte" in str(info.value)  # only the file still missing is listed
    assert "train-images-idx3-ubyte" not in str(info.value)


def test_mnist_corrupted_download_is_rejected_once(local_http_server, tmp_path, monkeypatch):
    resources, _ = serve_mnist(local_http_server, "m")
    bad = [(name, "0" * 32 if i == 1 else md5) for i, (name, md5) in enumerate(resources)]
    monkeypatch.setattr(MNIST, "mirrors", [local_http_server.url("m") + "/"])
    monkeypatch.setattr(MNIST, "resources", bad)
    with pytest.raises(HashMismatchError, match="md5"):
        MNIST(tmp_path, download=True)
    assert local_http_server.gets("m/train-labels-idx1-ubyte.gz") == 1  # no retry loop
    assert not (tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz").exists()


def test_mnist_damaged_local_archive_is_fetched_again(local_http_server, tmp_path, monkeypatch):
    resources, arrays = serve_mnist(local_http_server, "m")
    monkeypatch.setattr(MNIST, "mirrors", [local_http_server.url("m") + "/"])
    monkeypatch.setattr(MNIST, "resources", resources)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(b"half a download")
    ds = MNIST(tmp_path, download=True)
    np.testing.assert_array_equal(ds.data.numpy(), arrays["train"][0])
    assert local_http_server.gets("m/train-images-idx3-ubyte.gz") == 1


def test_mnist_html_instead_of_file_is_reported(local_http_server, tmp_path, monkeypatch):
    resources, _ = serve_mnist(local_http_server, "m")
    local_http_server.behave("m/train-images-idx3-ubyte.gz", html=True)
    monkeypatch.setattr(MNIST, "mirrors", [local_http_server.url("m") + "/"])
    monkeypatch.setattr(MNIST, "resources", resources)
    with pytest.raises(DownloadError, match="HTML page"):
        MNIST(tmp_path, download=True)


def test_truncated_idx_file_names_itself(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images, labels = make_split(np.random.default_rng(0), 3)
    (raw / "train-images-idx3-ubyte").write_bytes(idx_bytes(images)[:-10])
    (raw / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    with pytest.raises(ValueError, match="train-images-idx3-ubyte is truncated"):
        MNIST(tmp_path)
    (raw / "train-images-idx3-ubyte").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ValueError, match="not an idx file"):
        MNIST(tmp_path)


def test_read_idx_other_types_match_numpy(tmp_path):
    from visionlite.datasets.mnist import read_idx

    for arr in (np.arange(-6, 6, dtype=np.int16).reshape(3, 4), np.linspace(-1, 1, 5, dtype=np.float32)):
        (tmp_path / "f").write_bytes(idx_bytes(arr))
        out = read_idx(tmp_path / "f")
        assert out.dtype == arr.dtype and out.dtype.isnative
        np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("cls, tv_name", [(FashionMNIST, "FashionMNIST"), (KMNIST, "KMNIST")])
def test_mnist_relatives(local_http_server, tmp_path, monkeypatch, cls, tv_name):
    tv_datasets = require("torchvision.datasets")
    resources, _ = serve_mnist(local_http_server, tv_name, seed=1)
    monkeypatch.setattr(cls, "mirrors", [local_http_server.url(tv_name) + "/"])
    monkeypatch.setattr(cls, "resources", resources)
    ours = cls(tmp_path, train=False, download=True)
    assert (tmp_path / tv_name / "raw" / "t10k-images-idx3-ubyte").is_file()
    assert_same_as_torchvision(ours, getattr(tv_datasets, tv_name)(tmp_path, train=False))


def test_emnist_zip_download_and_split(local_http_server, tmp_path, monkeypatch):
    tv_datasets = require("torchvision.datasets")
    rng = np.random.default_rng(2)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for part, n in (("train", 6), ("test", 4)):
            images, labels = make_split(rng, n)
            zf.writestr(f"gzip/emnist-mnist-{part}-images-idx3-ubyte.gz", gz(idx_bytes(images)))
            zf.writestr(f"gzip/emnist-mnist-{part}-labels-idx1-ubyte.gz", gz(idx_bytes(labels)))
    blob = buf.getvalue()
    local_http_server.add_file("emnist/gzip.zip", blob)
    monkeypatch.setattr(EMNIST, "url", local_http_server.url("emnist/gzip.zip"))
    monkeypatch.setattr(EMNIST, "md5", hashlib.md5(blob).hexdigest())
    ours = EMNIST(tmp_path, split="mnist", download=True)
    assert not (tmp_path / "EMNIST" / "raw" / "gzip").exists()
    assert_same_as_torchvision(ours, tv_datasets.EMNIST(tmp_path, split="mnist"))
    assert len(EMNIST(tmp_path, split="mnist", train=False)) == 4
    assert EMNIST.classes_split_dict == tv_datasets.EMNIST.classes_split_dict
    with pytest.raises(ValueError, match="Unknown value 'bogus' for argument split"):
        EMNIST(tmp_path, split="bogus")
