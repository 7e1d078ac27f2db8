"""ImageNet from tiny archives in the official ILSVRC2012 layout (devkit with a MATLAB struct-array
meta.mat written by scipy, a train tar of per-class tars, a flat val tar), against TorchVision; and the
MATLAB reader's struct/cell support against scipy.io.loadmat."""
import hashlib
import tarfile

import numpy as np
import pytest

from tests.helpers.dataset_fixtures import assert_same_dataset, tar_bytes, write, write_image
from tests.helpers.refs import require
from visionlite import datasets
from visionlite.datasets import imagenet
from visionlite.datasets._matlab import load_mat

tvd = require("torchvision.datasets")
sio = require("scipy.io")

_FIELDS = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children", "wordnet_height",
           "num_train_images"]
# (id, wnid, words, number of children): three leaf classes and one inner node, as in the real devkit.
_SYNSETS = [(1, "n01440764", "tench, Tinca tinca", 0), (2, "n01443537", "goldfish, Carassius auratus", 0),
            (3, "n01484850", "great white shark, white shark, man-eater", 0), (4, "n00001740", "entity", 3)]


def _meta_mat(path, compress):
    synsets = np.empty((len(_SYNSETS), 1), dtype=[(f, "O") for f in _FIELDS])
    for i, (idx, wnid, words, children) in enumerate(_SYNSETS):
        kids = np.arange(1, children + 1, dtype=np.float64).reshape(1, -1) if children else np.zeros((1, 0))
        synsets[i, 0] = (idx, wnid, words, f"gloss of {wnid}", children, kids, children > 0, 1300)
    sio.savemat(path, {"synsets": synsets}, do_compression=compress)


@pytest.mark.parametrize("compress", [False, True])
def test_matlab_structs_and_cells_match_scipy(tmp_path, compress):
    _meta_mat(tmp_path / "meta.mat", compress)
    cells = np.empty((1, 3), dtype=object)
    cells[0, 0], cells[0, 1], cells[0, 2] = "text", np.arange(4.0).reshape(2, 2), np.zeros((0, 0))
    sio.savemat(tmp_path / "c.mat", {"c": cells}, do_compression=compress)
    ours = load_mat(tmp_path / "meta.mat", structs=True)["synsets"]
    ref = sio.loadmat(tmp_path / "meta.mat")["synsets"]
    assert ours.shape == ref.shape
    for a, b in zip(ours.reshape(-1), ref.reshape(-1)):
        for field in _FIELDS:
            x, y = a[field], b[field]
            if y.dtype.kind == "U":
                assert list(x) == list(y)
            else:
                assert x.shape == y.shape and x.dtype == y.dtype
                np.testing.assert_array_equal(x, y)
    got, want = load_mat(tmp_path / "c.mat", structs=True)["c"], sio.loadmat(tmp_path / "c.mat")["c"]
    assert got.shape == want.shape == (1, 3) and list(got[0, 0]) == ["text"]
    np.testing.assert_array_equal(got[0, 1], want[0, 1])
    assert got[0, 2].size == 0
    assert "c" not in load_mat(tmp_path / "c.mat")  # without structs=True, cells are skipped as before


def _archives(tmp_path):
    """The three ILSVRC2012 archives (bytes) and the expected val labels."""
    dev = tmp_path / "dev" / "ILSVRC2012_devkit_t12" / "data"
    dev.mkdir(parents=True)
    _meta_mat(dev / "meta.mat", compress=True)
    val_ids = [3, 1, 1, 2, 3]
    write(dev / "ILSVRC2012_validation_ground_truth.txt", "".join(f"{i}\n" for i in val_ids))
    devkit = tar_bytes(tmp_path / "dev")
    inner = tmp_path / "inner"
    for c, (_, wnid, _, children) in enumerate(_SYNSETS):
        if children:
            continue
        for k in range(2 + c % 2):
            write_image(tmp_path / "cls" / wnid / f"{wnid}_{k + 1}.JPEG", 10 * c + k)
        write(inner / f"{wnid}.tar", tar_bytes(tmp_path / "cls" / wnid, mode="w"))
    train = tar_bytes(inner, mode="w")
    for i in range(len(val_ids)):
        write_image(tmp_path / "val" / f"ILSVRC2012_val_{i + 1:08d}.JPEG", 100 + i)
    val = tar_bytes(tmp_path / "val", mode="w")
    return {"devkit": devkit, "train": train, "val": val}, val_ids


@pytest.fixture
def imagenet_roots(tmp_path, monkeypatch):
    blobs, val_ids = _archives(tmp_path)
    meta = {k: (imagenet.ARCHIVE_META[k][0], hashlib.md5(b).hexdigest()) for k, b in blobs.items()}
    monkeypatch.setattr(imagenet, "ARCHIVE_META", meta)
    monkeypatch.setattr(require("torchvision.datasets.imagenet"), "ARCHIVE_META", meta)
    roots = []
    for name in ("a", "b"):
        for key, blob in blobs.items():
            write(tmp_path / name / meta[key][0], blob)
        roots.append(tmp_path / name)
    return roots, val_ids


def test_imagenet_matches_torchvision(imagenet_roots):
    (a, b), val_ids = imagenet_roots
    for split in ("train", "val"):
        ours = datasets.ImageNet(a, split=split)  # visionlite unpacks root a, TorchVision reads it
        theirs = tvd.ImageNet(a, split=split)
        assert_same_dataset(ours, theirs, ["classes", "class_to_idx", "wnids", "wnid_to_idx", "targets"])
        ref = tvd.ImageNet(b, split=split)  # TorchVision unpacks root b (its meta.bin), visionlite reads it
        assert_same_dataset(datasets.ImageNet(b, split=split), ref, ["classes", "class_to_idx", "targets"])
    assert ours.classes[2] == ("great white shark", "white shark", "man-eater")
    assert ours.targets == sorted(i - 1 for i in val_ids)
    assert not list((a / "train").glob("*.tar"))  # inner tarballs removed once unpacked
    assert "Split: val" in repr(ours)


def test_imagenet_missing_and_corrupt_archives(imagenet_roots, tmp_path):
    (a, _), _ = imagenet_roots
    (a / "ILSVRC2012_img_val.tar").write_bytes(b"truncated")
    with pytest.raises(RuntimeError, match="ILSVRC2012_img_val.tar .*image-net.org"):
        datasets.ImageNet(a, split="val")
    with pytest.raises(RuntimeError, match="ILSVRC2012_devkit_t12.tar.gz"):
        datasets.ImageNet(tmp_path / "nothing")
    with pytest.raises(ValueError, match="split"):
        datasets.ImageNet(a, split="test")
    with tarfile.open(a / "ILSVRC2012_devkit_t12.tar.gz") as tar:
        assert "ILSVRC2012_devkit_t12/data/meta.mat" in tar.getnames()
