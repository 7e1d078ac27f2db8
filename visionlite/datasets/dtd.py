"""DTD, the Describable Textures Dataset: 47 texture classes, ten train/val/test partitions."""
import pathlib

from ._listed import ListedImages, fetch_archive, require_paths
from .folder import default_loader
from .utils import verify_str_arg

__all__ = ["DTD"]


class DTD(ListedImages):
    """`DTD <https://www.robots.ox.ac.uk/~vgg/data/dtd/>`_, as ``torchvision.datasets``.

    Args:
        root: folder under which ``dtd/dtd/images/<class>/*.jpg`` and ``dtd/dtd/labels/<split><N>.txt`` live.
        split: ``"train"``, ``"val"`` or ``"test"``.
        partition: which of the ten partitions, 1 to 10.
        transform, target_transform, loader: as in the other image datasets.
        download: fetch and extract the tarball (MD5-checked) unless the folder exists.

    ``classes`` are the texture names in the split's list, sorted.
    """

    _URL = "https://www.robots.ox.ac.uk/~vgg/data/dtd/download/dtd-r1.0.1.tar.gz"
    _MD5 = "fff73e5086ae6bdbea199a49dfb8a4c1"

    def __init__(self, root, split="train", partition=1, transform=None, target_transform=None,
                 download=False, loader=default_loader):
        self._split = verify_str_arg(split, "split", ("train", "val", "test"))
        # TorchVision's check lets 0 or 11 through (its "and" should be "or"); refused here.
        if not isinstance(partition, int) or not 1 <= partition <= 10:
            raise ValueError(f"Parameter 'partition' should be an integer with `1 <= partition <= 10`, "
                             f"but got {partition} instead")
        self._partition = partition
        super().__init__(root, transform=transform, target_transform=target_transform, loader=loader)
        self._base_folder = pathlib.Path(self.root) / type(self).__name__.lower()
        self._data_folder = self._base_folder / "dtd"
        self._meta_folder = self._data_folder / "labels"
        self._images_folder = self._data_folder / "images"
        if download:
            self._download()
        list_file = f"dtd/dtd/labels/{self._split}{self._partition}.txt"
        require_paths("DTD", self.root, ["dtd/dtd", list_file])
        classes = []
        with open(pathlib.Path(self.root) / list_file) as f:
            for line in f:
                if not line.strip():
                    continue
                parts = line.strip().split("/")
                if len(parts) != 2:
                    raise ValueError(f"DTD: {list_file} line {line.strip()!r} is not '<class>/<image>.jpg'; "
                                     f"the list is damaged: delete {self._base_folder} and download again")
                cls, name = parts
                self._image_files.append(self._images_folder.joinpath(cls, name))
                classes.append(cls)
        self.classes = sorted(set(classes))
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self._labels = [self.class_to_idx[c] for c in classes]

    def extra_repr(self):
        return f"split={self._split}, partition={self._partition}"

    def _check_exists(self):
        return self._data_folder.is_dir()

    def _download(self):
        if not self._check_exists():
            fetch_archive(self._URL, str(self._base_folder), md5=self._MD5)
