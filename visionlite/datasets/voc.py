"""Pascal VOC detection and segmentation (2007-2012), from the official VOCtrainval/VOCtest tarballs."""
import collections
import os
from xml.etree.ElementTree import ParseError
from xml.etree.ElementTree import parse as parse_xml

from ._image import open_image
from .utils import download_and_extract_archive, not_found_message, verify_str_arg
from .vision import VisionDataset

__all__ = ["VOCDetection", "VOCSegmentation"]

_BASE = "https://thor.robots.ox.ac.uk/pascal/VOC/"
DATASET_YEAR_DICT = {
    "2012": (_BASE + "voc2012/VOCtrainval_11-May-2012.tar", "6cd6e144f989b92b3379bac3b3de84fd",
             os.path.join("VOCdevkit", "VOC2012")),
    "2011": (_BASE + "voc2011/VOCtrainval_25-May-2011.tar", "6c3384ef61512963050cb5d687e5bf1e",
             os.path.join("TrainVal", "VOCdevkit", "VOC2011")),
    "2010": (_BASE + "voc2010/VOCtrainval_03-May-2010.tar", "da459979d0c395079b5c75ee67908abb",
             os.path.join("VOCdevkit", "VOC2010")),
    "2009": (_BASE + "voc2009/VOCtrainval_11-May-2009.tar", "a3e00b113cfcfebf17e343f59da3caa1",
             os.path.join("VOCdevkit", "VOC2009")),
    "2008": (_BASE + "voc2008/VOCtrainval_14-Jul-2008.tar", "2629fa636546599198acfcfbfcf1904a",
             os.path.join("VOCdevkit", "VOC2008")),
    "2007": (_BASE + "voc2007/VOCtrainval_06-Nov-2007.tar", "c52e279531787c972589f7e41ab4ae64",
             os.path.join("VOCdevkit", "VOC2007")),
    "2007-test": (_BASE + "voc2007/VOCtest_06-Nov-2007.tar", "b6e924de25625d8de591ea690078ad9f",
                  os.path.join("VOCdevkit", "VOC2007")),
}


class _VOCBase(VisionDataset):
    _SPLITS_DIR = _TARGET_DIR = _TARGET_FILE_EXT = None

    def __init__(self, root, year="2012", image_set="train", download=False, transform=None,
                 target_transform=None, transforms=None):
        super().__init__(root, transforms, transform, target_transform)
        self.year = verify_str_arg(year, "year", [str(y) for y in range(2007, 2013)])
        valid_sets = ["train", "trainval", "val"] + (["test"] if year == "2007" else [])
        self.image_set = verify_str_arg(image_set, "image_set", valid_sets)
        key = "2007-test" if year == "2007" and image_set == "test" else year
        self.url, self.md5, base_dir = DATASET_YEAR_DICT[key]
        self.filename = os.path.basename(self.url)
        voc_root = os.path.join(self.root, base_dir)
        if download:
            download_and_extract_archive(self.url, self.root, filename=self.filename, md5=self.md5)
        split_file = os.path.join(voc_root, "ImageSets", self._SPLITS_DIR, image_set + ".txt")
        if not os.path.isfile(split_file):
            raise RuntimeError(not_found_message(f"Pascal VOC {year}", self.root,
                                                 [os.path.relpath(split_file, self.root)]))
        with open(split_file) as f:
            names = [line.strip() for line in f if line.strip()]
        self.images = [os.path.join(voc_root, "JPEGImages", n + ".jpg") for n in names]
        self.targets = [os.path.join(voc_root, self._TARGET_DIR, n + self._TARGET_FILE_EXT) for n in names]

    def __len__(self):
        return len(self.images)


class VOCSegmentation(_VOCBase):
    """`Pascal VOC <http://host.robots.ox.ac.uk/pascal/VOC/>`_ segmentation: (RGB image, palette mask).

    Args:
        root: folder holding ``VOCdevkit/`` (created by ``download=True``).
        year: ``"2007"`` to ``"2012"``.
        image_set: ``"train"``, ``"trainval"`` or ``"val"`` (and ``"test"`` for 2007).
        download: fetch, verify and extract the year's tarball.
        transform, target_transform, transforms: as for VisionDataset.
    """

    _SPLITS_DIR, _TARGET_DIR, _TARGET_FILE_EXT = "Segmentation", "SegmentationClass", ".png"

    @property
    def masks(self):
        return self.targets

    def __getitem__(self, index):
        img = open_image(self.images[index], "RGB")
        target = open_image(self.masks[index])
        if self.transforms is not None:
            img, target = self.transforms(img, target)
        return img, target


class VOCDetection(_VOCBase):
    """`Pascal VOC <http://host.robots.ox.ac.uk/pascal/VOC/>`_ detection: (RGB image, annotation dict).

    Same arguments as VOCSegmentation. The target is the annotation XML as nested dicts
    (``{"annotation": {"filename": ..., "object": [{"name": ..., "bndbox": {...}}, ...]}}``), as in
    TorchVision: text leaves are strings, repeated tags become lists, and ``object`` is always a list.
    """

    _SPLITS_DIR, _TARGET_DIR, _TARGET_FILE_EXT = "Main", "Annotations", ".xml"

    @property
    def annotations(self):
        return self.targets

    def __getitem__(self, index):
        img = open_image(self.images[index], "RGB")
        path = self.annotations[index]
        try:
            # Python's expat refuses entity-expansion bombs and ElementTree never fetches external entities.
            target = self.parse_voc_xml(parse_xml(path).getroot())
        except ParseError as e:
            raise RuntimeError(f"cannot parse VOC annotation {path}: {e}") from None
        if self.transforms is not None:
            img, target = self.transforms(img, target)
        return img, target

    @staticmethod
    def parse_voc_xml(node):
        """An XML element as nested dicts (see the class docstring)."""
        children = list(node)
        if not children:
            return {node.tag: node.text.strip()} if node.text else {}
        fields = collections.defaultdict(list)
        for child in children:
            for key, value in VOCDetection.parse_voc_xml(child).items():
                fields[key].append(value)
        if node.tag == "annotation":
            fields["object"] = [fields["object"]]  # so a single object still comes as a list
        return {node.tag: {k: v[0] if len(v) == 1 else v for k, v in fields.items()}}
