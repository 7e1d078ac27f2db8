"""SEMEION handwritten digits: 1,593 16x16 binary images in one text file (``semeion.data``)."""
import os

import numpy as np
from PIL import Image

from ..download import once_per_machine
from .utils import check_integrity, download_url, not_found_message
from .vision import VisionDataset

__all__ = ["SEMEION"]


class SEMEION(VisionDataset):
    """`SEMEION <http://archive.ics.uci.edu/ml/datasets/semeion+handwritten+digit>`_ handwritten digits.

    Args:
        root: folder holding ``semeion.data``.
        transform: callable on the PIL image (mode 'L', 16x16, values 0 or 255).
        target_transform: callable on the int digit.
        download: fetch the file (and check its MD5) if it is missing; True by default, as in TorchVision.

    Each line of the file holds 256 pixel values (0 or 1) then a one-hot row of 10 digits.
    ``data`` is uint8 (N, 16, 16) and ``labels`` int64 (N,).
    """

    url = "http://archive.ics.uci.edu/ml/machine-learning-databases/semeion/semeion.data"
    filename = "semeion.data"
    md5_checksum = "cb545d371d2ce14ec121470795a77432"

    def __init__(self, root, transform=None, target_transform=None, download=True):
        super().__init__(root, transform=transform, target_transform=target_transform)
        if download:
            with once_per_machine():
                self.download()
        if not self._check_integrity():
            raise RuntimeError(not_found_message("SEMEION", self.root, [self.filename])
                               + " (a file failing its MD5 check counts as missing)")
        path = os.path.join(self.root, self.filename)
        try:
            table = np.loadtxt(path, ndmin=2)
        except ValueError as e:
            raise RuntimeError(f"cannot parse {path}: {e}") from None
        if table.shape[1] != 266:
            raise RuntimeError(f"{path}: expected 266 values a line (256 pixels, 10 one-hot digits), got "
                               f"{table.shape[1]}")
        self.data = (table[:, :256] * 255).astype(np.uint8).reshape(-1, 16, 16)
        rows, self.labels = np.nonzero(table[:, 256:])
        if not np.array_equal(rows, np.arange(len(table))):
            raise RuntimeError(f"{path}: each line must end with a one-hot row of 10 digits")

    def __getitem__(self, index):
        """``(image, target)``: a PIL 'L' image and the int digit (each after its transform)."""
        img, target = Image.fromarray(self.data[index]), int(self.labels[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.data)

    def _check_integrity(self):
        return check_integrity(os.path.join(self.root, self.filename), self.md5_checksum)

    def download(self):
        """Fetch ``semeion.data`` and verify its MD5 (nothing is fetched when it is already in place)."""
        if self._check_integrity():
            return
        download_url(self.url, self.root, self.filename, self.md5_checksum)
