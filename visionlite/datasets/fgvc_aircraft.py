"""FGVC-Aircraft: 10,000 aircraft photos at three label levels (variant, family, manufacturer)."""
import os

from ._listed import ListedImages, fetch_archive, require_paths
from .folder import default_loader
from .utils import verify_str_arg

__all__ = ["FGVCAircraft"]


class FGVCAircraft(ListedImages):
    """`FGVC Aircraft <https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/>`_, as ``torchvision.datasets``.

    Args:
        root: folder holding ``fgvc-aircraft-2013b/data/`` (``images/*.jpg``, ``variants.txt``,
            ``families.txt``, ``manufacturers.txt``, ``images_<level>_<split>.txt``).
        split: ``"train"``, ``"val"``, ``"trainval"`` or ``"test"``.
        annotation_level: ``"variant"``, ``"family"`` or ``"manufacturer"``.
        transform, target_transform, loader: as in the other image datasets.
        download: fetch and extract the tarball unless the folder exists (the source publishes no
            checksum, and TorchVision pins none).

    Images keep their copyright banner (TorchVision does not crop it either).
    """

    _URL = "https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/archives/fgvc-aircraft-2013b.tar.gz"
    _LEVEL_FILES = {"variant": "variants.txt", "family": "families.txt", "manufacturer": "manufacturers.txt"}

    def __init__(self, root, split="trainval", annotation_level="variant", transform=None,
                 target_transform=None, download=False, loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform, loader=loader)
        self._split = verify_str_arg(split, "split", ("train", "val", "trainval", "test"))
        self._annotation_level = verify_str_arg(annotation_level, "annotation_level",
                                                ("variant", "family", "manufacturer"))
        self._data_path = os.path.join(self.root, "fgvc-aircraft-2013b")
        if download:
            self._download()
        data = os.path.join("fgvc-aircraft-2013b", "data")
        classes_file = os.path.join(data, self._LEVEL_FILES[self._annotation_level])
        labels_file = os.path.join(data, f"images_{self._annotation_level}_{self._split}.txt")
        require_paths("FGVCAircraft", self.root, [classes_file, labels_file])
        with open(os.path.join(self.root, classes_file)) as f:
            self.classes = [line.strip() for line in f]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        images = os.path.join(self._data_path, "data", "images")
        with open(os.path.join(self.root, labels_file)) as f:
            for line in f:
                if not line.strip():
                    continue
                image_name, label_name = line.strip().split(" ", 1)  # class names contain spaces
                if label_name not in self.class_to_idx:
                    raise RuntimeError(f"{labels_file}: {label_name!r} is not a class of {classes_file}")
                self._image_files.append(os.path.join(images, f"{image_name}.jpg"))
                self._labels.append(self.class_to_idx[label_name])

    def _download(self):
        if not self._check_exists():
            fetch_archive(self._URL, self.root)

    def _check_exists(self):
        return os.path.isdir(self._data_path)
