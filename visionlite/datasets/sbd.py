"""Semantic Boundaries Dataset (SBD): VOC 2011 images with per-class boundary and segmentation
annotations in MATLAB files, read by visionlite's own .mat reader (no scipy)."""
import os
import shutil

import numpy as np
from PIL import Image

from ..download import once_per_machine
from ._image import open_image
from ._matlab import load_mat
from .utils import download_and_extract_archive, download_url, not_found_message, verify_str_arg
from .vision import VisionDataset

__all__ = ["SBDataset"]


class SBDataset(VisionDataset):
    """`Semantic Boundaries Dataset <http://home.bharathh.info/pubs/codes/SBD/download.html>`_.

    Args:
        root: folder holding ``img/*.jpg``, ``cls/*.mat`` and ``train.txt``/``val.txt``
            (``train_noval.txt`` for ``image_set='train_noval'``).
        image_set: ``'train'``, ``'val'`` or ``'train_noval'`` (train without VOC 2012 val images).
        mode: ``'boundaries'`` (target: numpy array (20, H, W), one boundary map per class) or
            ``'segmentation'`` (target: PIL image of class indices).
        download: fetch, verify and extract ``benchmark.tgz`` (and ``train_noval.txt``).
        transforms: callable on ``(image, target)``.
    """

    url = "https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/semantic_contours/benchmark.tgz"
    md5 = "82b4d87ceb2ed10f6038a1cba92111cb"
    filename = "benchmark.tgz"
    voc_train_url = "https://www.cs.cornell.edu/~bharathh/train_noval.txt"
    voc_split_filename = "train_noval.txt"
    voc_split_md5 = "79bff800c5f0b1ec6b21080a3c066722"

    def __init__(self, root, image_set="train", mode="boundaries", download=False, transforms=None):
        super().__init__(root, transforms)
        self.image_set = verify_str_arg(image_set, "image_set", ("train", "val", "train_noval"))
        self.mode = verify_str_arg(mode, "mode", ("segmentation", "boundaries"))
        self.num_classes = 20
        sbd_root = os.fspath(self.root)
        image_dir, mask_dir = os.path.join(sbd_root, "img"), os.path.join(sbd_root, "cls")
        if download:
            with once_per_machine():
                self._download(sbd_root)
        split_f = os.path.join(sbd_root, image_set + ".txt")
        if not os.path.isfile(split_f):
            raise RuntimeError(not_found_message("SBDataset", sbd_root, [image_set + ".txt"]))
        with open(split_f) as fh:
            file_names = [x.strip() for x in fh if x.strip()]
        self.images = [os.path.join(image_dir, x + ".jpg") for x in file_names]
        self.masks = [os.path.join(mask_dir, x + ".mat") for x in file_names]
        self._get_target = (self._get_segmentation_target if self.mode == "segmentation"
                            else self._get_boundaries_target)

    def _download(self, sbd_root):
        if not all(os.path.exists(os.path.join(sbd_root, f)) for f in ("cls", "img", "train.txt", "val.txt")):
            download_and_extract_archive(self.url, sbd_root, filename=self.filename, md5=self.md5)
            extracted = os.path.join(sbd_root, "benchmark_RELEASE", "dataset")
            for f in ["cls", "img", "inst", "train.txt", "val.txt"]:
                source, target = os.path.join(extracted, f), os.path.join(sbd_root, f)
                if os.path.exists(source) and not os.path.exists(target):
                    shutil.move(source, sbd_root)
        if self.image_set == "train_noval":
            download_url(self.voc_train_url, sbd_root, self.voc_split_filename, self.voc_split_md5)

    @staticmethod
    def _gtcls(filepath):
        try:
            mat = load_mat(filepath, structs=True)
            return mat["GTcls"].ravel()[0]
        except (KeyError, IndexError, AttributeError) as e:
            raise RuntimeError(f"SBD annotation {filepath} has no GTcls struct ({e!r})") from None
        except ValueError as e:
            raise RuntimeError(f"cannot read SBD annotation {filepath}: {e}") from None

    def _get_segmentation_target(self, filepath):
        return Image.fromarray(self._gtcls(filepath)["Segmentation"])

    def _get_boundaries_target(self, filepath):
        cells = self._gtcls(filepath)["Boundaries"].ravel()
        if len(cells) < self.num_classes:
            raise RuntimeError(f"SBD annotation {filepath} has {len(cells)} boundary maps, not "
                               f"{self.num_classes}")
        return np.stack([cells[i] for i in range(self.num_classes)])

    def __getitem__(self, index):
        """``(image, target)``: the RGB image and the boundaries array or segmentation image."""
        img = open_image(self.images[index], "RGB", "SBD image")
        target = self._get_target(self.masks[index])
        if self.transforms is not None:
            img, target = self.transforms(img, target)
        return img, target

    def __len__(self):
        return len(self.images)

    def extra_repr(self):
        return f"Image set: {self.image_set}\nMode: {self.mode}"
