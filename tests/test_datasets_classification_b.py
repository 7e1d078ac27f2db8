"""CelebA, FER2013, INaturalist, LFWPeople and LFWPairs on tiny fixtures in their official layouts
(served from 127.0.0.1 where the dataset downloads), compared item by item with TorchVision; missing
and damaged files must end in errors naming the file."""
import csv
import io
import shutil

import numpy as np
import pytest

from tests.helpers.dataset_fixtures import (
    assert_same_dataset,
    md5,
    serve,
    tar_bytes,
    write,
    write_image,
    zip_bytes,
)
from tests.helpers.refs import require
from visionlite import datasets
from visionlite import download as dl
from visionlite.datasets import inaturalist

tvd = require("torchvision.datasets")


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(dl, "BACKOFF_BASE", 0.001)


# --------------------------------------------------------------------------------------------- CelebA

_ATTRS = ["5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bald"]


def _celeba_files(tmp_path, n=7):
    rng = np.random.default_rng(0)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    for i, name in enumerate(names):
        write_image(tmp_path / "imgs" / "img_align_celeba" / name, i, size=(9, 11))
    files = {"img_align_celeba.zip": zip_bytes(tmp_path / "imgs")}
    files["list_eval_partition.txt"] = "".join(f"{nm} {i % 3}\n" for i, nm in enumerate(names))
    files["identity_CelebA.txt"] = "".join(f"{nm} {rng.integers(1, 10177)}\n" for nm in names)
    rows = [f"{nm} " + " ".join(f"{v:>3d}" for v in rng.integers(0, 200, 4)) for nm in names]
    files["list_bbox_celeba.txt"] = f"{n}\nimage_id x_1 y_1 width height\n" + "\n".join(rows) + "\n"
    lm = [f"{nm}  " + "  ".join(str(v) for v in rng.integers(60, 160, 10)) for nm in names]
    head = " ".join(f"{part}_{axis}" for part in ("lefteye", "righteye", "nose", "leftmouth", "rightmouth")
                    for axis in "xy")
    files["list_landmarks_align_celeba.txt"] = f"{n}\n{head}\n" + "\n".join(lm) + "\n"
    attr = [f"{nm} " + " ".join(f"{v:2d}" for v in rng.choice([-1, 1], len(_ATTRS))) for nm in names]
    files["list_attr_celeba.txt"] = f"{n}\n{' '.join(_ATTRS)} \n" + "\n".join(attr) + "\n"
    return {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}


@pytest.fixture
def celeba_root(local_http_server, tmp_path, monkeypatch):
    files = _celeba_files(tmp_path)
    file_list = []
    for file_id, _, name in datasets.CelebA.file_list:
        local_http_server.add_file(f"gdrive/{file_id}", files[name])
        file_list.append((file_id, md5(files[name]), name))
    monkeypatch.setattr(datasets.CelebA, "_GDRIVE_URL", local_http_server.url("gdrive/{}"))
    monkeypatch.setattr(datasets.CelebA, "file_list", file_list)
    monkeypatch.setattr(tvd.CelebA, "file_list", file_list)
    datasets.CelebA(tmp_path / "root", download=True)
    return tmp_path / "root"


@pytest.mark.parametrize("split", ["train", "valid", "test", "all"])
def test_celeba_matches_torchvision(celeba_root, split):
    kinds = ["attr", "identity", "bbox", "landmarks"]
    ours = datasets.CelebA(celeba_root, split=split, target_type=kinds)
    theirs = tvd.CelebA(celeba_root, split=split, target_type=kinds)
    assert_same_dataset(ours, theirs, ["filename", "attr_names"])
    attr, identity, bbox, landmarks = ours[0][1]
    assert attr.shape == (4,) and identity.shape == () and bbox.shape == (4,) and landmarks.shape == (10,)
    assert str(attr.dtype) == "visionlite.int64" and set(attr.numpy().tolist()) <= {0, 1}
    for kind in kinds:
        assert_same_dataset(datasets.CelebA(celeba_root, split=split, target_type=kind),
                            tvd.CelebA(celeba_root, split=split, target_type=kind))


def test_celeba_arguments_and_damaged_files(celeba_root, local_http_server):
    assert datasets.CelebA(celeba_root, target_type=[])[0][1] is None
    with pytest.raises(RuntimeError, match="target_transform is specified"):
        datasets.CelebA(celeba_root, target_type=[], target_transform=int)
    with pytest.raises(ValueError, match="target_type"):
        datasets.CelebA(celeba_root, target_type="age")
    with pytest.raises(ValueError, match="split"):
        datasets.CelebA(celeba_root, split="val")
    gets = local_http_server.total_gets()
    datasets.CelebA(celeba_root, download=True)  # everything in place: nothing fetched again
    assert local_http_server.total_gets() == gets
    (celeba_root / "celeba" / "list_bbox_celeba.txt").write_text("damaged")
    with pytest.raises(RuntimeError, match="list_bbox_celeba.txt.*Google"):
        datasets.CelebA(celeba_root)


def test_celeba_drive_refusal_says_where_to_place_files(local_http_server, tmp_path, monkeypatch):
    first = datasets.CelebA.file_list[0][0]
    local_http_server.add_file(f"gdrive/{first}", b"x")
    local_http_server.behave(f"gdrive/{first}", html=True)
    monkeypatch.setattr(datasets.CelebA, "_GDRIVE_URL", local_http_server.url("gdrive/{}"))
    with pytest.raises(RuntimeError, match="zip could not be fetched.*celeba/img_align_celeba.zip"):
        datasets.CelebA(tmp_path, download=True)


# -------------------------------------------------------------------------------------------- FER2013

def _pixels(rng):
    return " ".join(str(v) for v in rng.integers(0, 256, 48 * 48))


def _csv(header, rows):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


@pytest.mark.parametrize("layout", ["fer", "icml", "split"])
def test_fer2013(tmp_path, monkeypatch, layout):
    rng = np.random.default_rng(1)
    usages = ["Training", "PublicTest", "Training", "PrivateTest", "Training"]
    rows = [(int(rng.integers(0, 7)), _pixels(rng), u) for u in usages]
    folder = tmp_path / "fer2013"
    if layout == "fer":
        files = {"fer": write(folder / "fer2013.csv", _csv(["emotion", "pixels", "Usage"], rows))}
    elif layout == "icml":
        files = {"icml": write(folder / "icml_face_data.csv",
                               _csv(["emotion", " Usage", " pixels"], [(e, u, p) for e, p, u in rows]))}
    else:
        files = {"train": write(folder / "train.csv", _csv(["emotion", "pixels"], [r[:2] for r in rows[:3]])),
                 "test": write(folder / "test.csv", _csv(["pixels"], [r[1:2] for r in rows[3:]]))}
    resources = dict(datasets.FER2013._RESOURCES)
    resources.update({k: (p.name, md5(p.read_bytes())) for k, p in files.items()})
    monkeypatch.setattr(datasets.FER2013, "_RESOURCES", resources)
    monkeypatch.setattr(tvd.FER2013, "_RESOURCES", resources)
    for split in ("train", "test"):
        ours = datasets.FER2013(tmp_path, split=split)
        assert_same_dataset(ours, tvd.FER2013(tmp_path, split=split))
        assert ours[0][0].mode == "L" and ours[0][0].size == (48, 48)
    assert (ours[0][1] is None) == (layout == "split")
    next(iter(files.values())).write_text("emotion,pixels\n1,2 3\n")
    with pytest.raises(RuntimeError, match=r"\.csv not found in .*fer2013 or corrupted.*kaggle"):
        datasets.FER2013(tmp_path, split="train")


# ---------------------------------------------------------------------------------------- INaturalist

def test_inaturalist_2021_download(local_http_server, tmp_path, monkeypatch):
    names = ["00000_Animalia_Chordata_Aves_Passeriformes_Corvidae_Corvus_corax",
             "00001_Animalia_Chordata_Aves_Passeriformes_Paridae_Parus_major",
             "00002_Plantae_Tracheophyta_Magnoliopsida_Rosales_Rosaceae_Rosa_canina"]
    for c, name in enumerate(names):
        for k in range(2 + c % 2):
            path = tmp_path / "src" / "val" / name / f"{c}{k}-aa.jpg"
            write_image(path, 10 * c + k, mode="L" if k else "RGB")
    url, digest = serve(local_http_server, "2021/val.tar.gz", tar_bytes(tmp_path / "src"))
    monkeypatch.setitem(inaturalist.DATASET_URLS, "2021_valid", url)
    monkeypatch.setitem(inaturalist.DATASET_MD5, "2021_valid", digest)
    root = tmp_path / "root"
    kinds = ["full", "kingdom", "phylum", "class", "order", "family", "genus"]
    ours = datasets.INaturalist(root, version="2021_valid", target_type=kinds, download=True)
    theirs = tvd.INaturalist(root, version="2021_valid", target_type=kinds)
    assert_same_dataset(ours, theirs, ["all_categories", "categories_index", "categories_map", "index"])
    assert ours[-1][1] == (2, 1, 1, 1, 1, 2, 2)
    assert ours.category_name("family", 1) == "Paridae" == theirs.category_name("family", 1)
    assert_same_dataset(datasets.INaturalist(root, version="2021_valid"),
                        tvd.INaturalist(root, version="2021_valid"))
    with pytest.raises(ValueError, match="target_type"):
        datasets.INaturalist(root, version="2021_valid", target_type="super")
    with pytest.raises(RuntimeError, match="2021_train"):
        datasets.INaturalist(root, version="2021_train")


@pytest.mark.parametrize("version", ["2017", "2018"])
def test_inaturalist_before_2021(tmp_path, version):
    if version == "2018":
        cats = {"Aves": ["3", "0"], "Plantae": ["1", "2"]}
    else:
        cats = {"Aves": ["Corvus corax"], "Fungi": ["Amanita", "Boletus"]}
    for s, (sup, subs) in enumerate(cats.items()):
        for c, sub in enumerate(subs):
            write_image(tmp_path / version / sup / sub / f"{s}{c}.jpg", 10 * s + c)
    ours = datasets.INaturalist(tmp_path, version=version, target_type=["full", "super"])
    theirs = tvd.INaturalist(tmp_path, version=version, target_type=["full", "super"])
    assert_same_dataset(ours, theirs, ["all_categories", "categories_index", "categories_map"])
    (tmp_path / version / "Aves" / "x").mkdir()
    if version == "2018":
        with pytest.raises(RuntimeError, match="non-numeric dir name.*x"):
            datasets.INaturalist(tmp_path, version=version)


# ------------------------------------------------------------------------------------------------ LFW

_PEOPLE = {"Aaron_Eckhart": 1, "Abba_Eban": 2, "Zico": 3, "Zoe_Ball": 1}


@pytest.fixture
def lfw_root(tmp_path, monkeypatch):
    base = tmp_path / "lfw-py"
    seed = 0
    for name, n in _PEOPLE.items():
        for k in range(1, n + 1):
            seed += 1
            write_image(tmp_path / "imgs" / "lfw_funneled" / name / f"{name}_{k:04d}.jpg", seed)
    files = {"lfw-funneled.tgz": tar_bytes(tmp_path / "imgs"),
             "lfw-names.txt": "".join(f"{nm}\t{n}\n" for nm, n in _PEOPLE.items()),
             "people.txt": "2\n2\nAbba_Eban\t2\nZico\t3\n2\nAaron_Eckhart\t1\nZoe_Ball\t1\n",
             "peopleDevTrain.txt": "2\nZico\t3\nAaron_Eckhart\t1\n",
             "peopleDevTest.txt": "1\nAbba_Eban\t2\n",
             "pairs.txt": "2\t1\nZico\t1\t3\nAbba_Eban\t1\tZico\t2\nAbba_Eban\t1\t2\nZoe_Ball\t1\tZico\t3\n",
             "pairsDevTrain.txt": "1\nZico\t2\t3\nAaron_Eckhart\t1\tZoe_Ball\t1\n",
             "pairsDevTest.txt": ("2\nZico\t1\t2\nAbba_Eban\t2\t1\nZico\t1\tAbba_Eban\t1\n"
                                  "Zoe_Ball\t1\tAbba_Eban\t2\n")}
    sums = {}
    for name, blob in files.items():
        sums[name] = md5(write(base / name, blob).read_bytes())
    shutil.copytree(tmp_path / "imgs" / "lfw_funneled", base / "lfw_funneled")
    file_dict = dict(datasets.LFWPeople.file_dict, funneled=("lfw_funneled", "lfw-funneled.tgz",
                                                             sums["lfw-funneled.tgz"]))
    checksums = {k: sums[k] for k in datasets.LFWPeople.checksums}
    for cls in (require("visionlite.datasets.lfw")._LFW, require("torchvision.datasets.lfw")._LFW):
        monkeypatch.setattr(cls, "file_dict", file_dict)
        monkeypatch.setattr(cls, "checksums", checksums)
    return tmp_path


@pytest.mark.parametrize("split", ["10fold", "train", "test"])
def test_lfw_people_and_pairs(lfw_root, split):
    ours = datasets.LFWPeople(lfw_root, split=split)
    assert_same_dataset(ours, tvd.LFWPeople(lfw_root, split=split), ["class_to_idx", "data", "targets"])
    pairs = datasets.LFWPairs(lfw_root, split=split)
    assert_same_dataset(pairs, tvd.LFWPairs(lfw_root, split=split), ["pair_names", "data", "targets"])
    assert "Classes (identities): 4" in repr(ours)


def test_lfw_download_and_missing_files(lfw_root):
    with pytest.raises(ValueError, match="no longer available.*lfw-funneled.tgz, people.txt, lfw-names.txt"):
        datasets.LFWPeople(lfw_root, download=True)
    (lfw_root / "lfw-py" / "pairsDevTest.txt").unlink()
    with pytest.raises(RuntimeError, match="pairsDevTest.txt missing"):
        datasets.LFWPairs(lfw_root, split="test")
    with pytest.raises(RuntimeError, match="lfw-deepfunneled.tgz"):
        datasets.LFWPeople(lfw_root, image_set="deepfunneled")
    with pytest.raises(ValueError, match="image_set"):
        datasets.LFWPeople(lfw_root, image_set="aligned")


def _size(image):
    return image.size


def _as_int(target):
    return int(target)


def test_transforms_apply_as_in_torchvision(lfw_root, celeba_root):
    kw = {"transform": _size, "target_transform": repr}
    assert_same_dataset(datasets.LFWPairs(lfw_root, **kw), tvd.LFWPairs(lfw_root, **kw))
    assert datasets.LFWPairs(lfw_root, **kw)[0] == ((7, 5), (7, 5), "1")
    assert_same_dataset(datasets.LFWPeople(lfw_root, **kw), tvd.LFWPeople(lfw_root, **kw))
    kw = {"transform": _size, "target_transform": _as_int, "target_type": "identity"}
    assert_same_dataset(datasets.CelebA(celeba_root, **kw), tvd.CelebA(celeba_root, **kw))


def test_wrap_for_transforms_v2_as_torchvision(celeba_root, tmp_path):
    v2 = require("torchvision.tv_tensors")
    from visionlite.datasets import wrap_dataset_for_transforms_v2 as ours_wrap
    from visionlite.transforms.v2.tv_tensors import BoundingBoxes

    tv_wrap = require("torchvision.datasets").wrap_dataset_for_transforms_v2
    kw = {"target_type": ["bbox", "identity"]}
    ours, theirs = ours_wrap(datasets.CelebA(celeba_root, **kw)), tv_wrap(tvd.CelebA(celeba_root, **kw))
    for i in range(len(ours)):
        (_, (box, ident)), (_, (ref_box, ref_ident)) = ours[i], theirs[i]
        assert isinstance(box, BoundingBoxes) and isinstance(ref_box, v2.BoundingBoxes)
        assert box.format.name == ref_box.format.name == "XYXY"
        assert tuple(box.canvas_size) == ref_box.canvas_size
        np.testing.assert_array_equal(box.numpy(), ref_box.numpy())
        assert int(ident) == int(ref_ident)
    with pytest.raises(RuntimeError, match="attr"):
        ours_wrap(datasets.CelebA(celeba_root, target_type="attr"))
    write_image(tmp_path / "c256" / "caltech256" / "256_ObjectCategories" / "001.ak47" / "001_0001.jpg", 0)
    wrapped = ours_wrap(datasets.Caltech256(tmp_path / "c256"))
    assert wrapped[0][1] == 0
