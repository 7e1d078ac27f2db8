"""EuroSAT (RGB): 64x64 Sentinel-2 patches in ten land-use classes."""
import os

from ._listed import fetch_archive, require_paths
from .folder import ImageFolder, default_loader

__all__ = ["EuroSAT"]


class EuroSAT(ImageFolder):
    """RGB `EuroSAT <https://github.com/phelber/eurosat>`_, as ``torchvision.datasets``.

    Args:
        root: folder holding ``eurosat/2750/<class>/*.jpg``.
        transform, target_transform, loader: as in ImageFolder.
        download: fetch and extract the zip (MD5-checked) unless ``eurosat/2750`` exists.
    """

    _URL = ("https://huggingface.co/datasets/torchgeo/eurosat/resolve/c877bcd43f099cd0196738f714544e355477f3fd/"
            "EuroSAT.zip")
    _MD5 = "c8fa014336c82ac7804f0398fcb19387"

    def __init__(self, root, transform=None, target_transform=None, download=False, loader=default_loader):
        self.root = os.path.expanduser(root)
        self._base_folder = os.path.join(self.root, "eurosat")
        self._data_folder = os.path.join(self._base_folder, "2750")
        if download:
            self.download()
        require_paths("EuroSAT", self.root, [os.path.join("eurosat", "2750")])
        super().__init__(self._data_folder, transform=transform, target_transform=target_transform,
                         loader=loader)
        self.root = os.path.expanduser(root)

    def __len__(self):
        return len(self.samples)

    def _check_exists(self):
        return os.path.exists(self._data_folder)

    def download(self):
        """Fetch ``EuroSAT.zip`` into ``root/eurosat`` and extract it."""
        if not self._check_exists():
            os.makedirs(self._base_folder, exist_ok=True)
            fetch_archive(self._URL, self._base_folder, md5=self._MD5)
