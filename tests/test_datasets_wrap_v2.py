"""datasets.wrap_dataset_for_transforms_v2 against TorchVision's wrapper on the same files: VOC detection
and segmentation, COCO detection (boxes, labels, polygon and RLE masks), classification pass-through, and
the v2 transforms then moving boxes with the image."""
import io
import json
import pickle

import numpy as np
import pytest
from PIL import Image as PILImage

import visionlite as vl
from visionlite import datasets
from visionlite.datasets import _coco_mask
from visionlite.transforms import v2 as V
from visionlite.transforms.v2 import tv_tensors as tvt

torch = pytest.importorskip("torch")
tv_datasets = pytest.importorskip("torchvision.datasets")
from torchvision.transforms import v2 as TV2  # noqa: E402

VOC_XML = """<annotation><filename>{name}.jpg</filename>
<size><width>24</width><height>18</height><depth>3</depth></size>{objects}</annotation>"""
OBJECT = ("<object><name>{cls}</name><difficult>0</difficult>"
          "<bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>")


def _png(seed, size=(24, 18), mode="RGB"):
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    buf = io.BytesIO()
    img = PILImage.fromarray(rng.integers(0, 21 if mode == "P" else 255, shape, dtype=np.uint8), mode=mode)
    if mode == "P":
        img.putpalette(list(range(256)) * 3)
    img.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def voc_root(tmp_path):
    base = tmp_path / "VOCdevkit" / "VOC2012"
    files = {"ImageSets/Main/train.txt": b"a\nb\n", "ImageSets/Segmentation/train.txt": b"a\nb\n"}
    for seed, (name, objects) in enumerate((("a", [("dog", 1, 2, 10, 12)]),
                                            ("b", [("cat", 0, 0, 23, 17), ("person", 5, 6, 9, 11)]))):
        xml = VOC_XML.format(name=name, objects="".join(
            OBJECT.format(cls=c, x0=x0, y0=y0, x1=x1, y1=y1) for c, x0, y0, x1, y1 in objects))
        files[f"Annotations/{name}.xml"] = xml.encode()
        files[f"JPEGImages/{name}.jpg"] = _png(seed)
        files[f"SegmentationClass/{name}.png"] = _png(10 + seed, mode="P")
    for rel, data in files.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_bytes(data)
    return tmp_path


def _same(ours, theirs):
    if isinstance(theirs, dict):
        assert set(ours) == set(theirs)
        for k in theirs:
            _same(ours[k], theirs[k])
        return
    if isinstance(theirs, (tuple, list)) and not isinstance(theirs, str):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
        return
    if isinstance(theirs, PILImage.Image):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
        return
    if isinstance(theirs, torch.Tensor):
        assert type(ours).__name__ == type(theirs).__name__
        assert ours.numpy().dtype == theirs.numpy().dtype
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        if hasattr(theirs, "canvas_size"):
            assert tuple(ours.canvas_size) == tuple(theirs.canvas_size)
            assert ours.format.name == theirs.format.name
        return
    assert ours == theirs


@pytest.mark.parametrize("target_keys", [None, "all", {"labels"}])
def test_voc_detection_matches_torchvision(voc_root, target_keys):
    ours = datasets.wrap_dataset_for_transforms_v2(datasets.VOCDetection(voc_root), target_keys)
    theirs = tv_datasets.wrap_dataset_for_transforms_v2(tv_datasets.VOCDetection(voc_root), target_keys)
    assert len(ours) == len(theirs) == 2 and type(ours).__name__ == "WrappedVOCDetection"
    for i in range(2):
        _same(ours[i], theirs[i])


def test_voc_segmentation_matches_torchvision(voc_root):
    ours = datasets.wrap_dataset_for_transforms_v2(datasets.VOCSegmentation(voc_root))
    theirs = tv_datasets.wrap_dataset_for_transforms_v2(tv_datasets.VOCSegmentation(voc_root))
    for i in range(2):
        _same(ours[i], theirs[i])
    with pytest.raises(ValueError, match="only supported"):
        datasets.wrap_dataset_for_transforms_v2(datasets.VOCSegmentation(voc_root), target_keys={"boxes"})


def test_transforms_move_to_the_wrapper_and_run_after_it(voc_root):
    pipeline = V.Compose([V.ToImage(), V.RandomHorizontalFlip(p=1.0), V.Resize((9, 12))])
    ours = datasets.wrap_dataset_for_transforms_v2(datasets.VOCDetection(voc_root, transforms=pipeline))
    tv_pipeline = TV2.Compose([TV2.ToImage(), TV2.RandomHorizontalFlip(p=1.0), TV2.Resize((9, 12))])
    theirs = tv_datasets.VOCDetection(voc_root, transforms=tv_pipeline)
    theirs = tv_datasets.wrap_dataset_for_transforms_v2(theirs)
    assert ours.transforms is pipeline and ours._dataset.transforms is None
    for i in range(2):
        (img, target), (ref_img, ref_target) = ours[i], theirs[i]
        assert isinstance(img, tvt.Image)
        np.testing.assert_array_equal(img.numpy(), ref_img.numpy())
        np.testing.assert_allclose(target["boxes"].numpy(), ref_target["boxes"].numpy())
        assert tuple(target["boxes"].canvas_size) == (9, 12)
    again = pickle.loads(pickle.dumps(ours))
    assert again.transforms is not None and len(again) == 2


def test_classification_datasets_pass_through_and_others_are_refused(tmp_path):
    (tmp_path / "cls" / "x").mkdir(parents=True)
    (tmp_path / "cls" / "x" / "0.png").write_bytes(_png(1))
    folder = datasets.ImageFolder(str(tmp_path / "cls"))
    wrapped = datasets.wrap_dataset_for_transforms_v2(folder)
    img, label = wrapped[0]
    assert label == 0 and img.size == (24, 18)
    with pytest.raises(TypeError, match="No wrapper"):
        datasets.wrap_dataset_for_transforms_v2(datasets.FakeData(size=2))
    with pytest.raises(TypeError, match="VisionDataset"):
        datasets.wrap_dataset_for_transforms_v2([1, 2])
    with pytest.raises(ValueError, match="target_keys"):
        datasets.wrap_dataset_for_transforms_v2(folder, target_keys=3)


# ------------------------------------------------------------------------------------------ COCO
SQUARE = [[2.2, 3.2, 12.2, 3.2, 12.2, 9.2, 2.2, 9.2]]
TRIANGLE = [[5.2, 1.1, 20.7, 8.3, 3.9, 15.6], [18.0, 12.0, 22.0, 12.0, 20.0, 16.5]]


def _coco_files(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "1.png").write_bytes(_png(3))
    (tmp_path / "img" / "2.png").write_bytes(_png(4))
    rle_mask = np.zeros((18, 24), np.uint8)
    rle_mask[4:7, 10:15] = 1
    runs = [int(4 + 18 * 10), 3] + [15, 3] * 4 + [int(18 * 24 - (4 + 18 * 10) - 3 - 18 * 4)]
    anns = [
        {"id": 1, "image_id": 1, "category_id": 18, "bbox": [2.2, 3.2, 10.0, 6.0], "area": 60.0,
         "iscrowd": 0, "segmentation": SQUARE},
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [3.9, 1.1, 18.1, 15.4], "area": 100.0,
         "iscrowd": 0, "segmentation": TRIANGLE},
        {"id": 3, "image_id": 1, "category_id": 3, "bbox": [10.0, 4.0, 5.0, 3.0], "area": 15.0,
         "iscrowd": 1, "segmentation": {"counts": runs, "size": [18, 24]}},
    ]
    ann_file = tmp_path / "ann.json"
    images = [{"id": 1, "file_name": "1.png"}, {"id": 2, "file_name": "2.png"}]
    categories = [{"id": 1}, {"id": 3}, {"id": 18}]
    ann_file.write_text(json.dumps({"images": images, "annotations": anns, "categories": categories}))
    return str(tmp_path / "img"), str(ann_file), anns, rle_mask


def _torchvision_coco(root, anns):
    """TorchVision's CocoDetection without pycocotools' index: the wrapper only reads ``ids`` and items."""
    class Coco(tv_datasets.CocoDetection):
        def __init__(self):
            tv_datasets.VisionDataset.__init__(self, root)
            self.ids = [1, 2]

        def _load_image(self, id):
            return PILImage.open(f"{root}/{id}.png").convert("RGB")

        def _load_target(self, id):
            return [a for a in anns if a["image_id"] == id]

    return Coco()


def test_coco_detection_boxes_and_labels_match_torchvision(tmp_path):
    root, ann_file, anns, _ = _coco_files(tmp_path)
    keys = {"image_id", "boxes", "labels", "area", "iscrowd", "bbox", "category_id"}
    for target_keys in (None, keys):
        ours = datasets.wrap_dataset_for_transforms_v2(datasets.CocoDetection(root, ann_file), target_keys)
        theirs = tv_datasets.wrap_dataset_for_transforms_v2(_torchvision_coco(root, anns), target_keys)
        for i in range(2):
            _same(ours[i], theirs[i])
    assert ours[1][1] == {"image_id": 2}


def test_coco_masks_from_polygons_and_rle(tmp_path):
    root, ann_file, anns, rle_mask = _coco_files(tmp_path)
    dataset = datasets.CocoDetection(root, ann_file)
    wrapped = datasets.wrap_dataset_for_transforms_v2(dataset, target_keys="all")
    masks = wrapped[0][1]["masks"]
    assert isinstance(masks, tvt.Mask) and masks.shape == (3, 18, 24) and masks.dtype == vl.uint8
    np.testing.assert_array_equal(masks.numpy()[2], rle_mask)
    # an axis-aligned rectangle covers the pixels whose centres it holds
    square = np.zeros((18, 24), np.uint8)
    square[3:9, 2:12] = 1
    np.testing.assert_array_equal(masks.numpy()[0], square)


def test_coco_polygons_and_compressed_rle_match_pycocotools():
    mask_api = pytest.importorskip("pycocotools.mask")
    rng = np.random.default_rng(0)
    for _ in range(40):
        h, w = int(rng.integers(5, 40)), int(rng.integers(5, 40))
        polys = [np.stack([rng.uniform(-2, w + 2, 6), rng.uniform(-2, h + 2, 6)], 1).reshape(-1).tolist()
                 for _ in range(2)]
        ref = mask_api.decode(mask_api.merge(mask_api.frPyObjects(polys, h, w)))
        np.testing.assert_array_equal(_coco_mask.segmentation_to_mask(polys, h, w), ref)
        rle = mask_api.encode(np.asfortranarray(ref))
        np.testing.assert_array_equal(_coco_mask.segmentation_to_mask(rle, h, w), ref)
