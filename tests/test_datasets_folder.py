"""ImageFolder / DatasetFolder against TorchVision on the same tree, FakeData, the bundled Digits, the
VisionDataset repr, and an ImageFolder read through DataLoader workers."""
import csv
import gzip
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import visionlite as vl
from tests.helpers.refs import require
from visionlite import data
from visionlite.datasets import DatasetFolder, Digits, FakeData, ImageFolder, VisionDataset


def save_image(path, seed, size=(5, 4), fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format=fmt)


@pytest.fixture
def tree(tmp_path):
    """Classes whose plain-string order differs from a natural sort; extra files that must be ignored."""
    root = tmp_path / "tree"
    for i, rel in enumerate(["b/1.png", "b/sub/2.PNG", "B/3.bmp", "10/4.png", "9/5.png", "a_cls/6.png"]):
        save_image(root / rel, i, fmt="PNG" if rel.lower().endswith("png") else None)
    (root / "b" / "notes.txt").write_text("not an image")
    (root / "stray.png").write_bytes((root / "b" / "1.png").read_bytes())  # a file in the root: not a class
    return root


def test_image_folder_matches_torchvision(tree):
    tv_datasets = require("torchvision.datasets")
    ours, theirs = ImageFolder(tree), tv_datasets.ImageFolder(tree)
    assert ours.classes == theirs.classes == ["10", "9", "B", "a_cls", "b"]
    assert ours.class_to_idx == theirs.class_to_idx
    assert ours.samples == theirs.samples and ours.targets == theirs.targets and ours.imgs == ours.samples
    for i in range(len(ours)):
        (img, t), (ref, ref_t) = ours[i], theirs[i]
        assert t == ref_t and img.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(img), np.asarray(ref))
    assert repr(ours).splitlines()[:3] == repr(theirs).splitlines()[:3]


def test_dataset_folder_options_match_torchvision(tree):
    tv_datasets = require("torchvision.datasets")
    def first_byte(path):
        return Path(path).read_bytes()[:1]

    for kwargs in (dict(extensions=(".bmp",), allow_empty=True), dict(is_valid_file=lambda p: "sub" in p,
                                                                       allow_empty=True)):
        ours = DatasetFolder(tree, first_byte, **kwargs)
        theirs = tv_datasets.DatasetFolder(tree, first_byte, **kwargs)
        assert ours.samples == theirs.samples and ours[0] == theirs[0]


def test_folder_errors_are_clear(tree, tmp_path):
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes 10, 9, a_cls, b"):
        DatasetFolder(tree, str, extensions=(".bmp",))
    with pytest.raises(ValueError, match="Both extensions and is_valid_file"):
        DatasetFolder(tree, str, extensions=(".png",), is_valid_file=bool)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder in .*empty"):
        ImageFolder(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageFolder(tmp_path / "missing")
    (tree / "c").mkdir()
    with pytest.raises(FileNotFoundError, match="classes c.*allow_empty"):
        ImageFolder(tree)
    assert "c" in ImageFolder(tree, allow_empty=True).classes


def test_unreadable_image_names_its_file(tree):
    bad = tree / "b" / "0_broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage")
    ds = ImageFolder(tree)
    index = ds.samples.index((str(bad), ds.class_to_idx["b"]))
    with pytest.raises(OSError, match="0_broken.png"):
        ds[index]
    save_image(tree / "9" / "full.jpg", 9, size=(64, 64))
    data = (tree / "9" / "full.jpg").read_bytes()
    (tree / "9" / "cut.jpg").write_bytes(data[: len(data) // 2])
    ds = ImageFolder(tree)
    with pytest.raises(OSError, match="cut.jpg"):
        ds[ds.samples.index((str(tree / "9" / "cut.jpg"), ds.class_to_idx["9"]))]


def test_image_over_pils_size_limit_names_its_file(tree, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5)  # the 5x4 test images are then "decompression bombs"
    ds = ImageFolder(tree)
    with pytest.raises(Image.DecompressionBombError, match="MAX_IMAGE_PIXELS") as info:
        ds[0]
    assert ds.samples[0][0] in str(info.value)


def test_fake_data():
    ds = FakeData(size=5, image_size=(3, 6, 4), num_classes=3, transform=np.asarray)
    img, target = ds[2]
    assert img.shape == (6, 4, 3) and img.dtype == np.uint8 and 0 <= target < 3
    np.testing.assert_array_equal(ds[2][0], img)  # the same item every time
    assert not np.array_equal(ds[3][0], img)
    assert not np.array_equal(FakeData(5, (3, 6, 4), random_offset=1, transform=np.asarray)[2][0], img)
    assert FakeData(2, (1, 3, 3))[0][0].mode == "L" and len(ds) == 5
    many = FakeData(40, (1, 2, 2), num_classes=3)
    assert {many[i][1] for i in range(40)} == {0, 1, 2}
    with pytest.raises(IndexError):
        ds[5]
    with pytest.raises(ValueError, match="image_size"):
        FakeData(image_size=(2, 4, 4))


def _digits_from_csv():
    """The shipped file parsed here with the csv module, independently of the dataset code."""
    path = Path(__file__).resolve().parents[1] / "visionlite" / "datasets" / "data" / "digits.csv.gz"
    with gzip.open(path, "rt") as f:
        rows = [[int(v) for v in row] for row in csv.reader(f)]
    return rows


def test_digits():
    rows = _digits_from_csv()
    seen, test_rows, train_rows = {}, [], []
    for row in rows:  # of each class, every fifth digit in file order is a test digit
        seen[row[64]] = seen.get(row[64], 0) + 1
        (test_rows if seen[row[64]] % 5 == 0 else train_rows).append(row)
    train, test = Digits(train=True), Digits(train=False)
    assert (len(train), len(test)) == (len(train_rows), len(test_rows)) == (1442, 355)
    assert train.data.shape == (1442, 8, 8) and train.data.dtype == vl.uint8
    assert train.targets.dtype == vl.int64
    assert test.targets.tolist() == [r[64] for r in test_rows]
    for ds, index, row in ((train, 0, train_rows[0]), (train, 900, train_rows[900]), (test, 0, test_rows[0]),
                           (test, 354, test_rows[354])):
        img, label = ds[index]
        assert img.mode == "L" and img.size == (8, 8) and label == row[64] and isinstance(label, int)
        expected = np.array([round(v * 255 / 16) for v in row[:64]], dtype=np.uint8).reshape(8, 8)
        np.testing.assert_array_equal(np.asarray(img), expected)
    assert train.classes == [str(d) for d in range(10)] and train.data.numpy().max() == 255  # 16 -> white


class _Named:
    def __init__(self, name):
        self.name = name

    def __call__(self, x):
        return x

    def __repr__(self):
        return f"{self.name}(\n    inner\n)"


def test_vision_dataset_repr_matches_torchvision():
    tv_datasets = require("torchvision.datasets")
    body = {"__len__": lambda self: 3, "extra_repr": lambda self: "Split: Train"}
    ours = type("Toy", (VisionDataset,), body)
    theirs = type("Toy", (tv_datasets.VisionDataset,), body)
    for kwargs in (dict(transform=_Named("T")), dict(transform=_Named("T"), target_transform=_Named("U")),
                   dict(transforms=_Named("Both")), dict()):
        assert repr(ours("~/data", **kwargs)) == repr(theirs("~/data", **kwargs))
    assert ours(os.path.join("~", "x")).root == os.path.expanduser(os.path.join("~", "x"))


def to_array(img):
    return np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255


def test_image_folder_through_worker_processes(tree):
    ds = ImageFolder(tree, transform=to_array)
    batches = list(data.DataLoader(ds, batch_size=2, num_workers=2))
    labels = np.concatenate([b[1].numpy() for b in batches])
    assert labels.tolist() == ds.targets
    assert batches[0][0].shape == (2, 3, 4, 5) and batches[0][0].dtype == vl.float32
    np.testing.assert_allclose(batches[0][0].numpy()[1], ds[1][0])


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_folder_links_are_followed_once_and_loops_end(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    save_image(root / "cat" / "a.png", 0, fmt="PNG")
    save_image(root / "cat" / "deep" / "b.png", 1, fmt="PNG")
    save_image(root / "dog" / "c.png", 2, fmt="PNG")
    save_image(outside / "d.png", 3, fmt="PNG")
    os.symlink(root / "cat", root / "cat" / "deep" / "loop")  # a loop back to an ancestor
    os.symlink(root / "dog", root / "dog" / "self")  # a loop to itself
    os.symlink(outside, root / "dog" / "ext1")  # an outside folder, linked twice: read once
    os.symlink(outside, root / "dog" / "ext2")
    ds = ImageFolder(root)
    assert ds.samples == [
        (str(root / "cat" / "a.png"), 0),
        (str(root / "cat" / "deep" / "b.png"), 0),
        (str(root / "dog" / "c.png"), 1),
        (str(root / "dog" / "ext1" / "d.png"), 1),
    ]
    assert len(DatasetFolder(root, lambda p: p, extensions=(".png",))) == 4
