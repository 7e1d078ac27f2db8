"""Optical-flow datasets and their file readers (.flo, PFM, KITTI 16-bit PNG): tiny fixtures in the official
layouts, loaded by visionlite and by TorchVision's classes on the same files and compared item by item."""
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.helpers.refs import require
from visionlite.datasets import HD1K, FlyingChairs, FlyingThings3D, KittiFlow, Sintel
from visionlite.datasets._flow_io import read_16bit_png_flow, read_flo, read_pfm, write_flo, write_pfm

# --------------------------------------------------------------------------- fixture writers


def _png16(path, rgb):
    """An RGB PNG with 16 bits per channel (Pillow cannot write these): (H, W, 3) uint16."""
    h, w, _ = rgb.shape
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in rgb)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _image(path, rng, size=(6, 5), fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path, format=fmt)


def _flow(rng, h=5, w=6):
    return rng.standard_normal((2, h, w)).astype(np.float32) * 10


def _kitti_flow_png(path, rng, h=5, w=6):
    rgb = rng.integers(0, 2**16, (h, w, 3), dtype=np.uint16)
    rgb[..., 2] = rng.integers(0, 2, (h, w))  # valid mask 0/1
    _png16(path, rgb)


def make_sintel(root, rng):
    for split, passes in (("training", ("clean", "final")), ("test", ("clean", "final"))):
        for p in passes:
            for scene, n in (("alley_1", 3), ("bamboo_2", 2)):
                for i in range(1, n + 1):
                    _image(root / "Sintel" / split / p / scene / f"frame_{i:04d}.png", rng)
    for scene, n in (("alley_1", 3), ("bamboo_2", 2)):
        for i in range(1, n):
            (root / "Sintel" / "training" / "flow" / scene).mkdir(parents=True, exist_ok=True)
            write_flo(root / "Sintel" / "training" / "flow" / scene / f"frame_{i:04d}.flo", _flow(rng))


def make_kitti(root, rng):
    for split in ("training", "testing"):
        for i in range(3):
            for j in (10, 11):
                _image(root / "KittiFlow" / split / "image_2" / f"{i:06d}_{j}.png", rng)
            if split == "training":
                _kitti_flow_png(root / "KittiFlow" / split / "flow_occ" / f"{i:06d}_10.png", rng)


def make_chairs(root, rng):
    data = root / "FlyingChairs" / "data"
    for i in range(1, 6):
        _image(data / f"{i:05d}_img1.ppm", rng, fmt="PPM")
        _image(data / f"{i:05d}_img2.ppm", rng, fmt="PPM")
        write_flo(data / f"{i:05d}_flow.flo", _flow(rng))
    (root / "FlyingChairs" / "FlyingChairs_train_val.txt").write_text("1\n2\n1\n1\n2\n")


def make_things(root, rng):
    base = root / "FlyingThings3D"
    for split in ("TRAIN", "TEST"):
        for letter, seq in (("A", "0000"), ("B", "0001")):
            for cam in ("left", "right"):
                for p in ("frames_cleanpass", "frames_finalpass"):
                    for i in range(6, 9):
                        _image(base / p / split / letter / seq / cam / f"{i:04d}.png", rng)
                for direction in ("into_future", "into_past"):
                    d = base / "optical_flow" / split / letter / seq / direction / cam
                    d.mkdir(parents=True, exist_ok=True)
                    for i in range(6, 9):
                        flow3 = np.concatenate([_flow(rng), np.zeros((1, 5, 6), np.float32)])
                        write_pfm(d / f"OpticalFlowInto{direction[5:].title()}_{i:04d}_{cam[0].upper()}.pfm",
                                  flow3, little_endian=bool(i % 2))


def make_hd1k(root, rng):
    base = root / "hd1k"
    for seq, n in ((0, 3), (1, 2)):
        for i in range(n):
            _image(base / "hd1k_input" / "image_2" / f"{seq:06d}_{i:04d}.png", rng)
            _kitti_flow_png(base / "hd1k_flow_gt" / "flow_occ" / f"{seq:06d}_{i:04d}.png", rng)
    for i in range(2):
        for j in (10, 11):
            _image(base / "hd1k_challenge" / "image_2" / f"{i:06d}_{j}.png", rng)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("flow")
    rng = np.random.default_rng(0)
    for make in (make_sintel, make_kitti, make_chairs, make_things, make_hd1k):
        make(root, rng)
    return root


# --------------------------------------------------------------------------- readers


def test_flo_round_trip_is_bit_exact(tmp_path):
    rng = np.random.default_rng(1)
    flow = rng.standard_normal((2, 7, 9)).astype(np.float32)
    flow[0, 0, 0], flow[1, 0, 0] = np.inf, -0.0  # odd values survive too
    write_flo(tmp_path / "a.flo", flow)
    raw = (tmp_path / "a.flo").read_bytes()
    assert raw[:4] == b"PIEH" and len(raw) == 12 + 7 * 9 * 8
    back = read_flo(tmp_path / "a.flo")
    assert back.dtype == np.float32 and back.shape == (2, 7, 9)
    assert back.tobytes() == flow.tobytes()
    write_flo(tmp_path / "b.flo", back)  # and writing what was read gives the same file
    assert (tmp_path / "b.flo").read_bytes() == raw


def test_readers_equal_torchvision(root, tmp_path):
    tv_flow = require("torchvision.datasets._optical_flow")
    tv_utils = require("torchvision.datasets.utils")
    flo = next((root / "Sintel" / "training" / "flow" / "alley_1").glob("*.flo"))
    np.testing.assert_array_equal(read_flo(flo), tv_flow._read_flo(str(flo)))
    for pfm in sorted((root / "FlyingThings3D" / "optical_flow").rglob("*.pfm"))[:2]:  # both byte orders
        for channels in (1, 2, 3):
            ours, ref = read_pfm(pfm, channels), tv_utils._read_pfm(str(pfm), channels)
            assert ours.dtype == ref.dtype and ours.shape == ref.shape
            np.testing.assert_array_equal(ours, ref)
    png = root / "KittiFlow" / "training" / "flow_occ" / "000000_10.png"
    flow, valid = read_16bit_png_flow(png)
    ref_flow, ref_valid = tv_flow._read_16bits_png_with_flow_and_valid_mask(str(png))
    assert flow.dtype == ref_flow.dtype and valid.dtype == ref_valid.dtype
    np.testing.assert_array_equal(flow, ref_flow)
    np.testing.assert_array_equal(valid, ref_valid)


def test_pfm_round_trip_and_disparity(tmp_path):
    disp = np.random.default_rng(2).random((1, 4, 3)).astype(np.float32)
    for little in (True, False):
        write_pfm(tmp_path / "d.pfm", disp, little_endian=little)
        np.testing.assert_array_equal(read_pfm(tmp_path / "d.pfm", slice_channels=1), disp)


def test_bad_flow_files_raise_naming_the_file(tmp_path):
    bad = tmp_path / "bad.flo"
    bad.write_bytes(b"JUNKJUNKJUNK")
    with pytest.raises(ValueError, match="bad.flo.*PIEH"):
        read_flo(bad)
    bad.write_bytes(b"PIEH" + struct.pack("<ii", 100000, 100000))  # a hostile header: no 80 GB allocation
    with pytest.raises(ValueError, match="bad.flo.*100000x100000"):
        read_flo(bad)
    bad.write_bytes(b"PIEH" + struct.pack("<ii", 4, 4) + b"\0" * 20)
    with pytest.raises(ValueError, match="truncated"):
        read_flo(bad)
    pfm = tmp_path / "bad.pfm"
    pfm.write_bytes(b"P6\n3 3\n255\n")
    with pytest.raises(ValueError, match="bad.pfm.*PF or Pf"):
        read_pfm(pfm)
    pfm.write_bytes(b"Pf\n3 3\n-1.0\n" + b"\0" * 8)
    with pytest.raises(ValueError, match="bad.pfm.*needs 36 bytes"):
        read_pfm(pfm)
    png = tmp_path / "flow.png"
    Image.new("RGB", (3, 3)).save(png)
    with pytest.raises(ValueError, match="flow.png.*16-bit"):
        read_16bit_png_flow(png)


# --------------------------------------------------------------------------- datasets against TorchVision


def _same_item(ours, ref):
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        if b is None:
            assert a is None
        elif isinstance(b, Image.Image):
            assert isinstance(a, Image.Image) and a.mode == b.mode
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        else:
            assert isinstance(a, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)


CASES = [
    ("Sintel", Sintel, dict(split="train", pass_name="clean"), 3),
    ("Sintel", Sintel, dict(split="train", pass_name="both"), 6),
    ("Sintel", Sintel, dict(split="test", pass_name="final"), 3),
    ("KittiFlow", KittiFlow, dict(split="train"), 3),
    ("KittiFlow", KittiFlow, dict(split="test"), 3),
    ("FlyingChairs", FlyingChairs, dict(split="train"), 3),
    ("FlyingChairs", FlyingChairs, dict(split="val"), 2),
    ("FlyingThings3D", FlyingThings3D, dict(split="train"), 8),
    ("FlyingThings3D", FlyingThings3D, dict(split="test", pass_name="both", camera="both"), 32),
    ("HD1K", HD1K, dict(split="train"), 3),
    ("HD1K", HD1K, dict(split="test"), 2),
]


IDS = [f"{c[0]}-{'-'.join(c[2].values())}" for c in CASES]


@pytest.mark.parametrize("name, cls, kwargs, n", CASES, ids=IDS)
def test_dataset_equals_torchvision(root, name, cls, kwargs, n):
    tv_datasets = require("torchvision.datasets")
    ours, ref = cls(str(root), **kwargs), getattr(tv_datasets, name)(str(root), **kwargs)
    assert len(ours) == len(ref) == n
    assert ours._image_list == ref._image_list and ours._flow_list == ref._flow_list
    for i in range(len(ours)):
        _same_item(ours[i], ref[i])


def test_transforms_get_all_four(root):
    seen = []

    def transforms(img1, img2, flow, valid):
        seen.append(valid)
        return img1, img2, flow, np.ones(flow.shape[1:], bool)

    item = Sintel(str(root), transforms=transforms)[0]
    assert seen == [None] and len(item) == 4 and item[3].all()
    assert len(2 * Sintel(str(root))) == 6  # __rmul__ repeats the dataset


def test_missing_layout_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Sintel"):
        Sintel(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="Kitti"):
        KittiFlow(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="FlyingChairs_train_val.txt"):
        FlyingChairs(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="FlyingThings3D"):
        FlyingThings3D(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="HD1K"):
        HD1K(str(tmp_path))
    with pytest.raises(ValueError, match="split"):
        Sintel(str(tmp_path), split="val")


def test_missing_flow_files_are_reported(tmp_path):
    rng = np.random.default_rng(3)
    make_sintel(tmp_path, rng)
    next((tmp_path / "Sintel" / "training" / "flow" / "alley_1").glob("*.flo")).unlink()
    with pytest.raises(ValueError, match="3 image pairs but 2 flow files"):
        Sintel(str(tmp_path))
    make_kitti(tmp_path, rng)
    (tmp_path / "KittiFlow" / "training" / "flow_occ" / "000001_10.png").unlink()
    with pytest.raises(ValueError, match="KittiFlow.*3 image pairs but 2"):
        KittiFlow(str(tmp_path))
