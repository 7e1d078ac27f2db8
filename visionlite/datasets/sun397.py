"""SUN397 scene recognition: 397 categories, 108,754 images, from the official tarball."""
from pathlib import Path

from ..download import once_per_machine
from .folder import default_loader
from .utils import download_and_extract_archive, not_found_message
from .vision import VisionDataset

__all__ = ["SUN397"]


class SUN397(VisionDataset):
    """`SUN397 <https://vision.princeton.edu/projects/2010/SUN/>`_.

    Args:
        root: folder holding ``SUN397/`` (``ClassName.txt`` and ``<letter>/<category>/sun_*.jpg``).
        transform: callable on the image (PIL RGB with the default loader).
        target_transform: callable on the int class.
        download: fetch, verify and extract ``SUN397.tar.gz``.
        loader: callable reading an image path.

    ``classes`` are the names of ``ClassName.txt`` without their ``/<letter>/`` prefix (e.g.
    ``'abbey'``, ``'airplane_cabin'``, ``'apartment_building/outdoor'``).
    """

    _DATASET_URL = "http://vision.princeton.edu/projects/2010/SUN/SUN397.tar.gz"
    _DATASET_MD5 = "8ca2778205c41d23104230ba66911c7a"

    def __init__(self, root, transform=None, target_transform=None, download=False, loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._data_dir = Path(self.root) / "SUN397"
        if download:
            with once_per_machine():
                self._download()
        names = self._data_dir / "ClassName.txt"
        if not names.is_file():
            raise RuntimeError(not_found_message("SUN397", self.root, ["SUN397/ClassName.txt"]))
        with open(names) as f:
            self.classes = [c[3:].strip() for c in f]
        self.class_to_idx = dict(zip(self.classes, range(len(self.classes))))
        # Same order as TorchVision (the file system's walk order), so indices agree on one machine.
        self._image_files = list(self._data_dir.rglob("sun_*.jpg"))
        self._labels = []
        for path in self._image_files:
            category = "/".join(path.relative_to(self._data_dir).parts[1:-1])
            if category not in self.class_to_idx:
                raise RuntimeError(f"SUN397 image {path} is in a folder ({category!r}) that {names} does not "
                                   "list")
            self._labels.append(self.class_to_idx[category])
        self.loader = loader

    def __len__(self):
        return len(self._image_files)

    def __getitem__(self, idx):
        """``(image, label)``: the loaded image and the int class."""
        image_file, label = self._image_files[idx], self._labels[idx]
        image = self.loader(image_file)
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label

    def _check_exists(self):
        return self._data_dir.is_dir()

    def _download(self):
        if self._check_exists():
            return
        download_and_extract_archive(self._DATASET_URL, download_root=self.root, md5=self._DATASET_MD5)
