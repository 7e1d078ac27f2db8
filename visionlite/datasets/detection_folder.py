"""A detection dataset in a simple folder format, returning tv_tensors for the v2 joint transforms::

    root/images/<name>.<png|jpg|...>
    root/labels/<name>.json     {"boxes": [[x0, y0, x1, y1], ...], "labels": ["cat", ...],
                                 "masks": "masks/<name>.png"}      (masks optional)
    root/classes.txt            one class name a line (optional: else the sorted names found)

The masks PNG holds instance indices: pixel value ``k`` (1-based) belongs to the ``k``-th box, 0 to none.
An image without a labels file has no objects.
"""
import json
import os

import numpy as np

from .vision import VisionDataset

__all__ = ["DetectionFolder"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")


class DetectionFolder(VisionDataset):
    """Images with boxes, labels and optional instance masks (see the module docstring for the layout).

    Items are ``(Image (3, H, W) uint8, target)`` with ``target`` a dict of ``boxes`` (``BoundingBoxes``,
    XYXY), ``labels`` (int64, 1-based index into ``classes``; 0 is the background), ``masks`` (``Mask``
    (N, H, W) uint8, when the image has a mask file) and ``image_id`` (the item's index).
    ``transforms`` is called on ``(image, target)``.
    """

    def __init__(self, root, transforms=None):
        super().__init__(root, transforms)
        image_dir = os.path.join(root, "images")
        if not os.path.isdir(image_dir):
            raise FileNotFoundError(f"{root} has no images/ folder; DetectionFolder expects images/ and "
                                    "labels/")
        self.files = sorted(f for f in os.listdir(image_dir) if f.lower().endswith(IMAGE_EXTENSIONS))
        if not self.files:
            raise FileNotFoundError(f"{image_dir} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
        self.labels = [self._read_label(f) for f in self.files]
        classes_file = os.path.join(root, "classes.txt")
        if os.path.exists(classes_file):
            with open(classes_file) as f:
                self.classes = [line.strip() for line in f if line.strip()]
        else:
            self.classes = sorted({name for lab in self.labels for name in lab.get("labels", [])})
        self.class_to_idx = {name: i + 1 for i, name in enumerate(self.classes)}
        for file, lab in zip(self.files, self.labels):
            unknown = set(lab.get("labels", [])) - set(self.class_to_idx)
            if unknown:
                raise ValueError(f"labels/{os.path.splitext(file)[0]}.json names {sorted(unknown)}, which "
                                 f"{classes_file} does not list")
            if len(lab.get("boxes", [])) != len(lab.get("labels", [])):
                name = os.path.splitext(file)[0]
                raise ValueError(f"labels/{name}.json: {len(lab.get('boxes', []))} boxes but "
                                 f"{len(lab.get('labels', []))} labels")

    def _read_label(self, file):
        path = os.path.join(self.root, "labels", os.path.splitext(file)[0] + ".json")
        if not os.path.exists(path):
            return {}
        with open(path) as f:
            return json.load(f)

    def __len__(self):
        return len(self.files)

    def __getitem__(self, index):
        from PIL import Image as PILImage

        import visionlite as vl
        from visionlite.transforms.v2 import functional as F
        from visionlite.transforms.v2.tv_tensors import BoundingBoxes, Mask

        with PILImage.open(os.path.join(self.root, "images", self.files[index])) as img:
            image = F.to_image(img.convert("RGB"))
        h, w = image.shape[-2:]
        lab = self.labels[index]
        boxes = np.asarray(lab.get("boxes", []), np.float32).reshape(-1, 4)
        target = {"boxes": BoundingBoxes(boxes, format="XYXY", canvas_size=(h, w)),
                  "labels": vl.tensor(np.array([self.class_to_idx[n] for n in lab.get("labels", [])],
                                               np.int64)),
                  "image_id": index}
        if lab.get("masks"):
            with PILImage.open(os.path.join(self.root, lab["masks"])) as m:
                instance = np.asarray(m)
            ids = np.arange(1, len(boxes) + 1, dtype=instance.dtype)
            target["masks"] = Mask(vl.tensor((instance[None] == ids[:, None, None]).astype(np.uint8)))
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target
