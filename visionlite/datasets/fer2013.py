"""FER2013: 48x48 grey faces in seven expressions, from Kaggle's CSV files (sign-up only: no download)."""
import csv
import pathlib

import numpy as np
from PIL import Image

from .utils import check_integrity, verify_str_arg
from .vision import VisionDataset

__all__ = ["FER2013"]

_KAGGLE = "https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-challenge"


class FER2013(VisionDataset):
    """`FER2013 <https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-challenge>`_,
    as ``torchvision.datasets``.

    Args:
        root: folder holding ``fer2013/`` with ``fer2013.csv``, or ``icml_face_data.csv``, or both
            ``train.csv`` and ``test.csv`` (tried in that order; all from Kaggle, after sign-up).
        split: ``"train"`` or ``"test"``.
        transform, target_transform: callables on the PIL image (mode L, 48x48) and on the int label.

    Only ``fer2013.csv`` and ``icml_face_data.csv`` carry test labels; with ``test.csv`` they are None.
    """

    _RESOURCES = {
        "train": ("train.csv", "3f0dfb3d3fd99c811a1299cb947e3131"),
        "test": ("test.csv", "b02c2298636a634e8c2faabbf3ea9a23"),
        "fer": ("fer2013.csv", "f8428a1edbd21e88f42c73edd2a14f95"),
        "icml": ("icml_face_data.csv", "b114b9e04e6949e5fe8b6a98b3892b1d"),
    }

    def __init__(self, root, split="train", transform=None, target_transform=None):
        self._split = verify_str_arg(split, "split", ("train", "test"))
        super().__init__(root, transform=transform, target_transform=target_transform)
        base_folder = pathlib.Path(self.root) / "fer2013"
        use_fer = (base_folder / self._RESOURCES["fer"][0]).exists()
        use_icml = not use_fer and (base_folder / self._RESOURCES["icml"][0]).exists()
        file_name, md5 = self._RESOURCES["fer" if use_fer else "icml" if use_icml else self._split]
        data_file = base_folder / file_name
        if not check_integrity(str(data_file), md5=md5):
            raise RuntimeError(f"{file_name} not found in {base_folder} or corrupted (MD5 must be {md5}). "
                               f"You can download it from {_KAGGLE} and place it at {data_file}.")
        # icml_face_data.csv writes its column names with a leading space.
        pixels_key = " pixels" if use_icml else "pixels"
        usage_key = " Usage" if use_icml else "Usage"
        labelled = use_fer or use_icml or self._split == "train"
        keep = ("Training",) if self._split == "train" else ("PublicTest", "PrivateTest")
        self._samples = []
        with open(data_file, newline="") as f:
            for line, row in enumerate(csv.DictReader(f), 2):
                if (use_fer or use_icml) and row[usage_key] not in keep:
                    continue
                pixels = np.array(row[pixels_key].split(), dtype=np.int64)
                if pixels.size != 48 * 48 or pixels.min(initial=0) < 0 or pixels.max(initial=0) > 255:
                    raise RuntimeError(f"{data_file} line {line}: expected 2304 pixel values 0-255")
                label = int(row["emotion"]) if labelled else None
                self._samples.append((pixels.astype(np.uint8).reshape(48, 48), label))

    def __len__(self):
        return len(self._samples)

    def __getitem__(self, idx):
        """``(image, target)``: the 48x48 PIL image (mode L) and the int expression (or None)."""
        pixels, target = self._samples[idx]
        image = Image.fromarray(pixels)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def extra_repr(self):
        return f"split={self._split}"
