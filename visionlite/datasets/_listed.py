"""Shared pieces of the datasets that list their images in a file: fetching and a (path, label) base.

Kept apart from ``utils`` (TorchVision's public helper names) because these are visionlite's own.
"""
import os

from ..download import once_per_machine
from .folder import default_loader
from .utils import download_and_extract_archive, download_url, not_found_message
from .vision import VisionDataset

__all__ = ["fetch_archive", "fetch_file", "require_paths", "ListedImages"]


def fetch_archive(url, download_root, md5=None, filename=None, extract_root=None, max_bytes=None):
    """Download (verified by ``md5`` when given) and extract one archive; in a process group, one rank
    per machine fetches while the others wait. ``max_bytes``: as ``extract_archive`` (for the few
    archives that unpack to more than its 200 GiB default)."""
    with once_per_machine():
        download_and_extract_archive(url, download_root, extract_root=extract_root, filename=filename,
                                     md5=md5, max_bytes=max_bytes)


def fetch_file(url, root, filename=None, md5=None):
    """Download one file into ``root`` (verified by ``md5`` when given); see :func:`fetch_archive`."""
    with once_per_machine():
        return download_url(url, root, filename, md5)


def require_paths(what, root, relpaths, hint=""):
    """Raise RuntimeError naming every path of ``relpaths`` (relative to ``root``) that does not exist.

    ``hint`` is appended to the message (e.g. where a sign-up-only file comes from).
    """
    root = os.fspath(root)
    missing = [p for p in relpaths if not os.path.exists(os.path.join(root, p))]
    if missing:
        raise RuntimeError(not_found_message(what, root, missing) + (" " + hint if hint else ""))


class ListedImages(VisionDataset):
    """Base of the datasets holding ``_image_files`` and ``_labels`` side by side: ``(image, label)``
    items, the image read by ``self.loader`` (RGB PIL image by default)."""

    def __init__(self, root, transform=None, target_transform=None, loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.loader = loader
        self._image_files, self._labels = [], []

    def __len__(self):
        return len(self._image_files)

    def __getitem__(self, idx):
        """``(image, label)``: the loaded image and its int label (each after its transform)."""
        image, label = self.loader(self._image_files[idx]), self._labels[idx]
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label
