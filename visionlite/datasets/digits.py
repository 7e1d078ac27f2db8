"""``Digits``: 1,797 real 8x8 handwritten digits shipped inside the package, for offline demos and tests.

The data is the UCI "Optical Recognition of Handwritten Digits" test set (CC BY 4.0), as scikit-learn
ships it: one line per digit with 64 pixel counts (0-16, row by row) and then the label.
"""
import gzip
import importlib.resources

import numpy as np
from PIL import Image

import visionlite as vl

from .vision import VisionDataset

__all__ = ["Digits"]

_TEST_EVERY = 5  # of each class, the 5th, 10th, 15th, ... digit is held out as the test split


def _load_all():
    with importlib.resources.files("visionlite.datasets.data").joinpath("digits.csv.gz").open("rb") as f:
        table = np.loadtxt(gzip.open(f), delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 65:
        raise RuntimeError(f"the bundled digits.csv.gz has shape {table.shape}, expected (N, 65); reinstall "
                           "visionlite")
    # Counts 0..16 scaled to 0..255, so the images look like (and normalise like) MNIST's.
    images = np.round(table[:, :64].reshape(-1, 8, 8) * (255 / 16)).astype(np.uint8)
    return images, table[:, 64]


class Digits(VisionDataset):
    """Real handwritten digits, 8x8 grey, ten classes, no download needed.

    Args:
        root: unused (the data ships with visionlite); accepted so code written for MNIST runs as is.
        train: the 1,442 training digits if True, else the 355 test digits. The split is fixed: every
            fifth digit of each class (in file order) is a test digit, so both splits keep the class mix.
        transform: callable on the PIL image (mode 'L', pixels 0-255).
        target_transform: callable on the int label.
        download: ignored, for the same reason as ``root``.

    ``data`` is a uint8 tensor (N, 8, 8) and ``targets`` an int64 tensor (N,), as for MNIST.
    """

    classes = [str(d) for d in range(10)]

    def __init__(self, root=None, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        images, labels = _load_all()
        rank_in_class = np.empty(len(labels), np.int64)
        for c in np.unique(labels):
            members = labels == c
            rank_in_class[members] = np.arange(members.sum())
        keep = (rank_in_class % _TEST_EVERY == _TEST_EVERY - 1) != bool(train)
        self.data = vl.Tensor._wrap(np.ascontiguousarray(images[keep]))
        self.targets = vl.Tensor._wrap(np.ascontiguousarray(labels[keep]))

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def __getitem__(self, index):
        """``(image, target)``: a PIL 'L' image and the int digit (each after its transform)."""
        img = Image.fromarray(self.data.numpy()[index])
        target = int(self.targets.numpy()[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.data)

    def extra_repr(self):
        return f"Split: {'Train' if self.train else 'Test'}"
