"""Omniglot, OxfordIIITPet, Places365, RenderedSST2, StanfordCars, SUN397, SBU, Flickr8k and Flickr30k:
tiny fixtures in each official layout (real images, .mat, txt/HTML annotation files, archives served from
127.0.0.1 where the dataset downloads), compared sample by sample with TorchVision's class."""
import shutil

import numpy as np
import pytest

from tests.helpers.dataset_files import image_bytes, md5, pack, same_dataset, write_files
from tests.helpers.refs import require
from visionlite import download as dl
from visionlite.datasets.flickr import Flickr8k, Flickr30k
from visionlite.datasets.omniglot import Omniglot
from visionlite.datasets.oxford_iiit_pet import OxfordIIITPet
from visionlite.datasets.places365 import Places365
from visionlite.datasets.rendered_sst2 import RenderedSST2
from visionlite.datasets.sbu import SBU
from visionlite.datasets.stanford_cars import StanfordCars
from visionlite.datasets.sun397 import SUN397


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(dl, "BACKOFF_BASE", 0.001)
    monkeypatch.setattr(dl, "TRIES", 1)


@pytest.fixture(scope="module")
def tv():
    return require("torchvision.datasets")


def serve_archive(server, src, name, arcroot=None):
    blob = pack(src, src.parent / ("archive-" + name), arcroot)
    server.add_file(name, blob)
    return server.url(name), md5(blob)


# ----------------------------------------------------------------------------------------- Omniglot

def test_omniglot(local_http_server, tmp_path, monkeypatch, tv):
    files = {}
    for a, alphabet in enumerate(("Latin", "Greek")):
        for c in range(2):
            for k in range(2):
                files[f"images_evaluation/{alphabet}/character{c + 1:02d}/{a}{c}{k}_{k:02d}.png"] = \
                    image_bytes(a * 10 + c * 3 + k, (8, 8), "L")
    src = write_files(tmp_path / "src", files)
    url, digest = serve_archive(local_http_server, src, "images_evaluation.zip")
    monkeypatch.setattr(Omniglot, "download_url_prefix", url.rsplit("/", 1)[0])
    for cls in (Omniglot, tv.Omniglot):
        monkeypatch.setattr(cls, "zips_md5", dict(cls.zips_md5, images_evaluation=digest))
    ours = Omniglot(tmp_path / "root", background=False, download=True)
    assert len(ours) == 8 and sorted(ours._characters)[0] == "Greek/character01"
    assert sorted({t for _, t in (ours[i] for i in range(8))}) == [0, 1, 2, 3]
    same_dataset(ours, tv.Omniglot(tmp_path / "root", background=False))
    with pytest.raises(RuntimeError, match="images_background.zip"):
        Omniglot(tmp_path / "root")


# ------------------------------------------------------------------------------------ OxfordIIITPet

def pets_sources(tmp_path):
    names = [("Abyssinian_1", 1, 1), ("great_pyrenees_3", 2, 2), ("Abyssinian_7", 1, 1),
             ("yorkshire_terrier_2", 3, 2)]
    images = write_files(tmp_path / "images_src", {f"images/{n}.jpg": image_bytes(i, fmt="JPEG")
                                                   for i, (n, _, _) in enumerate(names)})
    lines = [f"{n} {c} {s} {i + 1}" for i, (n, c, s) in enumerate(names)]
    anns = write_files(tmp_path / "anns_src", {
        "annotations/trainval.txt": "\n".join(lines[:3]) + "\n", "annotations/test.txt": lines[3] + "\n",
        **{f"annotations/trimaps/{n}.png": image_bytes(20 + i, mode="L")
           for i, (n, _, _) in enumerate(names)}})
    return images, anns


def test_oxford_iiit_pet(local_http_server, tmp_path, monkeypatch, tv):
    images, anns = pets_sources(tmp_path)
    resources = (serve_archive(local_http_server, images, "images.tar.gz"),
                 serve_archive(local_http_server, anns, "annotations.tar.gz"))
    monkeypatch.setattr(OxfordIIITPet, "_RESOURCES", resources)
    root = tmp_path / "root"
    for split in ("trainval", "test"):
        for types in ("category", "binary-category", "segmentation", ["category", "segmentation"], []):
            ours = OxfordIIITPet(root, split=split, target_types=types, download=True)
            same_dataset(ours, tv.OxfordIIITPet(root, split=split, target_types=types))
    ours = OxfordIIITPet(root)
    theirs = tv.OxfordIIITPet(root)
    assert ours.classes == theirs.classes == ["Abyssinian", "Great Pyrenees"]
    assert ours.class_to_idx == theirs.class_to_idx and ours.bin_class_to_idx == theirs.bin_class_to_idx
    assert local_http_server.gets("images.tar.gz") == 1
    with pytest.raises(ValueError, match="target_types"):
        OxfordIIITPet(root, target_types="bbox")
    (root / "oxford-iiit-pet" / "images" / "Abyssinian_7.jpg").write_bytes(b"broken")
    with pytest.raises(OSError, match="Abyssinian_7.jpg"):
        ours[2]


# ---------------------------------------------------------------------------------------- Places365

CATEGORIES = (("/a/airfield", 0), ("/a/apartment_building/outdoor", 1), ("/b/badlands", 2))


def test_places365(local_http_server, tmp_path, monkeypatch, tv):
    listing = [("Places365_val_00000001.jpg", 2), ("Places365_val_00000002.jpg", 0)]
    train = [(f"{c}/0000000{i}.jpg", i) for c, i in CATEGORIES]
    devkit = write_files(tmp_path / "devkit", {
        "categories_places365.txt": "".join(f"{c} {i}\n" for c, i in CATEGORIES),
        "places365_val.txt": "".join(f"{f} {i}\n" for f, i in listing),
        "places365_train_standard.txt": "".join(f"{f} {i}\n" for f, i in train)})
    val = write_files(tmp_path / "val", {f"val_256/{f}": image_bytes(i, (16, 16), fmt="JPEG")
                                         for i, (f, _) in enumerate(listing)})
    trn = write_files(tmp_path / "trn", {f"data_256/{f.lstrip('/')}": image_bytes(10 + i, (16, 16),
                                                                                    fmt="JPEG")
                                         for i, (f, _) in enumerate(train)})
    served = {name: serve_archive(local_http_server, src, name)[1] for name, src in (
        ("filelist_places365-standard.tar", devkit), ("val_256.tar", val),
        ("train_256_places365standard.tar", trn))}
    monkeypatch.setattr(Places365, "_BASE_URL", local_http_server.url(""))
    monkeypatch.setattr(Places365, "_DEVKIT_META", dict(
        Places365._DEVKIT_META, standard=("filelist_places365-standard.tar",
                                          served["filelist_places365-standard.tar"])))
    images_meta = dict(Places365._IMAGES_META)
    images_meta[("val", True)] = ("val_256.tar", served["val_256.tar"])
    images_meta[("train-standard", True)] = ("train_256_places365standard.tar",
                                             served["train_256_places365standard.tar"])
    monkeypatch.setattr(Places365, "_IMAGES_META", images_meta)
    digests = {name: md5((devkit / name).read_bytes()) for name in
               ("categories_places365.txt", "places365_val.txt", "places365_train_standard.txt")}
    for cls in (Places365, tv.Places365):
        monkeypatch.setattr(cls, "_CATEGORIES_META", ("categories_places365.txt",
                                                      digests["categories_places365.txt"]))
        monkeypatch.setattr(cls, "_FILE_LIST_META", dict(cls._FILE_LIST_META, **{
            "val": ("places365_val.txt", digests["places365_val.txt"]),
            "train-standard": ("places365_train_standard.txt", digests["places365_train_standard.txt"])}))
    root = tmp_path / "root"
    for split in ("val", "train-standard"):
        ours = Places365(root, split=split, small=True, download=True)
        theirs = tv.Places365(root, split=split, small=True)
        same_dataset(ours, theirs)
        assert ours.classes == theirs.classes and ours.class_to_idx == theirs.class_to_idx
        assert ours.targets == theirs.targets
    assert (root / "data_256_standard").is_dir()
    with pytest.raises(RuntimeError, match="places365_train_challenge.txt"):
        Places365(root, split="train-challenge", small=True)


# ------------------------------------------------------------------------------------- RenderedSST2

def test_rendered_sst2(local_http_server, tmp_path, monkeypatch, tv):
    files = {f"rendered-sst2/{folder}/{c}/{k}.png": image_bytes(hash((folder, c, k)) % 1000, (20, 8))
             for folder in ("train", "valid", "test") for c in ("negative", "positive") for k in range(2)}
    url, digest = serve_archive(local_http_server, write_files(tmp_path / "src", files), "rendered-sst2.tgz")
    monkeypatch.setattr(RenderedSST2, "_URL", url)
    monkeypatch.setattr(RenderedSST2, "_MD5", digest)
    for split in ("train", "val", "test"):
        ours = RenderedSST2(tmp_path / "root", split=split, download=True)
        assert len(ours) == 4 and ours.classes == ["negative", "positive"]
        same_dataset(ours, tv.RenderedSST2(tmp_path / "root", split=split))
    with pytest.raises(RuntimeError, match="positive"):
        shutil.rmtree(tmp_path / "root" / "rendered-sst2" / "test" / "positive")
        RenderedSST2(tmp_path / "root", split="test")


# ------------------------------------------------------------------------------------- StanfordCars

def test_stanford_cars(tmp_path, tv):
    sio = require("scipy.io")
    base = tmp_path / "stanford_cars"
    rng = np.random.default_rng(0)
    names = np.array(["AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Volvo XC90 SUV 2007"],
                     dtype=object)
    for split, folder, mat in (("train", "cars_train", base / "devkit" / "cars_train_annos.mat"),
                               ("test", "cars_test", base / "cars_test_annos_withlabels.mat")):
        n = 3 if split == "train" else 2
        ann = np.zeros((1, n), dtype=[(f, "O") for f in ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class",
                                                         "fname")])
        for i in range(n):
            ann[0, i] = (1, 2, 30, 40, np.uint8(rng.integers(1, 4)), f"{i + 1:05d}.jpg")
            write_files(base / folder, {f"{i + 1:05d}.jpg": image_bytes(i + n, fmt="JPEG")})
        mat.parent.mkdir(parents=True, exist_ok=True)
        sio.savemat(mat, {"annotations": ann})
    sio.savemat(base / "devkit" / "cars_meta.mat", {"class_names": names[None]})
    for split in ("train", "test"):
        ours, theirs = StanfordCars(tmp_path, split=split), tv.StanfordCars(tmp_path, split=split)
        assert ours.classes == theirs.classes == list(names)
        assert len(ours) == len(theirs)
        for i in range(len(theirs)):
            (a, t), (b, u) = ours[i], theirs[i]
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
            assert isinstance(t, int) and t == int(u)
    with pytest.raises(ValueError, match="cannot be downloaded"):
        StanfordCars(tmp_path, download=True)
    (base / "cars_test_annos_withlabels.mat").unlink()
    with pytest.raises(RuntimeError, match="cars_test_annos_withlabels.mat"):
        StanfordCars(tmp_path, split="test")


# -------------------------------------------------------------------------------------------- SUN397

def test_sun397(local_http_server, tmp_path, monkeypatch, tv):
    classes = ["/a/abbey", "/a/apartment_building/outdoor", "/b/bakery/shop"]
    files = {"SUN397/ClassName.txt": "\n".join(classes) + "\n"}
    for i, c in enumerate(classes):
        for k in range(2):
            files[f"SUN397{c}/sun_{i}{k}abc.jpg"] = image_bytes(i * 2 + k, fmt="JPEG")
    url, digest = serve_archive(local_http_server, write_files(tmp_path / "src", files), "SUN397.tar.gz")
    monkeypatch.setattr(SUN397, "_DATASET_URL", url)
    monkeypatch.setattr(SUN397, "_DATASET_MD5", digest)
    ours = SUN397(tmp_path / "root", download=True)
    theirs = tv.SUN397(tmp_path / "root")
    assert ours.classes == theirs.classes == ["abbey", "apartment_building/outdoor", "bakery/shop"]
    assert len(ours) == 6
    same_dataset(ours, theirs)
    with pytest.raises(RuntimeError, match="ClassName.txt"):
        SUN397(tmp_path / "empty")


# ----------------------------------------------------------------------------------------------- SBU

def test_sbu(local_http_server, tmp_path, monkeypatch, tv):
    photos = [f"photos/{i}_x.jpg" for i in range(3)]
    for i, p in enumerate(photos[:2]):  # the third photo is gone: skipped, as in TorchVision
        local_http_server.add_file(p, image_bytes(i, fmt="JPEG"))
    files = {"dataset/SBU_captioned_photo_dataset_urls.txt": "".join(local_http_server.url(p) + "\n"
                                                                     for p in photos),
             "dataset/SBU_captioned_photo_dataset_captions.txt": "a dog\na cat on a mat\nthe gone one\n"}
    url, digest = serve_archive(local_http_server, write_files(tmp_path / "src", files),
                                "SBUCaptionedPhotoDataset.tar.gz")
    for cls in (SBU, tv.SBU):
        monkeypatch.setattr(cls, "url", url)
        monkeypatch.setattr(cls, "md5_checksum", digest)
    ours = SBU(tmp_path / "root")
    assert len(ours) == 2 and ours[1][1] == "a cat on a mat"
    same_dataset(ours, tv.SBU(tmp_path / "root", download=False))
    with pytest.raises(RuntimeError, match="SBUCaptionedPhotoDataset.tar.gz"):
        SBU(tmp_path / "elsewhere", download=False)


# ---------------------------------------------------------------------------------- Flickr8k / 30k

def test_flickr8k(tmp_path, tv):
    images = write_files(tmp_path / "images", {f"{1000 + i}_abc{i}.jpg": image_bytes(i, fmt="JPEG")
                                               for i in range(3)})
    rows = []
    for i in range(3):
        u = f"http://www.flickr.com/photos/user/{1000 + i}/"
        items = "".join(f"<li>caption {i}.{k}" for k in range(2))
        rows.append(f'<tr><td><a href="{u}">{u}</a></td><td><ul>{items}</ul></td></tr>')
    rows.append("<tr><td>Image Not Found</td><td><ul><li>orphan</ul></td></tr>")
    (tmp_path / "captions.html").write_text("<html><body><table>" + "".join(rows) + "</table></body></html>")
    ours = Flickr8k(str(images), str(tmp_path / "captions.html"))
    assert len(ours) == 3 and ours[0][1] == ["caption 0.0", "caption 0.1"]
    same_dataset(ours, tv.Flickr8k(str(images), str(tmp_path / "captions.html")))


def test_flickr30k(tmp_path, tv):
    images = write_files(tmp_path / "images", {f"{i}.jpg": image_bytes(i, fmt="JPEG") for i in range(3)})
    (tmp_path / "captions.token").write_text("".join(f"{i}.jpg#{k}\tcaption {i} {k}\n"
                                                     for i in (2, 0, 1) for k in range(3)))
    ours = Flickr30k(str(images), str(tmp_path / "captions.token"))
    assert ours.ids == ["0.jpg", "1.jpg", "2.jpg"] and len(ours[0][1]) == 3
    same_dataset(ours, tv.Flickr30k(str(images), str(tmp_path / "captions.token")))
    (tmp_path / "bad.token").write_text("no tab here\n")
    with pytest.raises(RuntimeError, match="bad.token, line 1"):
        Flickr30k(str(images), str(tmp_path / "bad.token"))
