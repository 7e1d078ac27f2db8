"""Food-101: 101 dishes, 750 training and 250 test images each."""
import json
from pathlib import Path

from ._listed import ListedImages, fetch_archive, require_paths
from .folder import default_loader
from .utils import verify_str_arg

__all__ = ["Food101"]


class Food101(ListedImages):
    """`Food-101 <https://data.vision.ee.ethz.ch/cvl/datasets_extra/food-101/>`_, as ``torchvision.datasets``.

    Args:
        root: folder holding ``food-101/images/<class>/<id>.jpg`` and ``food-101/meta/{train,test}.json``.
        split: ``"train"`` or ``"test"``.
        transform, target_transform, loader: as in the other image datasets.
        download: fetch and extract the tarball (MD5-checked) unless the folders exist.
    """

    _URL = "http://data.vision.ee.ethz.ch/cvl/food-101.tar.gz"
    _MD5 = "85eeb15f3717b99a5da872d97d918f87"

    def __init__(self, root, split="train", transform=None, target_transform=None, download=False,
                 loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform, loader=loader)
        self._split = verify_str_arg(split, "split", ("train", "test"))
        self._base_folder = Path(self.root) / "food-101"
        self._meta_folder = self._base_folder / "meta"
        self._images_folder = self._base_folder / "images"
        if download:
            self._download()
        require_paths("Food101", self.root,
                      ["food-101/meta", "food-101/images", f"food-101/meta/{split}.json"])
        with open(self._meta_folder / f"{split}.json") as f:
            metadata = json.load(f)  # {class: ["class/id", ...]}
        self.classes = sorted(metadata)
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        for name, rel_paths in metadata.items():  # the file's order, as TorchVision
            self._labels += [self.class_to_idx[name]] * len(rel_paths)
            self._image_files += [self._images_folder.joinpath(*f"{p}.jpg".split("/")) for p in rel_paths]

    def extra_repr(self):
        return f"split={self._split}"

    def _check_exists(self):
        return self._meta_folder.is_dir() and self._images_folder.is_dir()

    def _download(self):
        if not self._check_exists():
            fetch_archive(self._URL, self.root, md5=self._MD5)
