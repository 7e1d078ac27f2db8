"""CLEVR as a classification dataset: the label is the number of objects in the scene."""
import json
import pathlib
from urllib.parse import urlparse

from ._listed import ListedImages, fetch_archive, require_paths
from .folder import default_loader
from .utils import verify_str_arg

__all__ = ["CLEVRClassification"]


class CLEVRClassification(ListedImages):
    """`CLEVR <https://cs.stanford.edu/people/jcjohns/clevr/>`_ classification, as ``torchvision.datasets``.

    Args:
        root: folder under which ``clevr/CLEVR_v1.0/images/<split>/*.png`` and
            ``clevr/CLEVR_v1.0/scenes/CLEVR_<split>_scenes.json`` live.
        split: ``"train"``, ``"val"`` or ``"test"`` (the test split has no scenes: labels are None).
        transform, target_transform, loader: as in the other image datasets.
        download: fetch and extract the zip (MD5-checked) unless the folder exists.
    """

    _URL = "https://dl.fbaipublicfiles.com/clevr/CLEVR_v1.0.zip"
    _MD5 = "b11922020e72d0cd9154779b2d3d07d2"

    def __init__(self, root, split="train", transform=None, target_transform=None, download=False,
                 loader=default_loader):
        self._split = verify_str_arg(split, "split", ("train", "val", "test"))
        super().__init__(root, transform=transform, target_transform=target_transform, loader=loader)
        self._base_folder = pathlib.Path(self.root) / "clevr"
        self._data_folder = self._base_folder / pathlib.Path(urlparse(self._URL).path).stem
        if download:
            self._download()
        require_paths("CLEVR", self.root, [str(self._data_folder.relative_to(self.root))])
        self._image_files = sorted(self._data_folder.joinpath("images", self._split).glob("*"))
        if self._split == "test":
            self._labels = [None] * len(self._image_files)
            return
        scenes_file = self._data_folder / "scenes" / f"CLEVR_{self._split}_scenes.json"
        require_paths("CLEVR", self.root, [str(scenes_file.relative_to(self.root))])
        with open(scenes_file) as f:
            scenes = json.load(f)["scenes"]
        num_objects = {s["image_filename"]: len(s["objects"]) for s in scenes}
        missing = [p.name for p in self._image_files if p.name not in num_objects]
        if missing:
            raise RuntimeError(f"{scenes_file} has no scene for the images {missing[:5]}")
        self._labels = [num_objects[p.name] for p in self._image_files]

    def _check_exists(self):
        return self._data_folder.is_dir()

    def _download(self):
        if not self._check_exists():
            fetch_archive(self._URL, str(self._base_folder), md5=self._MD5)

    def extra_repr(self):
        return f"split={self._split}"
