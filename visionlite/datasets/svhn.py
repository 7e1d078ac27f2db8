"""SVHN (Street View House Numbers, cropped digits), read from the official .mat files without scipy."""
import os

import numpy as np
from PIL import Image

from ..download import once_per_machine
from ._matlab import load_mat
from .utils import check_integrity, download_url, not_found_message, verify_str_arg
from .vision import VisionDataset

__all__ = ["SVHN"]


class SVHN(VisionDataset):
    """`SVHN <http://ufldl.stanford.edu/housenumbers/>`_: 32x32 colour crops of house-number digits.

    Args:
        root: folder holding ``{split}_32x32.mat``.
        split: ``'train'``, ``'test'`` or ``'extra'``.
        transform: callable on the PIL image (RGB).
        target_transform: callable on the int label.
        download: fetch the .mat file and check its MD5 if it is missing or damaged.

    The files label the digit 0 as 10; here it is 0, as in TorchVision. ``data`` is a uint8 numpy array
    (N, 3, 32, 32) and ``labels`` an int64 array (N,).
    """

    split_list = {
        "train": ["http://ufldl.stanford.edu/housenumbers/train_32x32.mat", "train_32x32.mat",
                  "e26dedcc434d2e4c54c9b2d4a06d8373"],
        "test": ["http://ufldl.stanford.edu/housenumbers/test_32x32.mat", "test_32x32.mat",
                 "eb5a983be6a315427106f1b164d9cef3"],
        "extra": ["http://ufldl.stanford.edu/housenumbers/extra_32x32.mat", "extra_32x32.mat",
                  "a93ce644f1a588dc4d68dda5feec44a7"],
    }

    def __init__(self, root, split="train", transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = verify_str_arg(split, "split", tuple(self.split_list))
        self.url, self.filename, self.file_md5 = self.split_list[split]
        if download:
            with once_per_machine():  # in a process group: local rank 0 first
                self.download()
        if not self._check_integrity():
            raise RuntimeError(not_found_message("SVHN", self.root, [self.filename])
                               + " (a file failing its MD5 check counts as missing)")
        path = os.path.join(self.root, self.filename)
        mat = load_mat(path)
        if "X" not in mat or "y" not in mat:
            raise RuntimeError(f"{path} lacks the variables X and y of an SVHN file (found {sorted(mat)})")
        x, y = mat["X"], mat["y"]
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[2] != 3 or y.size != x.shape[3]:
            raise RuntimeError(f"{path}: expected uint8 X of shape (H, W, 3, N) and N labels, got X "
                               f"{x.dtype} {x.shape} and y {y.shape}")
        self.data = np.transpose(x, (3, 2, 0, 1))  # (H, W, C, N) -> (N, C, H, W)
        self.labels = y.astype(np.int64).reshape(-1)
        self.labels[self.labels == 10] = 0

    def _check_integrity(self):
        return check_integrity(os.path.join(self.root, self.filename), self.file_md5)

    def download(self):
        """Fetch the split's .mat file and verify its MD5."""
        download_url(self.url, self.root, self.filename, self.file_md5)

    def __getitem__(self, index):
        """``(image, target)``: a PIL RGB image and the int digit (each after its transform)."""
        img = Image.fromarray(np.transpose(self.data[index], (1, 2, 0)))
        target = int(self.labels[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.data)

    def extra_repr(self):
        return f"Split: {self.split}"
