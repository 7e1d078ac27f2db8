"""WIDER FACE: face detection with 32,203 images and 393,703 labelled faces (boxes plus blur,
expression, illumination, occlusion, pose and invalid flags)."""
import os
from os.path import abspath, expanduser

import numpy as np

import visionlite as vl

from ..download import once_per_machine
from ._image import open_image
from .utils import download_and_extract_archive, download_url, extract_archive, verify_str_arg
from .vision import VisionDataset

__all__ = ["WIDERFace"]


class WIDERFace(VisionDataset):
    """`WIDERFace <http://shuoyang1213.me/WIDERFACE/>`_.

    Args:
        root: folder in which ``widerface/`` holds ``wider_face_split/``, ``WIDER_train/``, ``WIDER_val/``
            and ``WIDER_test/`` (``self.root`` is that ``widerface`` folder).
        split: ``'train'``, ``'val'`` or ``'test'``.
        transform: callable on the PIL image.
        target_transform: callable on the target.
        download: fetch the three image zips (Google Drive) and the annotation zip, verify and extract.

    A target is a dict of int64 tensors: ``bbox`` (N, 4) as x, y, width, height, and ``blur``,
    ``expression``, ``illumination``, ``occlusion``, ``pose``, ``invalid`` (N,); None for the test split.
    """

    BASE_FOLDER = "widerface"
    FILE_LIST = [
        ("15hGDLhsx8bLgLcIRD5DhYt5iBxnjNF1M", "3fedf70df600953d25982bcd13d91ba2", "WIDER_train.zip"),
        ("1GUCogbp16PMGa39thoMMeWxp7Rp5oM8Q", "dfa7d7e790efa35df3788964cf0bbaea", "WIDER_val.zip"),
        ("1HIfDbVEWKmsYKJZm4lchTBDLW5N7dY5T", "e5d8f4248ed24c334bbd12f49c29dd40", "WIDER_test.zip"),
    ]
    ANNOTATIONS_FILE = ("http://shuoyang1213.me/WIDERFACE/support/bbx_annotation/wider_face_split.zip",
                        "0e3767bcf0e326556d407bf5bff5d27c", "wider_face_split.zip")
    # Google Drive's direct-download address for a file id ("confirm=t" skips the virus-scan page).
    _DRIVE_URL = "https://drive.usercontent.google.com/download?id={}&export=download&confirm=t"
    _FIELDS = ("blur", "expression", "illumination", "occlusion", "pose", "invalid")

    def __init__(self, root, split="train", transform=None, target_transform=None, download=False):
        super().__init__(root=os.path.join(os.path.expanduser(os.fspath(root)), self.BASE_FOLDER),
                         transform=transform, target_transform=target_transform)
        self.split = verify_str_arg(split, "split", ("train", "val", "test"))
        if download:
            with once_per_machine():
                self.download()
        missing = self._missing()
        if missing:
            raise RuntimeError(f"WIDERFace not found or incomplete under {self.root}: missing "
                               f"{', '.join(missing)} (each extracted from the zip of the same name); pass "
                               "download=True to fetch them")
        self.img_info = []
        if self.split in ("train", "val"):
            self.parse_train_val_annotations_file()
        else:
            self.parse_test_annotations_file()

    def __getitem__(self, index):
        """``(image, target)``: the PIL image and the dict of annotation tensors (None for test)."""
        img = open_image(self.img_info[index]["img_path"], what="WIDERFace image")
        if self.transform is not None:
            img = self.transform(img)
        target = None if self.split == "test" else self.img_info[index]["annotations"]
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.img_info)

    def extra_repr(self):
        return f"Split: {self.split}"

    def _add(self, img_path, rows):
        table = np.asarray(rows, dtype=np.int64).reshape(-1, 10)
        annotations = {"bbox": vl.Tensor._wrap(np.ascontiguousarray(table[:, 0:4]))}
        for i, field in enumerate(self._FIELDS, 4):
            annotations[field] = vl.Tensor._wrap(np.ascontiguousarray(table[:, i]))
        self.img_info.append({"img_path": img_path, "annotations": annotations})

    def parse_train_val_annotations_file(self):
        """Read ``wider_face_{split}_bbx_gt.txt``: a file name, a box count, then that many box lines.

        An image without faces has a count of 0 followed by one line of zeros, which is kept as one
        all-zero box, as TorchVision does.
        """
        filepath = os.path.join(self.root, "wider_face_split", f"wider_face_{self.split}_bbx_gt.txt")
        with open(filepath) as f:
            lines = [line.rstrip() for line in f]
        i = 0
        while i < len(lines):
            if not lines[i] and i == len(lines) - 1:
                break
            img_path = abspath(expanduser(os.path.join(self.root, "WIDER_" + self.split, "images", lines[i])))
            try:
                count = int(lines[i + 1])
                rows = [[int(x) for x in lines[i + 2 + k].split(" ")] for k in range(max(count, 1))]
            except (IndexError, ValueError) as e:
                raise RuntimeError(f"Error parsing annotation file {filepath} near line {i + 1}: "
                                   f"{e}") from None
            if any(len(r) != 10 for r in rows):
                raise RuntimeError(f"Error parsing annotation file {filepath} near line {i + 1}: a box line "
                                   "needs 10 integers")
            self._add(img_path, rows)
            i += 2 + max(count, 1)

    def parse_test_annotations_file(self):
        """Read ``wider_face_test_filelist.txt``: one image path per line."""
        filepath = os.path.join(self.root, "wider_face_split", "wider_face_test_filelist.txt")
        filepath = abspath(expanduser(filepath))
        with open(filepath) as f:
            for line in f:
                img_path = os.path.join(self.root, "WIDER_test", "images", line.rstrip())
                self.img_info.append({"img_path": abspath(expanduser(img_path))})

    def _missing(self):
        return [os.path.splitext(name)[0] for _, _, name in self.FILE_LIST + [self.ANNOTATIONS_FILE]
                if not os.path.exists(os.path.join(self.root, os.path.splitext(name)[0]))]

    def _check_integrity(self):
        return not self._missing()

    def download(self):
        """Fetch, verify and extract the image zips and the annotation zip into ``root/widerface``."""
        if self._check_integrity():
            return
        for file_id, md5, filename in self.FILE_LIST:
            path = download_url(self._DRIVE_URL.format(file_id), self.root, filename, md5)
            extract_archive(path)
        download_and_extract_archive(url=self.ANNOTATIONS_FILE[0], download_root=self.root,
                                     md5=self.ANNOTATIONS_FILE[1])
