"""Oxford-IIIT Pet: 37 cat and dog breeds, with pixel trimaps, from the official images/annotations
tarballs."""
import os
import pathlib

from ..download import once_per_machine
from ._image import open_image
from .utils import download_and_extract_archive, not_found_message, verify_str_arg
from .vision import VisionDataset

__all__ = ["OxfordIIITPet"]


class OxfordIIITPet(VisionDataset):
    """`Oxford-IIIT Pet <https://www.robots.ox.ac.uk/~vgg/data/pets/>`_.

    Args:
        root: folder holding ``oxford-iiit-pet/{images,annotations}``.
        split: ``'trainval'`` or ``'test'``.
        target_types: ``'category'`` (int, 37 breeds), ``'binary-category'`` (int, 0 cat, 1 dog),
            ``'segmentation'`` (PIL trimap: 1 pet, 2 background, 3 border), or a list of these (the target is
            then a tuple); an empty list gives None.
        transforms, transform, target_transform: as for VisionDataset.
        download: fetch, verify and extract both tarballs into ``root/oxford-iiit-pet``.
    """

    _RESOURCES = (
        ("https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz", "5c4f3ee8e5d25df40f4fd59a7f44e54c"),
        ("https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz",
         "95a8c909bbe2e81eed6a22bccdf3f68f"),
    )
    _VALID_TARGET_TYPES = ("category", "binary-category", "segmentation")

    def __init__(self, root, split="trainval", target_types="category", transforms=None, transform=None,
                 target_transform=None, download=False):
        self._split = verify_str_arg(split, "split", ("trainval", "test"))
        if isinstance(target_types, str):
            target_types = [target_types]
        self._target_types = [verify_str_arg(t, "target_types", self._VALID_TARGET_TYPES)
                              for t in target_types]
        super().__init__(root, transforms=transforms, transform=transform, target_transform=target_transform)
        self._base_folder = pathlib.Path(self.root) / "oxford-iiit-pet"
        self._images_folder = self._base_folder / "images"
        self._anns_folder = self._base_folder / "annotations"
        self._segs_folder = self._anns_folder / "trimaps"
        if download:
            with once_per_machine():
                self._download()
        if not self._check_exists():
            raise RuntimeError(not_found_message("OxfordIIITPet", self.root, [
                os.path.join("oxford-iiit-pet", d) for d in ("images", "annotations")
                if not (self._base_folder / d).is_dir()]))
        split_file = self._anns_folder / f"{self._split}.txt"
        if not split_file.is_file():
            raise RuntimeError(not_found_message("OxfordIIITPet", self.root,
                                                 [os.path.relpath(split_file, self.root)]))
        image_ids, self._labels, self._bin_labels = [], [], []
        with open(split_file) as f:
            for n, line in enumerate(f, 1):
                parts = line.split()
                if len(parts) != 4:
                    raise RuntimeError(f"{split_file}, line {n}: expected 'name class species breed_id'")
                image_ids.append(parts[0])
                self._labels.append(int(parts[1]) - 1)
                self._bin_labels.append(int(parts[2]) - 1)
        self.bin_classes = ["Cat", "Dog"]
        # Breed names come from the image names (e.g. "great_pyrenees_12" -> "Great Pyrenees").
        breeds = sorted({(i.rsplit("_", 1)[0], label) for i, label in zip(image_ids, self._labels)},
                        key=lambda pair: pair[1])
        self.classes = [" ".join(part.title() for part in raw.split("_")) for raw, _ in breeds]
        self.bin_class_to_idx = dict(zip(self.bin_classes, range(len(self.bin_classes))))
        self.class_to_idx = dict(zip(self.classes, range(len(self.classes))))
        self._images = [self._images_folder / f"{i}.jpg" for i in image_ids]
        self._segs = [self._segs_folder / f"{i}.png" for i in image_ids]

    def __len__(self):
        return len(self._images)

    def __getitem__(self, idx):
        """``(image, target)``: a PIL RGB image and the target(s) chosen by ``target_types``."""
        image = open_image(self._images[idx], "RGB", "Oxford-IIIT Pet image")
        target = []
        for kind in self._target_types:
            if kind == "category":
                target.append(self._labels[idx])
            elif kind == "binary-category":
                target.append(self._bin_labels[idx])
            else:
                target.append(open_image(self._segs[idx], what="Oxford-IIIT Pet trimap"))
        target = None if not target else target[0] if len(target) == 1 else tuple(target)
        if self.transforms:
            image, target = self.transforms(image, target)
        return image, target

    def _check_exists(self):
        return all(folder.is_dir() for folder in (self._images_folder, self._anns_folder))

    def _download(self):
        if self._check_exists():
            return
        for url, md5 in self._RESOURCES:
            download_and_extract_archive(url, download_root=str(self._base_folder), md5=md5)
