"""Moving MNIST: 10,000 sequences of 20 frames (64x64) of two digits bouncing, from one .npy file."""
import os

import numpy as np

import visionlite as vl

from ..download import once_per_machine
from .utils import download_url, not_found_message, verify_str_arg
from .vision import VisionDataset

__all__ = ["MovingMNIST"]


class MovingMNIST(VisionDataset):
    """`MovingMNIST <http://www.cs.toronto.edu/~nitish/unsupervised_video/>`_.

    Args:
        root: folder holding ``MovingMNIST/mnist_test_seq.npy``.
        split: None (all 20 frames), ``'train'`` (the first ``split_ratio`` frames) or ``'test'`` (the rest).
        split_ratio: frame index splitting train from test, 1..19.
        download: fetch the .npy file (and check its MD5) if it is missing.
        transform: callable on the video tensor.

    A sample is a uint8 tensor (T, 1, 64, 64); ``data`` is (N, T, 1, 64, 64).
    """

    _URL = "http://www.cs.toronto.edu/~nitish/unsupervised_video/mnist_test_seq.npy"
    _MD5 = "be083ec986bfe91a449d63653c411eb2"

    def __init__(self, root, split=None, split_ratio=10, download=False, transform=None):
        super().__init__(root, transform=transform)
        self._base_folder = os.path.join(self.root, type(self).__name__)
        self._filename = self._URL.split("/")[-1]
        if split is not None:
            verify_str_arg(split, "split", ("train", "test"))
        self.split = split
        if not isinstance(split_ratio, int):
            raise TypeError(f"`split_ratio` should be an integer, but got {type(split_ratio)}")
        if not 1 <= split_ratio <= 19:
            raise ValueError(f"`split_ratio` should be `1 <= split_ratio <= 19`, but got {split_ratio} "
                             "instead.")
        self.split_ratio = split_ratio
        if download:
            with once_per_machine():
                self.download()
        if not self._check_exists():
            raise RuntimeError(not_found_message("MovingMNIST", self.root,
                                                 [os.path.join(type(self).__name__, self._filename)]))
        path = os.path.join(self._base_folder, self._filename)
        try:
            data = np.load(path, allow_pickle=False)  # a .npy from outside: never unpickle it
        except ValueError as e:
            raise RuntimeError(f"cannot read {path} as a numpy array ({e}); delete it and download it "
                               "again") from None
        if data.ndim != 4 or data.dtype != np.uint8:
            raise RuntimeError(f"{path}: expected uint8 frames of shape (T, N, H, W), got {data.dtype} "
                               f"{data.shape}")
        if split == "train":
            data = data[:split_ratio]
        elif split == "test":
            data = data[split_ratio:]
        self.data = vl.Tensor._wrap(np.ascontiguousarray(data.transpose(1, 0, 2, 3)[:, :, None]))

    def __getitem__(self, idx):
        """The video of sequence ``idx``: uint8 tensor (T, 1, 64, 64), after ``transform``."""
        data = self.data[idx]
        if self.transform is not None:
            data = self.transform(data)
        return data

    def __len__(self):
        return len(self.data)

    def _check_exists(self):
        return os.path.exists(os.path.join(self._base_folder, self._filename))

    def download(self):
        """Fetch ``mnist_test_seq.npy`` into ``root/MovingMNIST`` and verify its MD5."""
        if self._check_exists():
            return
        download_url(self._URL, self._base_folder, self._filename, md5=self._MD5)
