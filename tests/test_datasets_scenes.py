"""Cityscapes, SBDataset, Kitti and WIDERFace (and OxfordIIITPet's trimaps) with their v2 wrappers: fixtures
in the official layouts (PNG/JPEG images, 16-bit instance maps, polygon JSON, SBD .mat files written by
scipy, KITTI label text, WIDER FACE box lists, zips and tarballs served from 127.0.0.1), compared with
TorchVision's classes and its wrap_dataset_for_transforms_v2 on the same files."""
import io
import json
import pickle
import zipfile

import numpy as np
import pytest
from PIL import Image

from tests.helpers.dataset_files import image_bytes, md5, pack, same_dataset, same_sample, write_files
from tests.helpers.refs import require
from visionlite import download as dl
from visionlite.datasets import wrap_dataset_for_transforms_v2 as wrap
from visionlite.datasets.cityscapes import Cityscapes
from visionlite.datasets.kitti import Kitti
from visionlite.datasets.oxford_iiit_pet import OxfordIIITPet
from visionlite.datasets.sbd import SBDataset
from visionlite.datasets.widerface import WIDERFace


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(dl, "BACKOFF_BASE", 0.001)


@pytest.fixture(scope="module")
def tv():
    return require("torchvision.datasets")


def same_wrapped(ours, theirs):
    """Wrapped samples: tv_tensors of the same class, dtype, values (and canvas/format for boxes)."""
    torch = require("torch")
    if isinstance(theirs, dict):
        assert set(ours) == set(theirs)
        for k in theirs:
            same_wrapped(ours[k], theirs[k])
    elif isinstance(theirs, (tuple, list)):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            same_wrapped(a, b)
    elif isinstance(theirs, torch.Tensor):
        assert type(ours).__name__ == type(theirs).__name__, (type(ours), type(theirs))
        a, b = ours.numpy(), theirs.numpy()
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
        np.testing.assert_array_equal(a, b)
        if hasattr(theirs, "canvas_size"):
            assert tuple(ours.canvas_size) == tuple(theirs.canvas_size)
            assert ours.format.name == theirs.format.name
    else:
        same_sample(ours, theirs)


def same_wrapped_dataset(ours, theirs, **kwargs):
    ours, theirs = wrap(ours, **kwargs), require("torchvision.datasets").wrap_dataset_for_transforms_v2(
        theirs, **kwargs)
    assert len(ours) == len(theirs)
    for i in range(len(theirs)):
        same_wrapped(ours[i], theirs[i])


def png16(arr):
    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint16)).save(buf, format="PNG")
    return buf.getvalue()


# --------------------------------------------------------------------------------------- Cityscapes

def cityscapes_files(rng, mode, split, cities=("aachen", "bochum"), per_city=2):
    gt = "gtFine" if mode == "fine" else "gtCoarse"
    files = {}
    for city in cities:
        for k in range(per_city):
            stem = f"{city}_{k:06d}_000019"
            seed = int(rng.integers(1e6))
            files[f"leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png"] = image_bytes(seed, (8, 6))
            inst = rng.choice(np.array([0, 7, 26001, 26002, 24000]), (6, 8))
            files[f"{gt}/{split}/{city}/{stem}_{gt}_instanceIds.png"] = png16(inst)
            files[f"{gt}/{split}/{city}/{stem}_{gt}_labelIds.png"] = image_bytes(seed + 1, (8, 6), "L")
            rgba = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (6, 8, 4), dtype=np.uint8), "RGBA").save(rgba, format="PNG")
            files[f"{gt}/{split}/{city}/{stem}_{gt}_color.png"] = rgba.getvalue()
            files[f"{gt}/{split}/{city}/{stem}_{gt}_polygons.json"] = json.dumps(
                {"imgHeight": 6, "imgWidth": 8,
                 "objects": [{"label": "car", "polygon": [[0, 0], [3, 1], [2, 4]]}]})
    return files


def check_instance_wrapper(wrapped, theirs):
    """TorchVision's wrapper fails on 16-bit instance maps (torch has no uint16 comparisons), so the
    wrapped instances are checked against cityscapesScripts' definition on TorchVision's loaded map: one
    mask per distinct id, labelled id // 1000 for ids >= 1000, else the id."""
    for i in range(len(theirs)):
        image, target = wrapped[i]
        ids_map = np.asarray(theirs[i][1]).astype(np.int64)
        ids = np.unique(ids_map)
        assert type(target["masks"]).__name__ == "Mask"
        masks = target["masks"].numpy().reshape(len(ids), *ids_map.shape)
        np.testing.assert_array_equal(masks, ids_map[None] == ids[:, None, None])
        np.testing.assert_array_equal(target["labels"].numpy(), np.where(ids >= 1000, ids // 1000, ids))
        np.testing.assert_array_equal(np.asarray(image), np.asarray(theirs[i][0]))


def test_cityscapes(tmp_path, tv):
    rng = np.random.default_rng(0)
    fine = write_files(tmp_path / "src_fine", cityscapes_files(rng, "fine", "val"))
    root = tmp_path / "root"
    root.mkdir()
    # The fine set comes as the two zips of the sign-up download; the dataset extracts them itself.
    with zipfile.ZipFile(root / "leftImg8bit_trainvaltest.zip", "w") as a, \
            zipfile.ZipFile(root / "gtFine_trainvaltest.zip", "w") as b:
        for p in sorted(fine.rglob("*")):
            if p.is_file():
                (a if p.relative_to(fine).parts[0] == "leftImg8bit" else b).write(p, str(p.relative_to(fine)))
    write_files(root, cityscapes_files(rng, "coarse", "train_extra", cities=("erfurt",)))
    for mode, split in (("fine", "val"), ("coarse", "train_extra")):
        for target_type in ("instance", "semantic", "color", "polygon", ["polygon", "semantic", "instance"]):
            ours = Cityscapes(root, split=split, mode=mode, target_type=target_type)
            theirs = tv.Cityscapes(root, split=split, mode=mode, target_type=target_type)
            assert len(ours) == (4 if mode == "fine" else 2)
            same_dataset(ours, theirs)
            if target_type == "semantic":
                same_wrapped_dataset(ours, theirs)
            if target_type == "instance":
                check_instance_wrapper(wrap(ours), theirs)
    assert Cityscapes.classes == tv.Cityscapes.classes
    with pytest.raises(RuntimeError, match="not supported"):
        wrap(Cityscapes(root, split="val", target_type="color"))
    with pytest.raises(ValueError, match="split"):
        Cityscapes(root, split="train_extra", mode="fine")
    with pytest.raises(RuntimeError, match="leftImg8bit_trainvaltest.zip"):
        Cityscapes(root, split="test")


# ------------------------------------------------------------------------------------------------ SBD

def sbd_sources(tmp_path, rng):
    sio, sparse = require("scipy.io"), require("scipy.sparse")
    base = tmp_path / "sbd_src" / "benchmark_RELEASE" / "dataset"
    stems = [f"2008_{i:06d}" for i in range(4)]
    for i, stem in enumerate(stems):
        h, w = int(rng.integers(3, 7)), int(rng.integers(3, 7))
        boundaries = [[sparse.csc_matrix(rng.integers(0, 2, (h, w)).astype(np.uint8))] for _ in range(20)]
        seg = rng.integers(0, 21, (h, w)).astype(np.uint8)
        (base / "cls").mkdir(parents=True, exist_ok=True)
        sio.savemat(base / "cls" / f"{stem}.mat",
                    {"GTcls": {"Boundaries": boundaries, "Segmentation": seg,
                               "CategoriesPresent": np.array([[1]])}},
                    do_compression=bool(i % 2))
        write_files(base / "img", {f"{stem}.jpg": image_bytes(i, (w, h), fmt="JPEG")})
    write_files(base, {"train.txt": "\n".join(stems[:3]) + "\n", "val.txt": stems[3] + "\n",
                       "inst/README": "instance annotations"})
    return tmp_path / "sbd_src", "".join(s + "\n" for s in (stems[0], stems[2]))


def test_sbd(local_http_server, tmp_path, monkeypatch, tv):
    src, noval = sbd_sources(tmp_path, np.random.default_rng(1))
    blob = pack(src, tmp_path / "benchmark.tgz")
    local_http_server.add_file("benchmark.tgz", blob)
    local_http_server.add_file("train_noval.txt", noval.encode())
    monkeypatch.setattr(SBDataset, "url", local_http_server.url("benchmark.tgz"))
    monkeypatch.setattr(SBDataset, "md5", md5(blob))
    monkeypatch.setattr(SBDataset, "voc_train_url", local_http_server.url("train_noval.txt"))
    monkeypatch.setattr(SBDataset, "voc_split_md5", md5(noval.encode()))
    root = tmp_path / "root"
    SBDataset(root, image_set="train_noval", download=True)
    for image_set, n in (("train", 3), ("val", 1), ("train_noval", 2)):
        for mode in ("boundaries", "segmentation"):
            ours = SBDataset(root, image_set=image_set, mode=mode)
            theirs = tv.SBDataset(root, image_set, mode)
            assert len(ours) == n
            same_dataset(ours, theirs)
        same_wrapped_dataset(ours, theirs)
    assert ours[0][1].size == ours[0][0].size
    assert SBDataset(root)[0][1].shape[0] == 20
    with pytest.raises(RuntimeError, match="boundaries"):
        wrap(SBDataset(root))
    (root / "cls" / "2008_000003.mat").write_bytes(b"MATLAB 5.0".ljust(200, b" "))
    with pytest.raises((RuntimeError, ValueError), match="2008_000003.mat"):
        SBDataset(root, image_set="val")[0]
    with pytest.raises(RuntimeError, match="train.txt"):
        SBDataset(tmp_path / "nothing")


# ---------------------------------------------------------------------------------------------- Kitti

KITTI_LINES = ["Pedestrian 0.00 0 -0.20 712.40 143.00 810.73 307.92 1.89 0.48 1.20 1.84 1.47 8.41 0.01",
               "Car 0.88 3 -0.69 0.00 192.37 402.31 374.00 1.60 1.57 3.23 -2.70 1.74 3.68 -1.29",
               "DontCare -1 -1 -10 605.00 167.00 621.00 180.00 -1 -1 -1 -1000 -1000 -1000 -10"]


def test_kitti(local_http_server, tmp_path, monkeypatch, tv):
    images = write_files(tmp_path / "img", {
        **{f"training/image_2/{i:06d}.png": image_bytes(i, (20, 12)) for i in range(3)},
        **{f"testing/image_2/{i:06d}.png": image_bytes(10 + i, (20, 12)) for i in range(2)}})
    labels = write_files(tmp_path / "lbl", {f"training/label_2/{i:06d}.txt": "\n".join(KITTI_LINES[:i + 1])
                                            + "\n" for i in range(3)})
    for name, src in (("data_object_image_2.zip", images), ("data_object_label_2.zip", labels)):
        local_http_server.add_file(f"kitti/{name}", pack(src, tmp_path / name))
    monkeypatch.setattr(Kitti, "data_url", local_http_server.url("kitti/"))
    root = tmp_path / "root"
    for train in (True, False):
        ours, theirs = Kitti(root, train=train, download=True), tv.Kitti(root, train=train)
        assert len(ours) == (3 if train else 2)
        same_dataset(ours, theirs)
        same_wrapped_dataset(ours, theirs)
    ours, theirs = Kitti(root), tv.Kitti(root)
    same_wrapped_dataset(ours, theirs, target_keys="all")
    same_wrapped_dataset(ours, theirs, target_keys={"boxes", "type", "location"})
    assert local_http_server.gets("kitti/data_object_image_2.zip") == 1
    wrapped = wrap(ours, target_keys="all")
    same_wrapped(pickle.loads(pickle.dumps(wrapped))[1], wrapped[1])  # as DataLoader's spawned workers get it
    (root / "Kitti" / "raw" / "training" / "label_2" / "000000.txt").write_text("Car 0.5\n")
    with pytest.raises(RuntimeError, match="000000.txt"):
        [ours[i] for i in range(3)]
    with pytest.raises(RuntimeError, match="label_2"):
        Kitti(tmp_path / "empty")


# ------------------------------------------------------------------------------------------ WIDERFace

def widerface_sources(tmp_path, rng):
    zips, gt = {}, {}
    for split in ("train", "val", "test"):
        names = [f"0--Parade/0_Parade_marchingband_1_{k}.jpg" for k in range(3)]
        write_files(tmp_path / split, {f"WIDER_{split}/images/{n}": image_bytes(k, (16, 12), fmt="JPEG")
                                       for k, n in enumerate(names)})
        zips[f"WIDER_{split}.zip"] = pack(tmp_path / split, tmp_path / f"WIDER_{split}.zip")
        if split == "test":
            gt["wider_face_split/wider_face_test_filelist.txt"] = "".join(n + "\n" for n in names)
            continue
        lines = []
        for k, n in enumerate(names):
            count = k  # the first image has no faces: a count of 0 and one line of zeros
            lines += [n, str(count)]
            rows = rng.integers(0, 8, (max(count, 1), 10)) * (count > 0)
            lines += [" ".join(str(v) for v in row) + " " for row in rows]
        gt[f"wider_face_split/wider_face_{split}_bbx_gt.txt"] = "\n".join(lines) + "\n"
    zips["wider_face_split.zip"] = pack(write_files(tmp_path / "gt", gt), tmp_path / "wider_face_split.zip")
    return zips


def test_widerface(local_http_server, tmp_path, monkeypatch, tv):
    zips = widerface_sources(tmp_path, np.random.default_rng(2))
    file_list = []
    for file_id, _, name in WIDERFace.FILE_LIST:
        local_http_server.add_file(f"drive/{file_id}", zips[name])
        file_list.append((file_id, md5(zips[name]), name))
    local_http_server.add_file("wider_face_split.zip", zips["wider_face_split.zip"])
    monkeypatch.setattr(WIDERFace, "FILE_LIST", file_list)
    monkeypatch.setattr(WIDERFace, "_DRIVE_URL", local_http_server.url("drive/{}"))
    annotations = (local_http_server.url("wider_face_split.zip"), md5(zips["wider_face_split.zip"]),
                   "wider_face_split.zip")
    monkeypatch.setattr(WIDERFace, "ANNOTATIONS_FILE", annotations)
    root = tmp_path / "root"
    for split in ("train", "val", "test"):
        ours, theirs = WIDERFace(root, split=split, download=True), tv.WIDERFace(root, split=split)
        assert len(ours) == 3
        same_dataset(ours, theirs)
        same_wrapped_dataset(ours, theirs)
    ours, theirs = WIDERFace(root, split="val"), tv.WIDERFace(root, split="val")
    assert ours[0][1]["bbox"].shape == (1, 4) and ours[2][1]["bbox"].shape == (2, 4)
    same_wrapped_dataset(ours, theirs, target_keys={"bbox", "pose"})
    (root / "widerface" / "wider_face_split" / "wider_face_val_bbx_gt.txt").write_text("a.jpg\nthree\n")
    with pytest.raises(RuntimeError, match="wider_face_val_bbx_gt.txt"):
        WIDERFace(root, split="val")
    with pytest.raises(RuntimeError, match="WIDER_train"):
        WIDERFace(tmp_path / "nothing")


# ------------------------------------------------------------------------------ OxfordIIITPet wrapper

def test_oxford_iiit_pet_wrapper(tmp_path, tv):
    base = tmp_path / "oxford-iiit-pet"
    write_files(base, {"images/Abyssinian_1.jpg": image_bytes(0, fmt="JPEG"),
                       "annotations/trimaps/Abyssinian_1.png": image_bytes(1, mode="L"),
                       "annotations/trainval.txt": "Abyssinian_1 1 1 1\n"})
    for types in ("segmentation", ["category", "segmentation"], "category"):
        same_wrapped_dataset(OxfordIIITPet(tmp_path, target_types=types),
                             tv.OxfordIIITPet(tmp_path, target_types=types))
