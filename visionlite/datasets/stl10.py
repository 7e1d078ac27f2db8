"""STL-10: 96x96 colour images (5k labelled train, 8k test, 100k unlabelled) from the binary tarball."""
import os

import numpy as np
from PIL import Image

from ..download import once_per_machine
from .utils import check_integrity, download_and_extract_archive, not_found_message, verify_str_arg
from .vision import VisionDataset

__all__ = ["STL10"]


class STL10(VisionDataset):
    """`STL10 <https://cs.stanford.edu/~acoates/stl10/>`_.

    Args:
        root: folder holding ``stl10_binary/``.
        split: ``'train'``, ``'train+unlabeled'``, ``'unlabeled'`` or ``'test'``.
        folds: None (all 5k training images) or 0-9: one of the predefined 1k-image training folds.
        transform: callable on the PIL RGB image.
        target_transform: callable on the int label (-1 for unlabelled images).
        download: fetch, verify and extract the tarball when a file is missing or damaged.

    ``data`` is uint8 (N, 3, 96, 96); ``labels`` an array of N class indices (-1: unlabelled).
    """

    base_folder = "stl10_binary"
    url = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"
    filename = "stl10_binary.tar.gz"
    tgz_md5 = "91f7769df0f17e558f3565bffb0c7dfb"
    class_names_file = "class_names.txt"
    folds_list_file = "fold_indices.txt"
    train_list = [["train_X.bin", "918c2871b30a85fa023e0c44e0bee87f"],
                  ["train_y.bin", "5a34089d4802c674881badbb80307741"],
                  ["unlabeled_X.bin", "5242ba1fed5e4be9e1e742405eb56ca4"]]
    test_list = [["test_X.bin", "7f263ba9f9e0b06b93213547f721ac82"],
                 ["test_y.bin", "36f9794fa4beb8a2c72628de14fa638e"]]
    splits = ("train", "train+unlabeled", "unlabeled", "test")

    def __init__(self, root, split="train", folds=None, transform=None, target_transform=None,
                 download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = verify_str_arg(split, "split", self.splits)
        self.folds = self._verify_folds(folds)
        if download:
            with once_per_machine():
                self.download()
        bad = self._damaged_files()
        if bad:
            raise RuntimeError(not_found_message("STL10", self.root, bad)
                               + " (a file failing its MD5 check counts as missing)")
        train_x, train_y, unlabeled_x = (name for name, _ in self.train_list)
        if self.split in ("train", "train+unlabeled"):
            self.data, self.labels = self._loadfile(train_x, train_y)
            self._load_folds(folds)
            if self.split == "train+unlabeled":
                extra, _ = self._loadfile(unlabeled_x)
                self.data = np.concatenate((self.data, extra))
                self.labels = np.concatenate((self.labels, np.full(len(extra), -1)))
        elif self.split == "unlabeled":
            self.data, _ = self._loadfile(unlabeled_x)
            self.labels = np.full(len(self.data), -1)
        else:
            self.data, self.labels = self._loadfile(*(name for name, _ in self.test_list))
        class_file = os.path.join(self.root, self.base_folder, self.class_names_file)
        if os.path.isfile(class_file):
            with open(class_file) as f:
                self.classes = f.read().splitlines()

    @staticmethod
    def _verify_folds(folds):
        if folds is None:
            return folds
        if isinstance(folds, int):
            if folds in range(10):
                return folds
            raise ValueError(f"Value for argument folds should be in the range [0, 10), but got {folds}.")
        raise ValueError(f"Expected type None or int for argument folds, but got type {type(folds)}.")

    def _loadfile(self, data_file, labels_file=None):
        labels = None
        if labels_file:
            labels = np.fromfile(os.path.join(self.root, self.base_folder, labels_file), dtype=np.uint8) - 1
        path = os.path.join(self.root, self.base_folder, data_file)
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size % (3 * 96 * 96):
            raise RuntimeError(f"{path} holds {raw.size} bytes, not a whole number of 3x96x96 images")
        # Stored column-major per channel: swap to (N, C, H, W) rows.
        images = raw.reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2)
        if labels is not None and len(labels) != len(images):
            raise RuntimeError(f"{path}: {len(images)} images but {len(labels)} labels in {labels_file}")
        return images, labels

    def _load_folds(self, folds):
        if folds is None:
            return
        path = os.path.join(self.root, self.base_folder, self.folds_list_file)
        with open(path) as f:
            idx = np.array(f.read().splitlines()[folds].split(), dtype=np.int64)
        self.data, self.labels = self.data[idx], self.labels[idx]

    def _damaged_files(self):
        return [os.path.join(self.base_folder, name) for name, md5 in self.train_list + self.test_list
                if not check_integrity(os.path.join(self.root, self.base_folder, name), md5)]

    def _check_integrity(self):
        return not self._damaged_files()

    def download(self):
        """Fetch, verify and extract ``stl10_binary.tar.gz`` unless every file is in place."""
        if self._check_integrity():
            return
        download_and_extract_archive(self.url, self.root, filename=self.filename, md5=self.tgz_md5)

    def __getitem__(self, index):
        """``(image, target)``: a PIL RGB image and the int label (-1 when unlabelled)."""
        img = Image.fromarray(np.transpose(self.data[index], (1, 2, 0)))
        target = int(self.labels[index]) if self.labels is not None else None
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return self.data.shape[0]

    def extra_repr(self):
        return f"Split: {self.split}"
