"""Imagenette: ten easy ImageNet classes from fast.ai, in three image sizes."""
from pathlib import Path

from ._listed import ListedImages, fetch_archive, require_paths
from .folder import default_loader, find_classes, make_dataset
from .utils import verify_str_arg

__all__ = ["Imagenette"]


class Imagenette(ListedImages):
    """`Imagenette <https://github.com/fastai/imagenette#imagenette-1>`_, as ``torchvision.datasets``.

    Args:
        root: folder holding ``imagenette2[-320|-160]/{train,val}/<wnid>/*.JPEG``.
        split: ``"train"`` or ``"val"``.
        size: ``"full"``, ``"320px"`` or ``"160px"`` (which archive).
        download: fetch and extract the archive (MD5-checked) unless its folder exists.
        transform, target_transform: callables on the image and on the int label.
        loader: path -> image (default: RGB PIL image).

    Attributes: ``wnids``/``wnid_to_idx`` (WordNet ids), ``classes`` (a tuple of names per class) and
    ``class_to_idx`` (every name -> its class index).
    """

    _ARCHIVES = {
        "full": ("https://s3.amazonaws.com/fast-ai-imageclas/imagenette2.tgz",
                 "fe2fc210e6bb7c5664d602c3cd71e612"),
        "320px": ("https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-320.tgz",
                  "3df6f0d01a2c9592104656642f5e78a3"),
        "160px": ("https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz",
                  "e793b78cc4c9e9a4ccc0c1155377a412"),
    }
    _WNID_TO_CLASS = {
        "n01440764": ("tench", "Tinca tinca"),
        "n02102040": ("English springer", "English springer spaniel"),
        "n02979186": ("cassette player",),
        "n03000684": ("chain saw", "chainsaw"),
        "n03028079": ("church", "church building"),
        "n03394916": ("French horn", "horn"),
        "n03417042": ("garbage truck", "dustcart"),
        "n03425413": ("gas pump", "gasoline pump", "petrol pump", "island dispenser"),
        "n03445777": ("golf ball",),
        "n03888257": ("parachute", "chute"),
    }

    def __init__(self, root, split="train", size="full", download=False, transform=None,
                 target_transform=None, loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform, loader=loader)
        self._split = verify_str_arg(split, "split", ["train", "val"])
        self._size = verify_str_arg(size, "size", ["full", "320px", "160px"])
        self._url, self._md5 = self._ARCHIVES[self._size]
        self._size_root = Path(self.root) / Path(self._url).stem  # the archive's top folder
        self._image_root = str(self._size_root / self._split)
        if download:
            self._download()
        require_paths("Imagenette", self.root, [Path(self._url).stem])
        self.wnids, self.wnid_to_idx = find_classes(self._image_root)
        unknown = [w for w in self.wnids if w not in self._WNID_TO_CLASS]
        if unknown:
            raise RuntimeError(f"{self._image_root} holds folders that are not Imagenette classes: {unknown}")
        self.classes = [self._WNID_TO_CLASS[w] for w in self.wnids]
        self.class_to_idx = {name: i for w, i in self.wnid_to_idx.items() for name in self._WNID_TO_CLASS[w]}
        self._samples = make_dataset(self._image_root, self.wnid_to_idx, extensions=".jpeg")
        self._image_files = [p for p, _ in self._samples]
        self._labels = [t for _, t in self._samples]

    def _check_exists(self):
        return self._size_root.exists()

    def _download(self):
        if not self._check_exists():
            fetch_archive(self._url, self.root, md5=self._md5)
