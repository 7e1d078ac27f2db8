"""Stanford Cars: 196 car models, 8,144 training and 8,041 test images, with the devkit's .mat
annotations (read by visionlite's own MATLAB 5 reader, no scipy)."""
import pathlib

import numpy as np

from ._matlab import load_mat
from .folder import default_loader
from .utils import not_found_message, verify_str_arg
from .vision import VisionDataset

__all__ = ["StanfordCars"]


def _scalar(value):
    """A MATLAB 1x1 value (char row or number) as a Python str or int."""
    value = np.asarray(value).ravel()
    if value.size != 1:
        raise ValueError(f"expected one value, got {value.size}")
    item = value[0].item() if hasattr(value[0], "item") else value[0]
    return item if isinstance(item, str) else int(item)


class StanfordCars(VisionDataset):
    """Stanford Cars (https://ai.stanford.edu/~jkrause/cars/car_dataset.html; no longer online).

    Args:
        root: folder holding ``stanford_cars/`` laid out as
            ``devkit/{cars_meta.mat, cars_train_annos.mat}``, ``cars_train/*.jpg``,
            ``cars_test/*.jpg`` and ``cars_test_annos_withlabels.mat``.
        split: ``'train'`` or ``'test'``.
        transform: callable on the image (PIL RGB with the default loader).
        target_transform: callable on the int class (0-based).
        download: kept for compatibility; True raises ValueError, as the original files are gone.
        loader: callable reading an image path.

    The files must be obtained elsewhere (e.g. a copy of the original release) and placed as above.
    """

    def __init__(self, root, split="train", transform=None, target_transform=None, download=False,
                 loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._split = verify_str_arg(split, "split", ("train", "test"))
        self._base_folder = pathlib.Path(self.root) / "stanford_cars"
        devkit = self._base_folder / "devkit"
        if self._split == "train":
            self._annotations_mat_path = devkit / "cars_train_annos.mat"
            self._images_base_path = self._base_folder / "cars_train"
        else:
            self._annotations_mat_path = self._base_folder / "cars_test_annos_withlabels.mat"
            self._images_base_path = self._base_folder / "cars_test"
        if download:
            self.download()
        meta = devkit / "cars_meta.mat"
        missing = [p for p in (meta, self._annotations_mat_path) if not p.is_file()]
        missing += [self._images_base_path] if not self._images_base_path.is_dir() else []
        if missing:
            raise RuntimeError(not_found_message("StanfordCars", self.root,
                                                 [str(p.relative_to(self.root)) for p in missing])
                               .replace("pass download=True to fetch it, or ", "it cannot be downloaded any "
                                        "more: "))
        annotations = self._variable(self._annotations_mat_path, "annotations")
        try:
            self._samples = [(str(self._images_base_path / _scalar(a["fname"])), _scalar(a["class"]) - 1)
                             for a in annotations.ravel()]
        except (KeyError, TypeError, ValueError) as e:
            raise RuntimeError(f"{self._annotations_mat_path}: annotations lack fname/class ({e})") from None
        self.classes = [str(c) if isinstance(c, str) else _scalar(c)
                        for c in self._variable(meta, "class_names").ravel()]
        self.class_to_idx = {cls: i for i, cls in enumerate(self.classes)}
        self.loader = loader

    @staticmethod
    def _variable(path, name):
        mat = load_mat(path, structs=True)
        if name not in mat:
            raise RuntimeError(f"{path} has no variable {name!r} (found {sorted(mat)})")
        return mat[name]

    def __len__(self):
        return len(self._samples)

    def __getitem__(self, idx):
        """``(image, target)``: the loaded image and the int class."""
        image_path, target = self._samples[idx]
        image = self.loader(image_path)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def _check_exists(self):
        if not (self._base_folder / "devkit").is_dir():
            return False
        return self._annotations_mat_path.exists() and self._images_base_path.is_dir()

    def download(self):
        raise ValueError("The original URL is broken so the StanfordCars dataset cannot be downloaded "
                         "anymore.")
