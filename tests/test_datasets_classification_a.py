"""Image-classification datasets (Imagenette, Caltech101/256, CLEVR, Country211, DTD, EuroSAT, Food101,
FGVCAircraft, Flowers102, GTSRB): a tiny fixture in each official layout is archived, served from
127.0.0.1, downloaded by visionlite, then read by visionlite and by TorchVision from the same folder and
compared item by item. Missing and damaged files must end in errors naming the file."""
import json

import numpy as np
import pytest

from tests.helpers.dataset_fixtures import (
    assert_same_dataset,
    image_bytes,
    serve,
    tar_bytes,
    write,
    write_image,
    zip_bytes,
)
from tests.helpers.refs import require
from visionlite import datasets
from visionlite import download as dl
from visionlite.download import HashMismatchError

tvd = require("torchvision.datasets")


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(dl, "BACKOFF_BASE", 0.001)


# ------------------------------------------------------------------------------------------ Imagenette

def test_imagenette(local_http_server, tmp_path, monkeypatch):
    src = tmp_path / "src"
    wnids = ["n01440764", "n03425413", "n02979186"]
    for s, split in enumerate(["train", "val"]):
        for w, wnid in enumerate(wnids):
            for k in range(2 + w % 2):
                write_image(src / "imagenette2-160" / split / wnid / f"{wnid}_{k}.JPEG", 100 * s + 10 * w + k)
    url, md5 = serve(local_http_server, "imagenette2-160.tgz", tar_bytes(src))
    archives = dict(datasets.Imagenette._ARCHIVES, **{"160px": (url, md5)})
    monkeypatch.setattr(datasets.Imagenette, "_ARCHIVES", archives)
    root = tmp_path / "root"
    for split in ("train", "val"):
        ours = datasets.Imagenette(root, split=split, size="160px", download=True)
        theirs = tvd.Imagenette(root, split=split, size="160px")
        assert_same_dataset(ours, theirs, ["classes", "class_to_idx", "wnids", "wnid_to_idx"])
    assert local_http_server.gets("imagenette2-160.tgz") == 1
    assert ours.classes[2] == ("gas pump", "gasoline pump", "petrol pump", "island dispenser")
    with pytest.raises(RuntimeError, match="imagenette2-320"):
        datasets.Imagenette(root, size="320px")
    with pytest.raises(ValueError, match="size"):
        datasets.Imagenette(root, size="64px")


# -------------------------------------------------------------------------------------------- Caltech

def test_caltech101_download_both_targets(local_http_server, tmp_path, monkeypatch):
    sio = require("scipy.io")
    src, inner = tmp_path / "src", tmp_path / "inner"
    cats = {"Faces": 2, "accordion": 3, "BACKGROUND_Google": 1}
    rng = np.random.default_rng(0)
    for c, (cat, n) in enumerate(cats.items()):
        for i in range(1, n + 1):
            write_image(inner / "img" / "101_ObjectCategories" / cat / f"image_{i:04d}.jpg", c * 10 + i,
                        mode="L" if i == 2 else "RGB")
            ann = inner / "ann" / "Annotations" / datasets.Caltech101._NAME_MAP.get(cat, cat)
            ann.mkdir(parents=True, exist_ok=True)
            contour = rng.uniform(0, 50, (2, 4 + i))
            sio.savemat(ann / f"annotation_{i:04d}.mat",
                        {"obj_contour": contour, "box_coord": np.ones((1, 4))})
    write(src / "caltech-101" / "101_ObjectCategories.tar.gz", tar_bytes(inner / "img"))
    write(src / "caltech-101" / "Annotations.tar", tar_bytes(inner / "ann", mode="w"))
    write(src / "caltech-101" / "show_annotation.m", "% matlab\n")
    url, md5 = serve(local_http_server, "caltech-101.zip", zip_bytes(src))
    monkeypatch.setattr(datasets.Caltech101, "_URL", url)
    monkeypatch.setattr(datasets.Caltech101, "_MD5", md5)
    root = tmp_path / "root"
    ours = datasets.Caltech101(root, target_type=["category", "annotation"], download=True)
    theirs = tvd.Caltech101(root, target_type=["category", "annotation"])
    assert ours.categories == ["Faces", "accordion"] and len(ours) == 5
    assert_same_dataset(ours, theirs, ["categories", "annotation_categories", "index", "y"])
    assert ours[1][0].mode == "L" and ours[1][1][1].dtype == np.float64
    assert_same_dataset(datasets.Caltech101(root), tvd.Caltech101(root))
    with pytest.raises(ValueError, match="target_type"):
        datasets.Caltech101(root, target_type="bbox")
    (root / "caltech101" / "Annotations" / "Faces_2" / "annotation_0001.mat").write_bytes(b"x" * 300)
    with pytest.raises(ValueError, match="annotation_0001.mat"):
        datasets.Caltech101(root, target_type="annotation")[0]
    with pytest.raises(RuntimeError, match="101_ObjectCategories"):
        datasets.Caltech101(tmp_path / "empty")


def test_caltech256(local_http_server, tmp_path, monkeypatch):
    src = tmp_path / "src" / "256_ObjectCategories"
    for c, name in enumerate(["001.ak47", "002.american-flag", "257.clutter"]):
        for i in range(1, 3 + c % 2):
            write_image(src / name / f"{c + 1:03d}_{i:04d}.jpg", 10 * c + i)
        write(src / name / "notes.txt", "not an image")
    url, md5 = serve(local_http_server, "256_ObjectCategories.tar", tar_bytes(tmp_path / "src", mode="w"))
    monkeypatch.setattr(datasets.Caltech256, "_URL", url)
    monkeypatch.setattr(datasets.Caltech256, "_MD5", md5)
    root = tmp_path / "root"
    ours = datasets.Caltech256(root, download=True)
    assert_same_dataset(ours, tvd.Caltech256(root), ["categories", "index", "y"])
    bad = root / "caltech256" / "256_ObjectCategories" / "002.american-flag" / "002_0001.jpg"
    bad.write_bytes(b"\xff\xd8bad")
    with pytest.raises(OSError, match="002_0001.jpg"):
        ours[2]


# ---------------------------------------------------------------------------------------------- CLEVR

def test_clevr(local_http_server, tmp_path, monkeypatch):
    src = tmp_path / "src" / "CLEVR_v1.0"
    for s, split in enumerate(["train", "val", "test"]):
        scenes = []
        for i in range(3):
            name = f"CLEVR_{split}_{i:06d}.png"
            write_image(src / "images" / split / name, 10 * s + i)
            scenes.append({"image_filename": name, "objects": [{"shape": "cube"}] * (i + s + 1)})
        if split != "test":
            write(src / "scenes" / f"CLEVR_{split}_scenes.json", json.dumps({"scenes": scenes[::-1]}))
    url, md5 = serve(local_http_server, "CLEVR_v1.0.zip", zip_bytes(tmp_path / "src"))
    monkeypatch.setattr(datasets.CLEVRClassification, "_URL", url)
    monkeypatch.setattr(datasets.CLEVRClassification, "_MD5", md5)
    root = tmp_path / "root"
    for split in ("train", "val", "test"):
        ours = datasets.CLEVRClassification(root, split=split, download=True)
        assert_same_dataset(ours, tvd.CLEVRClassification(root, split=split))
    assert [ours[i][1] for i in range(3)] == [None] * 3
    assert [t for _, t in datasets.CLEVRClassification(root, split="val")] == [2, 3, 4]
    (root / "clevr" / "CLEVR_v1.0" / "scenes" / "CLEVR_val_scenes.json").unlink()
    with pytest.raises(RuntimeError, match="CLEVR_val_scenes.json"):
        datasets.CLEVRClassification(root, split="val")


# ----------------------------------------------------------------------------------- Country211, EuroSAT

def test_country211(local_http_server, tmp_path, monkeypatch):
    src = tmp_path / "src" / "country211"
    for s, split in enumerate(["train", "valid", "test"]):
        for c, code in enumerate(["AD", "AE", "ZW"]):
            for i in range(1 + (c + s) % 2):
                write_image(src / split / code / f"{i}.jpg", 100 * s + 10 * c + i)
    url, md5 = serve(local_http_server, "country211.tgz", tar_bytes(tmp_path / "src"))
    monkeypatch.setattr(datasets.Country211, "_URL", url)
    monkeypatch.setattr(datasets.Country211, "_MD5", md5)
    root = tmp_path / "root"
    for split in ("train", "valid", "test"):
        ours = datasets.Country211(root, split=split, download=True)
        theirs = tvd.Country211(root, split=split)
        assert_same_dataset(ours, theirs, ["classes", "class_to_idx", "samples", "root"])
    with pytest.raises(RuntimeError, match="country211"):
        datasets.Country211(tmp_path / "none")


def test_eurosat(local_http_server, tmp_path, monkeypatch):
    src = tmp_path / "src" / "2750"
    for c, name in enumerate(["AnnualCrop", "Forest", "SeaLake"]):
        for i in range(2):
            write_image(src / name / f"{name}_{i + 1}.jpg", 10 * c + i, size=(8, 8))
    url, md5 = serve(local_http_server, "EuroSAT.zip", zip_bytes(tmp_path / "src"))
    monkeypatch.setattr(datasets.EuroSAT, "_URL", url)
    monkeypatch.setattr(datasets.EuroSAT, "_MD5", "0" * 32)
    root = tmp_path / "root"
    with pytest.raises(HashMismatchError):
        datasets.EuroSAT(root, download=True)
    monkeypatch.setattr(datasets.EuroSAT, "_MD5", md5)
    ours = datasets.EuroSAT(root, download=True)
    assert_same_dataset(ours, tvd.EuroSAT(root), ["classes", "class_to_idx", "samples", "root"])


# ------------------------------------------------------------------------------------------------ DTD

def test_dtd(local_http_server, tmp_path, monkeypatch):
    src = tmp_path / "src" / "dtd"
    classes = ["banded", "cracked", "zigzagged"]
    names = [(c, f"{c}_{i:04d}.jpg") for c in classes for i in range(3)]
    for k, (c, n) in enumerate(names):
        write_image(src / "images" / c / n, k)
    for p in (1, 2):
        for s, split in enumerate(["train", "val", "test"]):
            picked = [f"{c}/{n}" for k, (c, n) in enumerate(names) if (k + p) % 3 == s]
            write(src / "labels" / f"{split}{p}.txt", "\n".join(picked) + "\n")
    url, md5 = serve(local_http_server, "dtd-r1.0.1.tar.gz", tar_bytes(tmp_path / "src"))
    monkeypatch.setattr(datasets.DTD, "_URL", url)
    monkeypatch.setattr(datasets.DTD, "_MD5", md5)
    root = tmp_path / "root"
    for split in ("train", "test"):
        for partition in (1, 2):
            ours = datasets.DTD(root, split=split, partition=partition, download=True)
            theirs = tvd.DTD(root, split=split, partition=partition)
            assert_same_dataset(ours, theirs, ["classes", "class_to_idx"])
    with pytest.raises(RuntimeError, match="val3.txt"):
        datasets.DTD(root, split="val", partition=3)
    with pytest.raises(ValueError, match="partition"):
        datasets.DTD(root, partition=11)


# -------------------------------------------------------------------------------------------- Food101

def test_food101(local_http_server, tmp_path, monkeypatch):
    src = tmp_path / "src" / "food-101"
    meta = {"train": {}, "test": {}}
    for c, cls in enumerate(["waffles", "apple_pie", "ramen"]):
        for i in range(4):
            write_image(src / "images" / cls / f"{1000 + i}.jpg", 10 * c + i)
            meta["train" if i < 3 else "test"].setdefault(cls, []).append(f"{cls}/{1000 + i}")
    for split, content in meta.items():
        write(src / "meta" / f"{split}.json", json.dumps(content))
    url, md5 = serve(local_http_server, "food-101.tar.gz", tar_bytes(tmp_path / "src"))
    monkeypatch.setattr(datasets.Food101, "_URL", url)
    monkeypatch.setattr(datasets.Food101, "_MD5", md5)
    root = tmp_path / "root"
    for split in ("train", "test"):
        ours = datasets.Food101(root, split=split, download=True)
        assert_same_dataset(ours, tvd.Food101(root, split=split), ["classes", "class_to_idx"])
    assert ours.classes == ["apple_pie", "ramen", "waffles"]
    (root / "food-101" / "images" / "ramen" / "1003.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="1003.jpg"):
        ours[2]


# --------------------------------------------------------------------------------------- FGVCAircraft

def test_fgvc_aircraft(local_http_server, tmp_path, monkeypatch):
    data = tmp_path / "src" / "fgvc-aircraft-2013b" / "data"
    levels = {"variant": ["707-320", "A300B4", "Boeing 717"], "family": ["Boeing 707", "A300"],
              "manufacturer": ["Boeing", "Airbus"]}
    for level, names in levels.items():
        write(data / datasets.FGVCAircraft._LEVEL_FILES[level], "\n".join(names) + "\n")
    ids = [f"{1025794 + i:07d}" for i in range(6)]
    for i, image_id in enumerate(ids):
        write_image(data / "images" / f"{image_id}.jpg", i)
    for level, names in levels.items():
        for s, split in enumerate(["train", "val", "trainval", "test"]):
            lines = [f"{image_id} {names[(i + s) % len(names)]}"
                     for i, image_id in enumerate(ids) if i % 2 == s % 2]
            write(data / f"images_{level}_{split}.txt", "\n".join(lines) + "\n")
    url, _ = serve(local_http_server, "fgvc-aircraft-2013b.tar.gz", tar_bytes(tmp_path / "src"))
    monkeypatch.setattr(datasets.FGVCAircraft, "_URL", url)
    root = tmp_path / "root"
    for split in ("trainval", "test"):
        for level in levels:
            ours = datasets.FGVCAircraft(root, split=split, annotation_level=level, download=True)
            theirs = tvd.FGVCAircraft(root, split=split, annotation_level=level)
            assert_same_dataset(ours, theirs, ["classes", "class_to_idx"])
    with pytest.raises(ValueError, match="annotation_level"):
        datasets.FGVCAircraft(root, annotation_level="model")
    (root / "fgvc-aircraft-2013b" / "data" / "images_family_val.txt").unlink()
    with pytest.raises(RuntimeError, match="images_family_val.txt"):
        datasets.FGVCAircraft(root, split="val", annotation_level="family")


# ----------------------------------------------------------------------------------------- Flowers102

def test_flowers102(local_http_server, tmp_path, monkeypatch):
    sio = require("scipy.io")
    src = tmp_path / "src"
    n = 9
    for i in range(1, n + 1):
        write_image(src / "jpg" / f"image_{i:05d}.jpg", i)
    labels = np.array([[5, 1, 102, 5, 7, 1, 3, 3, 2]], dtype=np.uint8)
    sio.savemat(src / "imagelabels.mat", {"labels": labels})
    ids = {"trnid": [[1, 4, 7]], "valid": [[2, 5, 8]], "tstid": [[9, 3, 6]]}
    sio.savemat(src / "setid.mat", {k: np.array(v, np.uint16) for k, v in ids.items()})
    served = {}
    for name, blob in [("102flowers.tgz", tar_bytes(src, names=["jpg"])),
                       ("imagelabels.mat", (src / "imagelabels.mat").read_bytes()),
                       ("setid.mat", (src / "setid.mat").read_bytes())]:
        served[name] = serve(local_http_server, f"flowers/{name}", blob)[1]
    monkeypatch.setattr(datasets.Flowers102, "_download_url_prefix", local_http_server.url("flowers/"))
    file_dict = {k: (name, served[name]) for k, (name, _) in datasets.Flowers102._file_dict.items()}
    monkeypatch.setattr(datasets.Flowers102, "_file_dict", file_dict)
    monkeypatch.setattr(tvd.Flowers102, "_file_dict", file_dict)
    root = tmp_path / "root"
    for split in ("train", "val", "test"):
        ours = datasets.Flowers102(root, split=split, download=True)
        assert_same_dataset(ours, tvd.Flowers102(root, split=split), ["classes"])
    assert ours._labels == [1, 101, 0]
    (root / "flowers-102" / "setid.mat").write_bytes(b"damaged")
    with pytest.raises(RuntimeError, match="setid.mat"):
        datasets.Flowers102(root)


# ---------------------------------------------------------------------------------------------- GTSRB

def test_gtsrb(local_http_server, tmp_path, monkeypatch):
    train = tmp_path / "train"
    for c in (0, 2, 42):
        for i in range(2):
            write_image(train / "GTSRB" / "Training" / f"{c:05d}" / f"00000_{i:05d}.ppm", 10 * c + i)
        write(train / "GTSRB" / "Training" / f"{c:05d}" / f"GT-{c:05d}.csv", "Filename;ClassId\n")
    test_images, test_gt = tmp_path / "test_images", tmp_path / "test_gt"
    rows = ["Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"]
    for i in range(4):
        write_image(test_images / "GTSRB" / "Final_Test" / "Images" / f"{i:05d}.ppm", 100 + i)
        rows.append(f"{i:05d}.ppm;7;5;1;1;6;4;{(7 * i) % 43}")
    write(test_gt / "GT-final_test.csv", "\n".join(rows) + "\n")
    files = {}
    for name, blob in [("GTSRB-Training_fixed.zip", zip_bytes(train)),
                       ("GTSRB_Final_Test_Images.zip", zip_bytes(test_images)),
                       ("GTSRB_Final_Test_GT.zip", zip_bytes(test_gt))]:
        files[name] = serve(local_http_server, f"gtsrb/{name}", blob)[1]
    monkeypatch.setattr(datasets.GTSRB, "_BASE_URL", local_http_server.url("gtsrb/"))
    monkeypatch.setattr(datasets.GTSRB, "_FILES", {s: [(n, files[n]) for n, _ in v]
                                                   for s, v in datasets.GTSRB._FILES.items()})
    root = tmp_path / "root"
    for split in ("train", "test"):
        ours = datasets.GTSRB(root, split=split, download=True)
        assert_same_dataset(ours, tvd.GTSRB(root, split=split), ["_samples"])
    assert [t for _, t in ours] == [0, 7, 14, 21]
    (root / "gtsrb" / "GT-final_test.csv").unlink()
    with pytest.raises(RuntimeError, match="GT-final_test.csv"):
        datasets.GTSRB(root, split="test")
    assert image_bytes(0)  # helper sanity: deterministic bytes
