"""MNIST and its drop-in relatives (Fashion-MNIST, Kuzushiji-MNIST, EMNIST), read from the official
idx-ubyte files, as ``torchvision.datasets``.

Files live in ``root/<ClassName>/raw``; downloads try each mirror in turn and check the published MD5.
"""
import os
import shutil
import string

import numpy as np
from PIL import Image

import visionlite as vl

from ..download import once_per_machine
from . import utils
from .vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST", "KMNIST", "EMNIST", "read_idx"]

# idx type code -> big-endian numpy dtype (the format is big-endian whatever the machine)
_IDX_TYPES = {8: ">u1", 9: ">i1", 11: ">i2", 12: ">i4", 13: ">f4", 14: ">f8"}


def read_idx(path):
    """Read an idx file (the MNIST format: magic ``00 00 type ndim``, big-endian int32 sizes, data)
    into a native-endian numpy array."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES or not 1 <= raw[3] <= 4:
        raise ValueError(f"{path} is not an idx file (bad magic number {raw[:4].hex()}); delete it and "
                         f"download it again")
    ndim = raw[3]
    shape = tuple(int(s) for s in np.frombuffer(raw, ">i4", ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    offset = 4 + 4 * ndim
    count = int(np.prod(shape))
    if len(raw) - offset != count * dtype.itemsize:
        raise ValueError(f"{path} is truncated or damaged: its header announces {shape} values of "
                         f"{dtype.name} but it holds {len(raw) - offset} data bytes; delete it and download "
                         "it again")
    return np.frombuffer(raw, dtype, count, offset).reshape(shape).astype(dtype.newbyteorder("="))


class MNIST(VisionDataset):
    """`MNIST <http://yann.lecun.com/exdb/mnist/>`_: 28x28 grey handwritten digits.

    Args:
        root: folder holding ``MNIST/raw/`` (created by ``download=True``).
        train: the 60,000 training images if True, else the 10,000 test images.
        transform: callable on the PIL image (mode 'L').
        target_transform: callable on the int label.
        download: fetch and verify the files if they are missing.

    ``data`` is a uint8 tensor (N, 28, 28) and ``targets`` an int64 tensor (N,).
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            with once_per_machine():  # in a process group: local rank 0 first
                self.download()
        if not self._check_exists():
            raise RuntimeError(utils.not_found_message(type(self).__name__, self.root,
                                                       self._missing_files()))
        images, labels = self._load_data()
        if len(images) != len(labels):
            raise RuntimeError(f"{type(self).__name__}: {len(images)} images but {len(labels)} labels under "
                               f"{self.raw_folder}; delete the files and download them again")
        self.data = vl.Tensor._wrap(images)
        self.targets = vl.Tensor._wrap(labels.astype(np.int64))

    @property
    def raw_folder(self):
        return os.path.join(self.root, type(self).__name__, "raw")

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def _files(self):
        prefix = "train" if self.train else "t10k"
        return (os.path.join(self.raw_folder, f"{prefix}-images-idx3-ubyte"),
                os.path.join(self.raw_folder, f"{prefix}-labels-idx1-ubyte"))

    def _missing_files(self):
        return [os.path.relpath(f, self.root) for f in self._files() if not utils.check_integrity(f)]

    def _check_exists(self):
        return all(utils.check_integrity(f) for f in self._files())

    def _load_data(self):
        images_file, labels_file = self._files()
        images, labels = read_idx(images_file), read_idx(labels_file)
        if images.dtype != np.uint8 or images.ndim != 3:
            raise ValueError(f"{images_file}: expected uint8 images of shape (N, H, W), got {images.dtype} "
                             f"{images.shape}")
        if labels.dtype != np.uint8 or labels.ndim != 1:
            raise ValueError(f"{labels_file}: expected uint8 labels of shape (N,), got {labels.dtype} "
                             f"{labels.shape}")
        return images, labels

    def download(self):
        """Fetch the four .gz files (each from the first mirror that works), verify and decompress them."""
        if all(utils.check_integrity(os.path.join(self.raw_folder, name[:-3])) for name, _ in self.resources):
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        for name, md5 in self.resources:
            urls = [mirror + name for mirror in self.mirrors]
            path = utils.download_with_mirrors(urls, self.raw_folder, name, md5=md5)
            utils.extract_archive(path, self.raw_folder)

    def __getitem__(self, index):
        """``(image, target)``: a PIL 'L' image and the int class index (each after its transform)."""
        img = Image.fromarray(self.data.numpy()[index])  # uint8 (H, W): mode 'L'
        target = int(self.targets.numpy()[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.data)

    def extra_repr(self):
        return f"Split: {'Train' if self.train is True else 'Test'}"


class FashionMNIST(MNIST):
    """`Fashion-MNIST <https://github.com/zalandoresearch/fashion-mnist>`_: 28x28 grey clothing images;
    same arguments as MNIST."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


class KMNIST(MNIST):
    """`Kuzushiji-MNIST <https://github.com/rois-codh/kmnist>`_: 28x28 cursive Japanese characters; same
    arguments as MNIST."""

    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
        ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
        ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
        ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134"),
    ]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]


_MERGED = set("cijklmopsuvwxyz")  # letters whose upper and lower case EMNIST's merged splits fold together
_ALL = set(string.digits + string.ascii_letters)


class EMNIST(MNIST):
    """`EMNIST <https://www.nist.gov/itl/products-and-services/emnist-dataset>`_: handwritten digits and
    letters in six splits.

    Args:
        root: folder holding ``EMNIST/raw/``.
        split: one of ``byclass``, ``bymerge``, ``balanced``, ``letters``, ``digits``, ``mnist``.
        train, transform, target_transform, download: as for MNIST.

    Images come as the official files store them (transposed relative to MNIST), as in TorchVision.
    """

    url = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
    md5 = "58c8d27c78d21e728a6bc7b3cc06412e"
    splits = ("byclass", "bymerge", "balanced", "letters", "digits", "mnist")
    classes_split_dict = {
        "byclass": sorted(_ALL),
        "bymerge": sorted(_ALL - _MERGED),
        "balanced": sorted(_ALL - _MERGED),
        "letters": ["N/A"] + list(string.ascii_lowercase),
        "digits": list(string.digits),
        "mnist": list(string.digits),
    }

    def __init__(self, root, split, **kwargs):
        self.split = utils.verify_str_arg(split, "split", self.splits)
        self.classes = self.classes_split_dict[self.split]
        super().__init__(root, **kwargs)

    def _files(self):
        prefix = f"emnist-{self.split}-{'train' if self.train else 'test'}"
        return (os.path.join(self.raw_folder, f"{prefix}-images-idx3-ubyte"),
                os.path.join(self.raw_folder, f"{prefix}-labels-idx1-ubyte"))

    def download(self):
        """Fetch the one zip of all splits, verify it, and decompress its .gz files into ``raw``."""
        if self._check_exists():
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        utils.download_and_extract_archive(self.url, self.raw_folder, md5=self.md5)
        gzip_folder = os.path.join(self.raw_folder, "gzip")
        for name in sorted(os.listdir(gzip_folder)):
            if name.endswith(".gz"):
                utils.extract_archive(os.path.join(gzip_folder, name), self.raw_folder)
        shutil.rmtree(gzip_folder)
