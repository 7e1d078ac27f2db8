"""CelebA: 202,599 aligned celebrity faces with 40 binary attributes, identities, boxes and landmarks."""
import csv
import os

import numpy as np

from ..download import DownloadError
from ._image import open_image
from ._listed import fetch_file
from .utils import check_integrity, extract_archive, verify_str_arg
from .vision import VisionDataset

__all__ = ["CelebA"]

_TARGET_TYPES = ("attr", "identity", "bbox", "landmarks")


class CelebA(VisionDataset):
    """`CelebA <http://mmlab.ie.cuhk.edu.hk/projects/CelebA.html>`_, as ``torchvision.datasets``.

    Args:
        root: folder holding ``celeba/`` with ``img_align_celeba/`` (the images, from
            ``img_align_celeba.zip``) and the five text files of ``file_list``.
        split: ``"train"``, ``"valid"``, ``"test"`` or ``"all"``.
        target_type: ``"attr"`` (int64 tensor (40,) of 0/1), ``"identity"`` (int64 0-d tensor),
            ``"bbox"`` (int64 tensor (4,): x, y, width, height in the *uncropped* images),
            ``"landmarks"`` (int64 tensor (10,)), or a list of them (a tuple target); an empty list gives
            ``None`` targets.
        transform, target_transform: callables on the PIL image and on the target.
        download: fetch the files from Google Drive (MD5-checked) and unpack the images. Drive often
            refuses with a quota page; then fetch the files by hand from the project page (or its Google
            Drive folder) and place them in ``root/celeba/``.

    Attributes: ``filename`` (image names), ``attr``, ``identity``, ``bbox``, ``landmarks_align``
    (visionlite int64 tensors, one row per image), ``attr_names``.
    """

    base_folder = "celeba"
    file_list = [
        ("0B7EVK8r0v71pZjFTYXZWM3FlRnM", "00d2c5bc6d35e252742224ab0c1e8fcb", "img_align_celeba.zip"),
        ("0B7EVK8r0v71pblRyaVFSWGxPY0U", "75e246fa4810816ffd6ee81facbd244c", "list_attr_celeba.txt"),
        ("1_ee_0u7vcNLOfNLegJRHmolfH5ICW-XS", "32bd1bd63d3c78cd57e08160ec5ed1e2", "identity_CelebA.txt"),
        ("0B7EVK8r0v71pbThiMVRxWXZ4dU0", "00566efa6fedff7a56946cd1c10f1c16", "list_bbox_celeba.txt"),
        ("0B7EVK8r0v71pd0FJY3Blby1HUTQ", "cc24ecafdb5b50baae59b03474781f8c",
         "list_landmarks_align_celeba.txt"),
        ("0B7EVK8r0v71pY0NSMzRuSXJEVkk", "d32c9cbf5e040fd4025c592c306e6668", "list_eval_partition.txt"),
    ]
    # Google Drive's direct-download form of a file id (confirm=t skips the large-file warning page).
    _GDRIVE_URL = "https://drive.usercontent.google.com/download?id={}&export=download&confirm=t"

    def __init__(self, root, split="train", target_type="attr", transform=None, target_transform=None,
                 download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = split
        self.target_type = list(target_type) if isinstance(target_type, list) else [target_type]
        for t in self.target_type:  # TorchVision finds a bad type only in __getitem__; here, at once
            verify_str_arg(t, "target_type", _TARGET_TYPES)
        if not self.target_type and self.target_transform is not None:
            raise RuntimeError("target_transform is specified but target_type is empty")
        split_ = {"train": 0, "valid": 1, "test": 2, "all": None}[verify_str_arg(
            split.lower() if isinstance(split, str) else split, "split", ("train", "valid", "test", "all"))]
        if download:
            self.download()
        bad = self._bad_files()
        if bad:
            places = ", ".join(os.path.join(self.root, self.base_folder, b) for b in bad)
            raise RuntimeError(f"CelebA not found or corrupted: {places} missing or failing its MD5 check. "
                               "Pass download=True, or download the files from the CelebA page (Google "
                               f"Drive) and place them (img_align_celeba.zip unpacked) in "
                               f"{os.path.join(self.root, self.base_folder)}.")
        splits = self._load_csv("list_eval_partition.txt")
        identity = self._load_csv("identity_CelebA.txt")
        bbox = self._load_csv("list_bbox_celeba.txt", header=1)
        landmarks = self._load_csv("list_landmarks_align_celeba.txt", header=1)
        attr = self._load_csv("list_attr_celeba.txt", header=1)
        for name, table in [("identity_CelebA.txt", identity), ("list_bbox_celeba.txt", bbox),
                            ("list_landmarks_align_celeba.txt", landmarks), ("list_attr_celeba.txt", attr)]:
            if len(table[2]) != len(splits[2]):
                raise RuntimeError(f"{name} has {len(table[2])} rows but list_eval_partition.txt has "
                                   f"{len(splits[2])}; the files are from different releases or damaged")
        mask = np.ones(len(splits[2]), bool) if split_ is None else splits[2][:, 0] == split_
        import visionlite as vl

        self.filename = [name for name, keep in zip(splits[1], mask) if keep]
        self.identity = vl.tensor(identity[2][mask])
        self.bbox = vl.tensor(bbox[2][mask])
        self.landmarks_align = vl.tensor(landmarks[2][mask])
        self.attr = vl.tensor((attr[2][mask] + 1) // 2)  # the file's -1/1 as 0/1
        self.attr_names = attr[0]

    def _load_csv(self, filename, header=None):
        """``(header names, first column, int64 array of the other columns)`` of a whitespace table."""
        path = os.path.join(self.root, self.base_folder, filename)
        with open(path, newline="") as f:
            # csv's reading keeps TorchVision's attr_names exactly, including the empty name that the
            # header's trailing space yields in the official list_attr_celeba.txt.
            rows = list(csv.reader(f, delimiter=" ", skipinitialspace=True))
        headers = []
        if header is not None:
            headers, rows = rows[header], rows[header + 1:]
        rows = [r for r in rows if r]
        try:
            data = np.array([[int(v) for v in r[1:]] for r in rows], dtype=np.int64)
        except ValueError as e:
            raise RuntimeError(f"{path} is not a CelebA table of integers ({e})") from e
        if data.ndim != 2:
            raise RuntimeError(f"{path}: rows have different numbers of columns")
        return headers, [r[0] for r in rows], data

    def _bad_files(self):
        """Names (under ``root/celeba``) of the missing or damaged files."""
        folder = os.path.join(self.root, self.base_folder)
        bad = [name for _, md5, name in self.file_list
               if not name.endswith((".zip", ".7z")) and not check_integrity(os.path.join(folder, name), md5)]
        if not os.path.isdir(os.path.join(folder, "img_align_celeba")):
            bad.append("img_align_celeba/")
        return bad

    def _check_integrity(self):
        return not self._bad_files()

    def download(self):
        """Fetch the six files from Google Drive (MD5-checked) and unpack ``img_align_celeba.zip``."""
        if self._check_integrity():
            return
        folder = os.path.join(self.root, self.base_folder)
        for file_id, md5, filename in self.file_list:
            try:
                fetch_file(self._GDRIVE_URL.format(file_id), folder, filename, md5)
            except DownloadError as e:
                raise RuntimeError(f"CelebA: {filename} could not be fetched from Google Drive ({e}). "
                                   f"Download it by hand from the CelebA page and place it at "
                                   f"{os.path.join(folder, filename)}.") from e
        extract_archive(os.path.join(folder, "img_align_celeba.zip"))

    def __getitem__(self, index):
        """``(image, target)``: the PIL image and the target(s) chosen by ``target_type`` (None if none)."""
        X = open_image(os.path.join(self.root, self.base_folder, "img_align_celeba", self.filename[index]),
                       what="CelebA image")
        target = []
        for t in self.target_type:
            if t == "attr":
                target.append(self.attr[index, :])
            elif t == "identity":
                target.append(self.identity[index, 0])
            elif t == "bbox":
                target.append(self.bbox[index, :])
            else:
                target.append(self.landmarks_align[index, :])
        if self.transform is not None:
            X = self.transform(X)
        if target:
            target = tuple(target) if len(target) > 1 else target[0]
            if self.target_transform is not None:
                target = self.target_transform(target)
        else:
            target = None
        return X, target

    def __len__(self):
        return len(self.attr)

    def extra_repr(self):
        return f"Target type: {self.target_type}\nSplit: {self.split}"
