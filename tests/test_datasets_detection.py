"""COCO (annotation JSON in the official schema, shipped as a zip) and Pascal VOC (the VOCtrainval
tarball layout), downloaded from a local server, extracted and loaded; VOC compared with TorchVision."""
import hashlib
import io
import json
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from tests.helpers.refs import require
from visionlite import download as dl
from visionlite.datasets import CocoCaptions, CocoDetection, VOCDetection, VOCSegmentation, voc
from visionlite.datasets.utils import download_and_extract_archive


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(dl, "BACKOFF_BASE", 0.001)


def png_bytes(seed, size=(6, 4), mode="RGB"):
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    img = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))
    if mode == "P":
        img = img.convert("P")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def broken_png_bytes():
    """A PNG whose second IDAT chunk has a damaged header: PIL opens it, then fails with SyntaxError."""
    pixels = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)  # > 64 KiB: 2 IDATs
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    blob = bytearray(buf.getvalue())
    second = blob.index(b"IDAT", blob.index(b"IDAT") + 4)
    blob[second] = ord("?")
    return bytes(blob)


COCO = {
    "info": {"description": "test"}, "licenses": [],
    "images": [{"id": 42, "file_name": "000042.jpg", "width": 6, "height": 4},
               {"id": 7, "file_name": "000007.jpg", "width": 6, "height": 4},
               {"id": 9, "file_name": "000009.jpg", "width": 6, "height": 4}],
    "annotations": [
        {"id": 1, "image_id": 42, "category_id": 18, "bbox": [1.0, 1.0, 2.0, 2.0], "area": 4.0, "iscrowd": 0,
         "segmentation": [[1, 1, 3, 1, 3, 3]], "caption": "a dog"},
        {"id": 2, "image_id": 7, "category_id": 1, "bbox": [0.0, 0.0, 1.0, 3.0], "area": 3.0, "iscrowd": 0,
         "segmentation": [[0, 0, 1, 0, 1, 3]], "caption": "a person"},
        {"id": 3, "image_id": 42, "category_id": 1, "bbox": [2.0, 0.0, 1.0, 1.0], "area": 1.0, "iscrowd": 0,
         "segmentation": [[2, 0, 3, 0, 3, 1]], "caption": "another"},
    ],
    "categories": [{"id": 1, "name": "person", "supercategory": "person"},
                   {"id": 18, "name": "dog", "supercategory": "animal"}],
}


def test_coco_detection_from_downloaded_zip(local_http_server, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("annotations/instances_val2017.json", json.dumps(COCO))
        for img in COCO["images"]:
            zf.writestr(f"val2017/{img['file_name']}", png_bytes(img["id"]))
    blob = buf.getvalue()
    local_http_server.add_file("annotations_trainval2017.zip", blob)
    download_and_extract_archive(local_http_server.url("annotations_trainval2017.zip"), tmp_path,
                                 md5=hashlib.md5(blob).hexdigest())
    ann = tmp_path / "annotations" / "instances_val2017.json"
    ds = CocoDetection(tmp_path / "val2017", ann)
    assert len(ds) == 3 and ds.ids == [7, 9, 42]
    img, target = ds[2]
    assert img.mode == "RGB" and img.size == (6, 4)
    np.testing.assert_array_equal(np.asarray(img), np.asarray(Image.open(io.BytesIO(png_bytes(42)))))
    assert target == [COCO["annotations"][0], COCO["annotations"][2]]  # file order
    assert ds[1][1] == []  # an image without annotations
    caps = CocoCaptions(tmp_path / "val2017", ann, target_transform=len)
    assert caps[2][1] == 2 and CocoCaptions(tmp_path / "val2017", ann)[0][1] == ["a person"]
    both = CocoDetection(tmp_path / "val2017", ann, transforms=lambda im, t: (im.size, [a["id"] for a in t]))
    assert both[2] == ((6, 4), [1, 3])
    with pytest.raises(ValueError, match="Only transforms or transform/target_transform"):
        CocoDetection(tmp_path / "val2017", ann, transform=len, transforms=len)
    (tmp_path / "val2017" / "000007.jpg").write_bytes(b"broken")
    with pytest.raises(OSError, match="000007.jpg"):
        ds[0]
    (tmp_path / "val2017" / "000007.jpg").write_bytes(broken_png_bytes())
    with pytest.raises(OSError, match="(?s)000007.jpg.*broken PNG file"):
        ds[0]


def test_images_over_pils_size_limit_name_their_file(voc_root, monkeypatch, tmp_path):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5)  # 6x4 test images are then "decompression bombs"
    with pytest.raises(Image.DecompressionBombError, match="2007_000001.jpg"):
        VOCDetection(voc_root)[0]
    (tmp_path / "val").mkdir()
    (tmp_path / "val" / "000042.jpg").write_bytes(png_bytes(0))
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(COCO))
    with pytest.raises(Image.DecompressionBombError, match="000042.jpg"):
        CocoDetection(tmp_path / "val", ann)[2]


def test_voc_broken_png_names_its_file(voc_root):
    mask = voc_root / "VOCdevkit" / "VOC2012" / "SegmentationClass" / "2007_000002.png"
    mask.write_bytes(broken_png_bytes())
    with pytest.raises(OSError, match="(?s)2007_000002.png.*broken PNG file"):
        VOCSegmentation(voc_root)[0]


VOC_XML = """<annotation>
    <folder>VOC2012</folder>
    <filename>{name}.jpg</filename>
    <size><width>6</width><height>4</height><depth>3</depth></size>
    <segmented>1</segmented>
    {objects}
</annotation>"""
OBJECT = ("<object><name>{cls}</name><pose>Left</pose><truncated>0</truncated><difficult>0</difficult>"
          "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>{x}</xmax><ymax>3</ymax></bndbox></object>")


def voc_tarball():
    base = "VOCdevkit/VOC2012/"
    files = {base + "ImageSets/Main/train.txt": b"2007_000001\n2007_000002\n",
             base + "ImageSets/Segmentation/train.txt": b"2007_000002\n"}
    for i, objects in ((1, [("dog", 3)]), (2, [("cat", 4), ("person", 5)])):
        name = f"2007_00000{i}"
        xml = VOC_XML.format(name=name, objects="".join(OBJECT.format(cls=c, x=x) for c, x in objects))
        files[base + f"Annotations/{name}.xml"] = xml.encode()
        files[base + f"JPEGImages/{name}.jpg"] = png_bytes(i)  # content sniffed by PIL, not the suffix
        files[base + f"SegmentationClass/{name}.png"] = png_bytes(10 + i, mode="P")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def voc_root(local_http_server, tmp_path, monkeypatch):
    blob = voc_tarball()
    local_http_server.add_file("voc2012/VOCtrainval_11-May-2012.tar", blob)
    base = voc.DATASET_YEAR_DICT["2012"][2]
    url = local_http_server.url("voc2012/VOCtrainval_11-May-2012.tar")
    monkeypatch.setitem(voc.DATASET_YEAR_DICT, "2012", (url, hashlib.md5(blob).hexdigest(), base))
    VOCDetection(tmp_path, download=True)
    return tmp_path


def test_voc_detection_matches_torchvision(voc_root):
    tv_datasets = require("torchvision.datasets")
    ours, theirs = VOCDetection(voc_root), tv_datasets.VOCDetection(voc_root)
    assert len(ours) == len(theirs) == 2
    for i in range(2):
        (img, target), (ref_img, ref_target) = ours[i], theirs[i]
        assert target == ref_target
        np.testing.assert_array_equal(np.asarray(img), np.asarray(ref_img))
    assert isinstance(ours[0][1]["annotation"]["object"], list)
    assert ours[1][1]["annotation"]["object"][1]["bndbox"]["xmax"] == "5"


def test_voc_segmentation_matches_torchvision(voc_root):
    tv_datasets = require("torchvision.datasets")
    ours, theirs = VOCSegmentation(voc_root), tv_datasets.VOCSegmentation(voc_root)
    assert len(ours) == 1
    (img, mask), (ref_img, ref_mask) = ours[0], theirs[0]
    assert mask.mode == ref_mask.mode == "P" and img.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(mask), np.asarray(ref_mask))
    np.testing.assert_array_equal(np.asarray(img), np.asarray(ref_img))


def test_voc_arguments_and_missing_files(tmp_path):
    with pytest.raises(RuntimeError, match="download=True"):
        VOCDetection(tmp_path)
    with pytest.raises(ValueError, match="Unknown value 'test' for argument image_set"):
        VOCDetection(tmp_path, year="2012", image_set="test")
    with pytest.raises(ValueError, match="argument year"):
        VOCDetection(tmp_path, year="2013")
