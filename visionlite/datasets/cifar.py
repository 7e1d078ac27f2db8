"""CIFAR-10 and CIFAR-100, read from the official "python version" tarballs, as ``torchvision.datasets``.

Those batches are Python pickles. Unpickling runs whatever functions the file names, so they are read
with an unpickler that resolves only the numpy names needed to rebuild an array; anything else in the
file is refused.
"""
import os
import pickle

import numpy as np
from PIL import Image

from ..download import once_per_machine
from .utils import check_integrity, download_and_extract_archive, not_found_message
from .vision import VisionDataset

__all__ = ["CIFAR10", "CIFAR100", "load_cifar_batch"]

_ALLOWED = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a CIFAR batch holds only numbers, "
                                     "strings and numpy arrays")


def load_cifar_batch(path):
    """Unpickle one CIFAR batch file (a dict), resolving only numpy's array-building names."""
    with open(path, "rb") as f:
        try:
            entry = _ArraysOnlyUnpickler(f, encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
            entry = e
    if not isinstance(entry, dict):
        why = f" ({entry})" if isinstance(entry, Exception) else f" (it holds a {type(entry).__name__})"
        raise RuntimeError(f"{path} is not a valid CIFAR batch{why}; delete it and download it again")
    return entry


class CIFAR10(VisionDataset):
    """`CIFAR-10 <https://www.cs.toronto.edu/~kriz/cifar.html>`_: 32x32 colour images in 10 classes.

    Args:
        root: folder holding ``cifar-10-batches-py/`` (created by ``download=True``).
        train: the 50,000 training images if True, else the 10,000 test images.
        transform: callable on the PIL image (RGB).
        target_transform: callable on the int label.
        download: fetch, verify and extract the tarball if the batches are missing or damaged.

    ``data`` is a uint8 numpy array (N, 32, 32, 3) and ``targets`` a list of ints, as in TorchVision.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [
        ["data_batch_1", "c99cafc152244af753f735de768cd75f"],
        ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
        ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
        ["data_batch_4", "634d18415352ddfa80567beed471001a"],
        ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"],
    ]
    test_list = [["test_batch", "40351d587109b95175f43aff81a1287e"]]
    meta = {"filename": "batches.meta", "key": "label_names", "md5": "5ff9c542aee3614f3951f8cda6e48888"}

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            with once_per_machine():  # in a process group: local rank 0 first
                self.download()
        if not self._check_integrity():
            bad = [os.path.join(self.base_folder, name) for name, md5 in self.train_list + self.test_list
                   if not check_integrity(os.path.join(self.root, self.base_folder, name), md5)]
            raise RuntimeError(not_found_message(type(self).__name__, self.root, bad)
                               + " (files present but failing their MD5 check count as missing)")
        images, self.targets = [], []
        for name, _ in self.train_list if self.train else self.test_list:
            path = os.path.join(self.root, self.base_folder, name)
            entry = load_cifar_batch(path)
            data = np.asarray(entry.get("data"))
            if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
                raise RuntimeError(f"{path}: expected uint8 'data' of shape (N, 3072), got {data.dtype} "
                                   f"{data.shape}")
            labels = entry.get("labels", entry.get("fine_labels"))
            if labels is None or len(labels) != len(data):
                raise RuntimeError(f"{path}: expected one label per image under 'labels' or 'fine_labels'")
            images.append(data)
            self.targets.extend(int(t) for t in labels)
        # Rows are 1024 red, then green, then blue values of a 32x32 image: to (N, H, W, C).
        self.data = np.vstack(images).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        self._load_meta()

    def _load_meta(self):
        path = os.path.join(self.root, self.base_folder, self.meta["filename"])
        if not check_integrity(path, self.meta["md5"]):
            raise RuntimeError(f"CIFAR metadata file {path} not found or corrupted; pass download=True to "
                               "fetch it again")
        self.classes = list(load_cifar_batch(path)[self.meta["key"]])
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def _check_integrity(self):
        return all(check_integrity(os.path.join(self.root, self.base_folder, name), md5)
                   for name, md5 in self.train_list + self.test_list)

    def download(self):
        """Fetch the tarball (verified against its MD5) and extract it under ``root``."""
        if self._check_integrity():
            return
        download_and_extract_archive(self.url, self.root, filename=self.filename, md5=self.tgz_md5)

    def __getitem__(self, index):
        """``(image, target)``: a PIL RGB image and the int class index (each after its transform)."""
        img, target = Image.fromarray(self.data[index]), self.targets[index]
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.data)

    def extra_repr(self):
        return f"Split: {'Train' if self.train is True else 'Test'}"


class CIFAR100(CIFAR10):
    """`CIFAR-100 <https://www.cs.toronto.edu/~kriz/cifar.html>`_: 32x32 colour images in 100 classes
    (the fine labels); same arguments as CIFAR10."""

    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = [["train", "16019d7e3df5f24257cddd939b257f8d"]]
    test_list = [["test", "f0ef6b0ae62326f3e7ffdfab6717acfc"]]
    meta = {"filename": "meta", "key": "fine_label_names", "md5": "7973b15100ade9c7d40fb424638fde48"}
