"""KITTI object detection (left colour images, 2D/3D boxes), from the official image and label zips."""
import csv
import os

from ..download import once_per_machine
from ._image import open_image
from .utils import download_and_extract_archive, not_found_message
from .vision import VisionDataset

__all__ = ["Kitti"]


class Kitti(VisionDataset):
    """`KITTI <http://www.cvlibs.net/datasets/kitti/eval_object.php?obj_benchmark>`_ object detection.

    Args:
        root: folder holding ``Kitti/raw/training/{image_2,label_2}`` and ``Kitti/raw/testing/image_2``.
        train: the training split (with labels) if True, else the test split (target None).
        transform, target_transform, transforms: as for VisionDataset.
        download: fetch and extract ``data_object_image_2.zip`` and ``data_object_label_2.zip`` (KITTI
            publishes no checksums, so none is checked).

    A target is a list of dicts, one per object: ``type`` (str), ``truncated`` (float), ``occluded`` (int),
    ``alpha`` (float), ``bbox`` (4 floats, XYXY pixels), ``dimensions`` (3 floats), ``location``
    (3 floats), ``rotation_y`` (float).
    """

    data_url = "https://s3.eu-central-1.amazonaws.com/avg-kitti/"
    resources = ["data_object_image_2.zip", "data_object_label_2.zip"]
    image_dir_name = "image_2"
    labels_dir_name = "label_2"

    def __init__(self, root, train=True, transform=None, target_transform=None, transforms=None,
                 download=False):
        super().__init__(root, transform=transform, target_transform=target_transform, transforms=transforms)
        self.images, self.targets = [], []
        self.train = train
        self._location = "training" if self.train else "testing"
        if download:
            with once_per_machine():
                self.download()
        missing = [os.path.join("Kitti", "raw", self._location, d) for d in self._folders()
                   if not os.path.isdir(os.path.join(self._raw_folder, self._location, d))]
        if missing:
            raise RuntimeError(not_found_message("Kitti", self.root, missing))
        image_dir = os.path.join(self._raw_folder, self._location, self.image_dir_name)
        labels_dir = os.path.join(self._raw_folder, self._location, self.labels_dir_name)
        for img_file in os.listdir(image_dir):  # listing order, as TorchVision
            self.images.append(os.path.join(image_dir, img_file))
            if self.train:
                self.targets.append(os.path.join(labels_dir, f"{img_file.split('.')[0]}.txt"))

    def _folders(self):
        return [self.image_dir_name] + ([self.labels_dir_name] if self.train else [])

    def __getitem__(self, index):
        """``(image, target)``: the PIL image and the list of object dicts (None for the test split)."""
        image = open_image(self.images[index], what="KITTI image")
        target = self._parse_target(index) if self.train else None
        if self.transforms:
            image, target = self.transforms(image, target)
        return image, target

    def _parse_target(self, index):
        path = self.targets[index]
        target = []
        with open(path) as inp:
            for n, line in enumerate(csv.reader(inp, delimiter=" "), 1):
                try:
                    target.append({
                        "type": line[0], "truncated": float(line[1]), "occluded": int(line[2]),
                        "alpha": float(line[3]), "bbox": [float(x) for x in line[4:8]],
                        "dimensions": [float(x) for x in line[8:11]],
                        "location": [float(x) for x in line[11:14]], "rotation_y": float(line[14])})
                except (IndexError, ValueError) as e:
                    raise RuntimeError(f"KITTI label file {path}, line {n}: expected 15 space-separated "
                                       f"fields ({e})") from None
        return target

    def __len__(self):
        return len(self.images)

    @property
    def _raw_folder(self):
        return os.path.join(self.root, type(self).__name__, "raw")

    def _check_exists(self):
        return all(os.path.isdir(os.path.join(self._raw_folder, self._location, d)) for d in self._folders())

    def download(self):
        """Fetch and extract the image and label zips into ``root/Kitti/raw``."""
        if self._check_exists():
            return
        os.makedirs(self._raw_folder, exist_ok=True)
        for fname in self.resources:
            download_and_extract_archive(url=f"{self.data_url}{fname}", download_root=self._raw_folder,
                                         filename=fname)
