"""Caltech 101 (category and outline-annotation targets) and Caltech 256."""
import os
import shutil

from ._image import open_image
from ._listed import fetch_archive, require_paths
from ._matlab import load_mat
from .utils import extract_archive, verify_str_arg
from .vision import VisionDataset

__all__ = ["Caltech101", "Caltech256"]


class Caltech101(VisionDataset):
    """`Caltech 101 <https://data.caltech.edu/records/20086>`_, as ``torchvision.datasets``.

    Args:
        root: folder under which ``caltech101/101_ObjectCategories/<class>/image_NNNN.jpg`` (and
            ``caltech101/Annotations/<class>/annotation_NNNN.mat``) live.
        target_type: ``"category"`` (int), ``"annotation"`` (the 2 x N float64 ``obj_contour`` outline) or
            a list of both (a tuple target).
        transform, target_transform: callables on the PIL image (as stored: RGB or L) and on the target.
        download: fetch the zip (MD5-checked) and unpack its two inner tarballs.

    The annotation files are read without scipy (``visionlite.datasets._matlab``).
    """

    _URL = "https://data.caltech.edu/records/mzrjq-6wc02/files/caltech-101.zip"
    _MD5 = "3138e1922a9193bfa496528edbbc45d0"
    # The annotation folders of these four classes have other names than their image folders.
    _NAME_MAP = {"Faces": "Faces_2", "Faces_easy": "Faces_3", "Motorbikes": "Motorbikes_16",
                 "airplanes": "Airplanes_Side_2"}

    def __init__(self, root, target_type="category", transform=None, target_transform=None, download=False):
        super().__init__(os.path.join(root, "caltech101"), transform=transform,
                         target_transform=target_transform)
        os.makedirs(self.root, exist_ok=True)
        if isinstance(target_type, str):
            target_type = [target_type]
        self.target_type = [verify_str_arg(t, "target_type", ("category", "annotation")) for t in target_type]
        if download:
            self.download()
        require_paths("Caltech101", self.root, ["101_ObjectCategories"])
        folder = os.path.join(self.root, "101_ObjectCategories")
        self.categories = sorted(os.listdir(folder))
        if "BACKGROUND_Google" in self.categories:
            self.categories.remove("BACKGROUND_Google")  # clutter, not a class
        self.annotation_categories = [self._NAME_MAP.get(c, c) for c in self.categories]
        self.index, self.y = [], []
        for i, c in enumerate(self.categories):
            n = len(os.listdir(os.path.join(folder, c)))  # images are numbered 1..n in each folder
            self.index.extend(range(1, n + 1))
            self.y.extend([i] * n)

    def __getitem__(self, index):
        """``(image, target)``: the PIL image and the target(s) chosen by ``target_type``."""
        c, n = self.y[index], self.index[index]
        path = os.path.join(self.root, "101_ObjectCategories", self.categories[c], f"image_{n:04d}.jpg")
        img = open_image(path, what="Caltech101 image")
        target = []
        for t in self.target_type:
            if t == "category":
                target.append(c)
            else:
                path = os.path.join(self.root, "Annotations", self.annotation_categories[c],
                                    f"annotation_{n:04d}.mat")
                data = load_mat(path)
                if "obj_contour" not in data:
                    raise RuntimeError(f"{path} holds no obj_contour variable (found {sorted(data)})")
                target.append(data["obj_contour"])
        target = tuple(target) if len(target) > 1 else target[0]
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def _check_integrity(self):
        return os.path.exists(os.path.join(self.root, "101_ObjectCategories"))

    def __len__(self):
        return len(self.index)

    def download(self):
        """Fetch ``caltech-101.zip`` and unpack the image and annotation tarballs it holds."""
        if self._check_integrity():
            return
        fetch_archive(self._URL, self.root, filename="caltech-101.zip", md5=self._MD5)
        inner = os.path.join(self.root, "caltech-101")
        for name in sorted(os.listdir(inner)):
            # TorchVision unpacks only the .gz; Annotations.tar is unpacked too, so annotation targets work.
            if name.endswith((".tar.gz", ".tar")):
                extract_archive(os.path.join(inner, name), self.root)
        shutil.rmtree(inner)
        os.remove(os.path.join(self.root, "caltech-101.zip"))

    def extra_repr(self):
        return f"Target type: {self.target_type}"


class Caltech256(VisionDataset):
    """`Caltech 256 <https://data.caltech.edu/records/20087>`_, as ``torchvision.datasets``.

    Args:
        root: folder under which ``caltech256/256_ObjectCategories/NNN.<name>/NNN_MMMM.jpg`` live.
        transform, target_transform: callables on the PIL image and on the int class.
        download: fetch the tarball (MD5-checked) unless the folder exists.
    """

    _URL = "https://data.caltech.edu/records/nyy15-4j048/files/256_ObjectCategories.tar"
    _MD5 = "67b4f42ca05d46448c6bb8ecd2220f6d"

    def __init__(self, root, transform=None, target_transform=None, download=False):
        super().__init__(os.path.join(root, "caltech256"), transform=transform,
                         target_transform=target_transform)
        os.makedirs(self.root, exist_ok=True)
        if download:
            self.download()
        require_paths("Caltech256", self.root, ["256_ObjectCategories"])
        folder = os.path.join(self.root, "256_ObjectCategories")
        self.categories = sorted(os.listdir(folder))
        self.index, self.y = [], []
        for i, c in enumerate(self.categories):
            n = sum(name.endswith(".jpg") for name in os.listdir(os.path.join(folder, c)))
            self.index.extend(range(1, n + 1))
            self.y.extend([i] * n)

    def __getitem__(self, index):
        """``(image, target)``: the PIL image and its int class."""
        c = self.y[index]
        name = f"{c + 1:03d}_{self.index[index]:04d}.jpg"
        img = open_image(os.path.join(self.root, "256_ObjectCategories", self.categories[c], name),
                         what="Caltech256 image")
        target = c
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def _check_integrity(self):
        return os.path.exists(os.path.join(self.root, "256_ObjectCategories"))

    def __len__(self):
        return len(self.index)

    def download(self):
        """Fetch ``256_ObjectCategories.tar`` and extract it."""
        if not self._check_integrity():
            fetch_archive(self._URL, self.root, filename="256_ObjectCategories.tar", md5=self._MD5)
