"""COCO detection and captions, read straight from the official annotation JSON (no pycocotools)."""
import json
import os

from ._image import open_image
from .vision import VisionDataset

__all__ = ["CocoDetection", "CocoCaptions"]


class CocoDetection(VisionDataset):
    """`MS COCO <https://cocodataset.org/#detection-2016>`_ detection: images and their annotations.

    Args:
        root: folder holding the images named by the annotation file's ``file_name`` fields.
        annFile: the annotation JSON (e.g. ``annotations/instances_val2017.json``).
        transform: callable on the PIL image (RGB).
        target_transform: callable on the target (a list of annotation dicts).
        transforms: callable on ``(image, target)``; exclusive with the two above.

    Items are in increasing image id; an image's target lists its annotations in file order, as
    pycocotools' ``loadAnns(getAnnIds(id))`` returns them.
    """

    def __init__(self, root, annFile, transform=None, target_transform=None, transforms=None):
        super().__init__(root, transforms, transform, target_transform)
        with open(annFile, encoding="utf-8") as f:
            try:
                dataset = json.load(f)
            except json.JSONDecodeError as e:
                raise RuntimeError(f"{annFile} is not valid JSON ({e})") from None
        if not isinstance(dataset, dict) or "images" not in dataset:
            raise RuntimeError(f"{annFile} is not a COCO annotation file: it has no 'images' list")
        self.imgs = {img["id"]: img for img in dataset["images"]}
        self.anns_by_image = {i: [] for i in self.imgs}
        for ann in dataset.get("annotations", []):
            self.anns_by_image.setdefault(ann["image_id"], []).append(ann)
        self.cats = {c["id"]: c for c in dataset.get("categories", [])}
        self.ids = sorted(self.imgs)

    def _load_image(self, img_id):
        path = os.path.join(self.root, self.imgs[img_id]["file_name"])
        return open_image(path, "RGB", f"COCO image (id {img_id})")

    def _load_target(self, img_id):
        return list(self.anns_by_image.get(img_id, []))

    def __getitem__(self, index):
        """``(image, target)`` for the ``index``-th image id, after ``transforms``."""
        if not isinstance(index, int):
            raise ValueError(f"Index must be of type integer, got {type(index)} instead.")
        img_id = self.ids[index]
        image, target = self._load_image(img_id), self._load_target(img_id)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def __len__(self):
        return len(self.ids)


class CocoCaptions(CocoDetection):
    """`MS COCO captions <https://cocodataset.org/#captions-2015>`_: each target is the list of caption
    strings of its image; same arguments as CocoDetection (with a ``captions_*.json`` file)."""

    def _load_target(self, img_id):
        return [ann["caption"] for ann in super()._load_target(img_id)]
