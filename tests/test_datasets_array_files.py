"""SEMEION, USPS, QMNIST, STL10, PCAM (HDF5), LSUN (LMDB), MovingMNIST and PhotoTour: tiny fixtures in the
official file formats, downloaded from a 127.0.0.1 server where the dataset downloads, and compared sample
by sample with TorchVision's class on the same files."""
import bz2
import gzip
import io
import os
import pickle
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.helpers.dataset_files import image_bytes, md5, pack, same_dataset, same_sample, write_files
from tests.helpers.refs import require
from visionlite import download as dl
from visionlite.datasets.lsun import LSUN, LSUNClass
from visionlite.datasets.moving_mnist import MovingMNIST
from visionlite.datasets.pcam import PCAM
from visionlite.datasets.phototour import PhotoTour
from visionlite.datasets.qmnist import QMNIST
from visionlite.datasets.semeion import SEMEION
from visionlite.datasets.stl10 import STL10
from visionlite.datasets.usps import USPS
from visionlite.download import HashMismatchError


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(dl, "BACKOFF_BASE", 0.001)


@pytest.fixture(scope="module")
def tv():
    return require("torchvision.datasets")


# ------------------------------------------------------------------------------------------ SEMEION

def semeion_text(rng, n):
    pixels = rng.integers(0, 2, (n, 256))
    onehot = np.eye(10, dtype=int)[rng.integers(0, 10, n)]
    rows = [" ".join(f"{v}.0000" for v in p) + " " + " ".join(str(v) for v in o) + " "
            for p, o in zip(pixels, onehot)]
    return ("\n".join(rows) + "\n").encode()


def test_semeion(local_http_server, tmp_path, monkeypatch, tv):
    blob = semeion_text(np.random.default_rng(0), 5)
    url = local_http_server.url("semeion/semeion.data")
    local_http_server.add_file("semeion/semeion.data", blob)
    for cls in (SEMEION, tv.SEMEION):
        monkeypatch.setattr(cls, "url", url)
        monkeypatch.setattr(cls, "md5_checksum", md5(blob))
    ours = SEMEION(tmp_path)  # download=True by default, as TorchVision
    assert len(ours) == 5 and ours[0][0].mode == "L" and ours[0][0].size == (16, 16)
    same_dataset(ours, tv.SEMEION(tmp_path))
    SEMEION(tmp_path)
    assert local_http_server.gets("semeion/semeion.data") == 1
    (tmp_path / "semeion.data").write_bytes(blob[:-5])
    with pytest.raises(RuntimeError, match="semeion.data"):
        SEMEION(tmp_path, download=False)


# --------------------------------------------------------------------------------------------- USPS

def usps_blob(rng, n):
    lines = []
    for label in rng.integers(1, 11, n):
        values = rng.uniform(-1, 1, 256)
        lines.append(f"{label} " + " ".join(f"{i + 1}:{v:.6f}" for i, v in enumerate(values)))
    return bz2.compress(("\n".join(lines) + "\n").encode())


def test_usps(local_http_server, tmp_path, monkeypatch, tv):
    rng = np.random.default_rng(1)
    blobs = {"usps.bz2": usps_blob(rng, 4), "usps.t.bz2": usps_blob(rng, 3)}
    split_list = {}
    for split, name in (("train", "usps.bz2"), ("test", "usps.t.bz2")):
        local_http_server.add_file(name, blobs[name])
        split_list[split] = [local_http_server.url(name), name, md5(blobs[name])]
    monkeypatch.setattr(USPS, "split_list", split_list)
    ours = USPS(tmp_path, download=True)
    test = USPS(tmp_path, train=False, download=True)
    assert (len(ours), len(test)) == (4, 3) and ours.data.dtype == np.uint8
    assert all(0 <= t <= 9 for t in ours.targets)
    same_dataset(ours, tv.USPS(tmp_path))
    same_dataset(test, tv.USPS(tmp_path, train=False))
    with pytest.raises(RuntimeError, match="usps.bz2"):
        USPS(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "usps.bz2").write_bytes(b"not bz2")
    with pytest.raises(RuntimeError, match="usps.bz2"):
        USPS(tmp_path / "bad")


# ------------------------------------------------------------------------------------------- QMNIST

def idx_bytes(arr, code):
    header = bytes([0, 0, code, arr.ndim]) + np.array(arr.shape, ">i4").tobytes()
    return header + arr.astype({8: ">u1", 12: ">i4"}[code]).tobytes()


def test_qmnist(local_http_server, tmp_path, monkeypatch, tv):
    rng = np.random.default_rng(2)
    resources = {}
    for subset, n in (("train", 5), ("test", 6)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, (n, 8)).astype(np.int32)
        files = []
        for kind, data in (("images-idx3-ubyte", idx_bytes(images, 8)),
                           ("labels-idx2-int", idx_bytes(labels, 12))):
            name = f"qmnist-{subset}-{kind}.gz"
            blob = gzip.compress(data)
            local_http_server.add_file(name, blob)
            files.append((local_http_server.url(name), md5(blob)))
        resources[subset] = files
    monkeypatch.setattr(QMNIST, "resources", dict(QMNIST.resources, **resources))
    ours = QMNIST(tmp_path, download=True)
    assert len(ours) == 5 and ours.targets.shape == (5, 8)
    same_dataset(ours, tv.QMNIST(tmp_path))
    full = QMNIST(tmp_path, what="test", compat=False, download=True)
    theirs = tv.QMNIST(tmp_path, what="test", compat=False)
    same_dataset(full, theirs)
    assert type(full[0][1]).__name__ == "Tensor" and full[0][1].shape == (8,)
    assert len(QMNIST(tmp_path, what="test10k")) == len(tv.QMNIST(tmp_path, what="test10k")) == 6
    assert len(QMNIST(tmp_path, what="test50k")) == 0
    assert QMNIST.classes == tv.QMNIST.classes
    with pytest.raises(ValueError, match="what"):
        QMNIST(tmp_path, what="val")
    with pytest.raises(RuntimeError, match="xnist-images-idx3-ubyte"):
        QMNIST(tmp_path, what="nist")


# -------------------------------------------------------------------------------------------- STL10

def stl10_files(rng, folder):
    def images(n):
        return rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8).tobytes()

    files = {"train_X.bin": images(4), "train_y.bin": rng.integers(1, 11, 4, dtype=np.uint8).tobytes(),
             "unlabeled_X.bin": images(3), "test_X.bin": images(2),
             "test_y.bin": rng.integers(1, 11, 2, dtype=np.uint8).tobytes(),
             "class_names.txt": "\n".join(f"class{i}" for i in range(10)) + "\n",
             "fold_indices.txt": "\n".join(" ".join(str(j) for j in rng.permutation(4)[:2])
                                           for _ in range(10))}
    return write_files(folder / "stl10_binary", files)


def test_stl10(local_http_server, tmp_path, monkeypatch, tv):
    src = stl10_files(np.random.default_rng(3), tmp_path / "src")
    blob = pack(tmp_path / "src", tmp_path / "stl10_binary.tar.gz")
    local_http_server.add_file("stl10_binary.tar.gz", blob)
    checks = {name: md5((src / name).read_bytes()) for name in
              ("train_X.bin", "train_y.bin", "unlabeled_X.bin", "test_X.bin", "test_y.bin")}
    for cls in (STL10, tv.STL10):
        monkeypatch.setattr(cls, "train_list", [[n, checks[n]] for n in ("train_X.bin", "train_y.bin",
                                                                          "unlabeled_X.bin")])
        monkeypatch.setattr(cls, "test_list", [[n, checks[n]] for n in ("test_X.bin", "test_y.bin")])
    monkeypatch.setattr(STL10, "url", local_http_server.url("stl10_binary.tar.gz"))
    monkeypatch.setattr(STL10, "tgz_md5", md5(blob))
    root = tmp_path / "root"
    for split, folds, n in (("train", None, 4), ("train", 3, 2), ("train+unlabeled", 1, 5),
                            ("unlabeled", None, 3), ("test", None, 2)):
        ours = STL10(root, split=split, folds=folds, download=True)
        assert len(ours) == n and ours.classes == [f"class{i}" for i in range(10)]
        same_dataset(ours, tv.STL10(root, split=split, folds=folds))
    assert STL10(root, split="unlabeled")[0][1] == -1
    assert local_http_server.gets("stl10_binary.tar.gz") == 1
    with pytest.raises(ValueError, match="folds"):
        STL10(root, folds=10)
    (root / "stl10_binary" / "test_y.bin").write_bytes(b"\x01")
    with pytest.raises(RuntimeError, match="test_y.bin"):
        STL10(root, split="test")


# --------------------------------------------------------------------------------------------- PCAM

def test_pcam(local_http_server, tmp_path, monkeypatch, tv):
    h5py = pytest.importorskip("h5py", reason="the hdf5 extra (h5py)")
    rng = np.random.default_rng(4)
    files = {}
    for kind, key, data in (("x", "x", rng.integers(0, 256, (3, 96, 96, 3), dtype=np.uint8)),
                            ("y", "y", rng.integers(0, 2, (3, 1, 1, 1), dtype=np.uint8))):
        path = tmp_path / f"camelyonpatch_level_2_split_valid_{kind}.h5"
        with h5py.File(path, "w") as f:
            f.create_dataset(key, data=data)
        files[kind] = gzip.compress(path.read_bytes())
    table = {k: dict(v) for k, v in PCAM._FILES.items()}
    for kind, role in (("x", "images"), ("y", "targets")):
        name, file_id, _ = table["val"][role]
        local_http_server.add_file(f"drive/{file_id}", files[kind])
        table["val"][role] = (name, file_id, md5(files[kind]))
    monkeypatch.setattr(PCAM, "_FILES", table)
    monkeypatch.setattr(PCAM, "_DRIVE_URL", local_http_server.url("drive/{}"))
    ours = PCAM(tmp_path / "root", split="val", download=True)
    assert len(ours) == 3 and ours[0][0].size == (96, 96)
    same_dataset(ours, tv.PCAM(tmp_path / "root", split="val"))
    assert not list((tmp_path / "root" / "pcam").glob("*.gz"))
    same_sample(pickle.loads(pickle.dumps(ours))[2], ours[2])  # DataLoader workers get a copy
    with pytest.raises(RuntimeError, match="camelyonpatch_level_2_split_test_x.h5"):
        PCAM(tmp_path / "root", split="test")
    (tmp_path / "root" / "pcam" / "camelyonpatch_level_2_split_valid_x.h5").write_bytes(b"junk")
    with pytest.raises(RuntimeError, match="camelyonpatch_level_2_split_valid_x.h5"):
        PCAM(tmp_path / "root", split="val")[0]


@pytest.mark.parametrize("module, extra, make", [("h5py", "hdf5", lambda root: PCAM(root)),
                                                 ("lmdb", "lmdb", lambda root: LSUNClass(str(root)))])
def test_missing_extra_names_it(tmp_path, monkeypatch, module, extra, make):
    import builtins

    real_import = builtins.__import__

    def without(name, *args, **kwargs):
        if name == module:
            raise ImportError(f"no {module}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without)
    with pytest.raises(RuntimeError, match=rf'pip install "visionlite\[{extra}\]"'):
        make(tmp_path)


# --------------------------------------------------------------------------------------------- LSUN

def write_lmdb(path, images):
    lmdb = pytest.importorskip("lmdb", reason="the lmdb extra")
    env = lmdb.open(str(path), map_size=1 << 22)
    with env.begin(write=True) as txn:
        for key, data in images.items():
            txn.put(key, data)
    env.close()


def test_lsun(tmp_path, monkeypatch, tv):
    monkeypatch.chdir(tmp_path)  # TorchVision's LSUNClass leaves a key cache in the working directory
    for c, n in (("bedroom_val", 2), ("tower_val", 3), ("kitchen_val", 2)):
        write_lmdb(tmp_path / f"{c}_lmdb", {f"{c}{i:03d}".encode(): image_bytes(i + n, fmt="JPEG")
                                            for i in range(n)})
    shutil.copytree(tmp_path, tmp_path.parent / (tmp_path.name + "_tv"))  # lmdb opens a database once
    theirs_root = tmp_path.parent / (tmp_path.name + "_tv")
    ours = LSUN(tmp_path, classes=["bedroom_val", "tower_val"])
    theirs = tv.LSUN(str(theirs_root), classes=["bedroom_val", "tower_val"])
    assert len(ours) == 5 and [ours[i][1] for i in range(5)] == [0, 0, 1, 1, 1]
    same_dataset(ours, theirs)
    clone = pickle.loads(pickle.dumps(ours.dbs[1]))
    expected = ours.dbs[1][2]
    ours.dbs[1].env.close()
    same_sample(clone[2], expected)
    one = LSUNClass(str(tmp_path / "kitchen_val_lmdb"))
    same_dataset(one, tv.LSUNClass(str(theirs_root / "kitchen_val_lmdb")))
    assert one[0][1] is None
    with pytest.raises(ValueError, match="LSUN class"):
        LSUN(tmp_path, classes=["attic_val"])
    with pytest.raises(ValueError, match="postfix"):
        LSUN(tmp_path, classes=["bedroom_dev"])
    with pytest.raises(RuntimeError, match="church_outdoor_val_lmdb"):
        LSUN(tmp_path, classes="val")


# -------------------------------------------------------------------------------------- MovingMNIST

def test_moving_mnist(local_http_server, tmp_path, monkeypatch, tv):
    data = np.random.default_rng(5).integers(0, 256, (20, 3, 64, 64), dtype=np.uint8)
    buf = io.BytesIO()
    np.save(buf, data)
    local_http_server.add_file("mnist_test_seq.npy", buf.getvalue())
    monkeypatch.setattr(MovingMNIST, "_URL", local_http_server.url("mnist_test_seq.npy"))
    monkeypatch.setattr(MovingMNIST, "_MD5", md5(buf.getvalue()))
    for split, ratio in ((None, 10), ("train", 7), ("test", 7)):
        ours = MovingMNIST(tmp_path, split=split, split_ratio=ratio, download=True)
        same_dataset(ours, tv.MovingMNIST(tmp_path, split=split, split_ratio=ratio))
    assert ours[0].shape == (13, 1, 64, 64)
    with pytest.raises(ValueError, match="split_ratio"):
        MovingMNIST(tmp_path, split_ratio=20)
    with pytest.raises(RuntimeError, match="mnist_test_seq.npy"):
        MovingMNIST(tmp_path / "none")


# ---------------------------------------------------------------------------------------- PhotoTour

def phototour_zip(rng, folder):
    sheets = {f"patches{i:04d}.bmp": rng.integers(0, 256, (128, 192), dtype=np.uint8) for i in range(2)}
    files = {}
    for name, arr in sheets.items():
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="BMP")
        files[name] = buf.getvalue()
    files["info.txt"] = "".join(f"{rng.integers(0, 4)} 0\n" for _ in range(10))
    files["m50_100000_100000_0.txt"] = "".join(
        f"{a} {rng.integers(0, 3)} 0 {b} {rng.integers(0, 3)} 0 0\n" for a, b in rng.integers(0, 10, (6, 2)))
    write_files(folder, files)
    return pack(folder, folder.parent / "notredame_harris.zip")


@pytest.mark.filterwarnings("ignore:Image.Image.getdata:DeprecationWarning")  # inside TorchVision's reader
def test_phototour(local_http_server, tmp_path, monkeypatch, tv):
    blob = phototour_zip(np.random.default_rng(6), tmp_path / "src")
    local_http_server.add_file("notredame_harris.zip", blob)
    urls = dict(PhotoTour.urls, notredame_harris=[local_http_server.url("notredame_harris.zip"),
                                                  "notredame_harris.zip", md5(blob)])
    monkeypatch.setattr(PhotoTour, "urls", urls)
    for cls in (PhotoTour, tv.PhotoTour):
        monkeypatch.setattr(cls, "lens", dict(cls.lens, notredame_harris=10))
    root = tmp_path / "root"
    ours = PhotoTour(root, "notredame_harris", download=True)
    assert len(ours) == 10 and ours[0].shape == (64, 64) and not (root / "notredame_harris.zip").exists()
    theirs_root = tmp_path / "theirs"
    shutil.copytree(root / "notredame_harris", theirs_root / "notredame_harris")
    same_dataset(ours, tv.PhotoTour(str(theirs_root), "notredame_harris"))
    test = PhotoTour(root, "notredame_harris", train=False)
    same_dataset(test, tv.PhotoTour(str(theirs_root), "notredame_harris", train=False))
    theirs_labels = tv.PhotoTour(str(theirs_root), "notredame_harris").labels
    np.testing.assert_array_equal(test.labels.numpy(), theirs_labels.numpy())
    assert os.path.exists(root / "notredame_harris.npz")
    with pytest.raises(RuntimeError, match="liberty"):
        PhotoTour(root, "liberty")


def test_corrupt_download_is_refused(local_http_server, tmp_path, monkeypatch):
    local_http_server.add_file("semeion/semeion.data", b"garbage")
    monkeypatch.setattr(SEMEION, "url", local_http_server.url("semeion/semeion.data"))
    with pytest.raises(HashMismatchError):
        SEMEION(tmp_path)
    assert not (tmp_path / "semeion.data").exists()
