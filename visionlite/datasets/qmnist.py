"""QMNIST: MNIST's reconstructed test set (and the full NIST digits), with 8 integers of metadata per
digit, read from the official idx files as ``torchvision.datasets.QMNIST``."""
import os

import numpy as np
from PIL import Image

import visionlite as vl

from . import utils
from .mnist import MNIST, read_idx

__all__ = ["QMNIST"]

_BASE = "https://raw.githubusercontent.com/facebookresearch/qmnist/master/"


class QMNIST(MNIST):
    """`QMNIST <https://github.com/facebookresearch/qmnist>`_.

    Args:
        root: folder holding ``QMNIST/raw/`` (created by ``download=True``).
        what: ``'train'``, ``'test'`` (60k), ``'test10k'`` (the first 10k: MNIST's test set),
            ``'test50k'`` (the other 50k) or ``'nist'``; None picks ``'train'`` or ``'test'`` from ``train``.
        compat: the target is the int class if True, else the int64 tensor of 8 values (class, NIST
            series, writer id, digit index, NIST class, global index, duplicate, unused).
        train: used only when ``what`` is None.
        transform, target_transform, download: as for MNIST.

    ``data`` is a uint8 tensor (N, 28, 28) and ``targets`` an int64 tensor (N, 8).
    """

    subsets = {"train": "train", "test": "test", "test10k": "test", "test50k": "test", "nist": "nist"}
    resources = {
        "train": [(_BASE + "qmnist-train-images-idx3-ubyte.gz", "ed72d4157d28c017586c42bc6afe6370"),
                  (_BASE + "qmnist-train-labels-idx2-int.gz", "0058f8dd561b90ffdd0f734c6a30e5e4")],
        "test": [(_BASE + "qmnist-test-images-idx3-ubyte.gz", "1394631089c404de565df7b7aeaf9412"),
                 (_BASE + "qmnist-test-labels-idx2-int.gz", "5b5b05890a5e13444e108efe57b788aa")],
        "nist": [(_BASE + "xnist-images-idx3-ubyte.xz", "7f124b3b8ab81486c9d8c2749c17f834"),
                 (_BASE + "xnist-labels-idx2-int.xz", "5ed0e788978e45d4a8bd4b7caec3d79d")],
    }
    classes = MNIST.classes

    def __init__(self, root, what=None, compat=True, train=True, **kwargs):
        if what is None:
            what = "train" if train else "test"
        self.what = utils.verify_str_arg(what, "what", tuple(self.subsets))
        self.compat = compat
        super().__init__(root, train, **kwargs)

    @property
    def images_file(self):
        return self._files()[0]

    @property
    def labels_file(self):
        return self._files()[1]

    def _files(self):
        (images_url, _), (labels_url, _) = self.resources[self.subsets[self.what]]
        return tuple(os.path.join(self.raw_folder, os.path.splitext(os.path.basename(u))[0])
                     for u in (images_url, labels_url))

    def _load_data(self):
        images_file, labels_file = self._files()
        images, labels = read_idx(images_file), read_idx(labels_file)
        if images.dtype != np.uint8 or images.ndim != 3:
            raise ValueError(f"{images_file}: expected uint8 images of shape (N, H, W), got {images.dtype} "
                             f"{images.shape}")
        if labels.ndim != 2:
            raise ValueError(f"{labels_file}: expected labels of shape (N, 8), got {labels.shape}")
        if self.what == "test10k":
            images, labels = images[:10000], labels[:10000]
        elif self.what == "test50k":
            images, labels = images[10000:], labels[10000:]
        return images, labels

    def download(self):
        """Fetch, verify and decompress only the two files of ``what``'s subset."""
        if self._check_exists():
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        for url, md5 in self.resources[self.subsets[self.what]]:
            utils.download_and_extract_archive(url, self.raw_folder, md5=md5)

    def __getitem__(self, index):
        """``(image, target)``: a PIL 'L' image and the int class (``compat``) or the (8,) int64 tensor."""
        img = Image.fromarray(self.data.numpy()[index])
        row = self.targets.numpy()[index]
        target = int(row[0]) if self.compat else vl.tensor(row.copy())
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def extra_repr(self):
        return f"Split: {self.what}"
