"""USPS handwritten digits, read from the libsvm-format ``usps.bz2`` / ``usps.t.bz2`` files."""
import bz2
import os

import numpy as np
from PIL import Image

from ..download import once_per_machine
from .utils import check_integrity, download_url, not_found_message
from .vision import VisionDataset

__all__ = ["USPS"]


MAX_TEXT_BYTES = 256 * 2**20  # the most a usps*.bz2 file may decompress to (a module setting)


class USPS(VisionDataset):
    """`USPS <https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass.html#usps>`_ digits.

    Args:
        root: folder holding ``usps.bz2`` (train) and ``usps.t.bz2`` (test).
        train: the training file if True, else the test file.
        transform: callable on the PIL image (mode 'L', 16x16).
        target_transform: callable on the int digit.
        download: fetch the file (and check its MD5) if it is missing.

    Each line is ``label index:value ...`` with labels 1..10 and values in [-1, 1]; here labels are 0..9
    and pixels 0..255 (``((v + 1) / 2 * 255)`` truncated, as TorchVision). ``data`` is uint8 (N, 16, 16)
    and ``targets`` a list of ints.
    """

    split_list = {
        "train": ["https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/usps.bz2", "usps.bz2",
                  "ec16c51db3855ca6c91edd34d0e9b197"],
        "test": ["https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/usps.t.bz2",
                 "usps.t.bz2", "8ea070ee2aca1ac39742fdd1ef5ed118"],
    }

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        url, filename, md5 = self.split_list["train" if train else "test"]
        path = os.path.join(self.root, filename)
        if download and not os.path.exists(path):
            with once_per_machine():
                if not check_integrity(path, md5):
                    download_url(url, self.root, filename, md5=md5)
        if not os.path.isfile(path):
            raise RuntimeError(not_found_message("USPS", self.root, [filename]))
        self.data, self.targets = self._read(path)

    @staticmethod
    def _read(path):
        try:
            with bz2.open(path) as f:
                text = f.read(MAX_TEXT_BYTES + 1)  # bounded: a bz2 bomb cannot fill the memory
            if len(text) > MAX_TEXT_BYTES:
                raise RuntimeError(f"{path} decompresses to more than visionlite.datasets.usps."
                                   f"MAX_TEXT_BYTES = {MAX_TEXT_BYTES:,} bytes: a damaged file or a "
                                   f"decompression bomb; delete it and download it again")
            rows = [line.decode().split() for line in text.splitlines()]
        except (OSError, EOFError, UnicodeDecodeError) as e:
            raise RuntimeError(f"cannot read {path} ({e}); delete it and download it again") from None
        try:
            pixels = np.asarray([[v.split(":")[-1] for v in row[1:]] for row in rows], dtype=np.float32)
            targets = [int(float(row[0])) - 1 for row in rows]
        except ValueError as e:
            raise RuntimeError(f"{path} is not a USPS file in libsvm format ({e})") from None
        if pixels.ndim != 2 or pixels.shape[1] != 256:
            raise RuntimeError(f"{path}: expected 256 pixel values on each line")
        images = ((pixels.reshape(-1, 16, 16) + 1) / 2 * 255).astype(np.uint8)
        return images, targets

    def __getitem__(self, index):
        """``(image, target)``: a PIL 'L' image and the int digit 0-9 (each after its transform)."""
        img, target = Image.fromarray(self.data[index]), int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.data)
