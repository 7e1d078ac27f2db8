"""CIFAR-10/100 end to end: the official "python version" tarball layout (protocol-2 pickled dicts of a
uint8 (N, 3072) array and labels), served locally, downloaded, verified, extracted and loaded, compared
with TorchVision; plus hostile inputs: a pickle that would run code and a tarball escaping its root."""
import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from tests.helpers.refs import require
from visionlite import download as dl
from visionlite.datasets import CIFAR10, CIFAR100
from visionlite.datasets.utils import UnsafeArchiveError


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(dl, "BACKOFF_BASE", 0.001)


def batch(rng, n, label_key="labels", classes=10):
    return {"batch_label": "training batch 1 of 5", label_key: [int(x) for x in rng.integers(0, classes, n)],
            "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            "filenames": [f"img_{i}.png" for i in range(n)]}


def tarball(files, folder):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, blob in files.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buf.getvalue()


def md5(blob):
    return hashlib.md5(blob).hexdigest()


def patch(monkeypatch, cls, server, files, tar_name, tv_cls=None):
    blob = tarball(files, cls.base_folder)
    server.add_file(tar_name, blob)
    for target in (cls, tv_cls):
        if target is None:
            continue
        monkeypatch.setattr(target, "url", server.url(tar_name))
        monkeypatch.setattr(target, "tgz_md5", md5(blob))
        monkeypatch.setattr(target, "train_list", [[n, md5(files[n])] for n, _ in cls.train_list])
        monkeypatch.setattr(target, "test_list", [[n, md5(files[n])] for n, _ in cls.test_list])
        monkeypatch.setattr(target, "meta", dict(cls.meta, md5=md5(files[cls.meta["filename"]])))


def assert_same(ours, theirs):
    assert len(ours) == len(theirs) and ours.classes == theirs.classes and ours.targets == theirs.targets
    np.testing.assert_array_equal(ours.data, theirs.data)
    assert ours.data.shape[1:] == (32, 32, 3)
    for i in (0, len(ours) - 1):
        (img, t), (ref, ref_t) = ours[i], theirs[i]
        assert img.mode == "RGB" and t == ref_t
        np.testing.assert_array_equal(np.asarray(img), np.asarray(ref))


def test_cifar10_end_to_end(local_http_server, tmp_path, monkeypatch):
    tv_datasets = require("torchvision.datasets")
    rng = np.random.default_rng(0)
    files = {f"data_batch_{i}": pickle.dumps(batch(rng, 4), protocol=2) for i in range(1, 6)}
    files["test_batch"] = pickle.dumps(batch(rng, 3), protocol=2)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    files["batches.meta"] = pickle.dumps({"label_names": names, "num_vis": 3072}, protocol=2)
    patch(monkeypatch, CIFAR10, local_http_server, files, "cifar-10-python.tar.gz", tv_datasets.CIFAR10)

    train = CIFAR10(tmp_path, train=True, download=True)
    assert len(train) == 20 and train.classes == names and train.class_to_idx["cat"] == 3
    assert_same(train, tv_datasets.CIFAR10(tmp_path, train=True))
    assert_same(CIFAR10(tmp_path, train=False), tv_datasets.CIFAR10(tmp_path, train=False))
    # The first image's first pixel is (R, G, B) = data[0][0], data[0][1024], data[0][2048].
    first = pickle.loads(files["data_batch_1"])["data"][0]
    assert tuple(np.asarray(train[0][0])[0, 0]) == (first[0], first[1024], first[2048])
    CIFAR10(tmp_path, download=True)
    assert local_http_server.gets("cifar-10-python.tar.gz") == 1


def test_cifar100_fine_labels(local_http_server, tmp_path, monkeypatch):
    tv_datasets = require("torchvision.datasets")
    rng = np.random.default_rng(1)
    files = {"train": pickle.dumps(batch(rng, 5, "fine_labels", 100), protocol=2),
             "test": pickle.dumps(batch(rng, 2, "fine_labels", 100), protocol=2),
             "meta": pickle.dumps({"fine_label_names": [f"c{i}" for i in range(100)],
                                   "coarse_label_names": [f"s{i}" for i in range(20)]})}
    patch(monkeypatch, CIFAR100, local_http_server, files, "cifar-100-python.tar.gz", tv_datasets.CIFAR100)
    assert_same(CIFAR100(tmp_path, download=True), tv_datasets.CIFAR100(tmp_path))


def test_missing_or_corrupt_batches_say_how_to_fix(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match="download=True") as info:
        CIFAR10(tmp_path)
    assert "data_batch_1" in str(info.value)
    folder = tmp_path / CIFAR10.base_folder
    folder.mkdir()
    for name, _ in CIFAR10.train_list[1:]:  # all but data_batch_1 present and intact (faked MD5s)
        (folder / name).write_bytes(name.encode())
    (folder / "test_batch").write_bytes(b"damaged")
    fake = [(name, hashlib.md5(name.encode()).hexdigest()) for name, _ in CIFAR10.train_list]
    monkeypatch.setattr(CIFAR10, "train_list", fake)
    with pytest.raises(RuntimeError, match="download=True") as info:
        CIFAR10(tmp_path)
    listed = str(info.value)
    assert "data_batch_1" in listed and "test_batch" in listed  # missing, and failing its MD5 check
    assert not any(name in listed for name, _ in fake[1:])


class _RunsCode:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_naming_other_functions_is_refused(local_http_server, tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    evil = _RunsCode()
    evil.marker = tmp_path / "pwned"
    hostile = batch(rng, 4)
    hostile["labels"] = evil
    files = {f"data_batch_{i}": pickle.dumps(batch(rng, 4), protocol=2) for i in range(1, 6)}
    files["data_batch_1"] = pickle.dumps(hostile, protocol=2)
    files["test_batch"] = pickle.dumps(batch(rng, 2), protocol=2)
    files["batches.meta"] = pickle.dumps({"label_names": list("abcdefghij")}, protocol=2)
    patch(monkeypatch, CIFAR10, local_http_server, files, "cifar-10-python.tar.gz")
    with pytest.raises(RuntimeError, match=r"data_batch_1 is not a valid CIFAR batch \(refusing to load "
                                           r"(posix|nt)\.system"):
        CIFAR10(tmp_path, download=True)
    assert not evil.marker.exists()


def test_tarball_escaping_its_root_is_refused(local_http_server, tmp_path, monkeypatch):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    blob = buf.getvalue()
    local_http_server.add_file("cifar-10-python.tar.gz", blob)
    monkeypatch.setattr(CIFAR10, "url", local_http_server.url("cifar-10-python.tar.gz"))
    monkeypatch.setattr(CIFAR10, "tgz_md5", md5(blob))
    root = tmp_path / "root"
    with pytest.raises(UnsafeArchiveError, match="escaped.txt"):
        CIFAR10(root, download=True)
    assert not (tmp_path / "escaped.txt").exists()
