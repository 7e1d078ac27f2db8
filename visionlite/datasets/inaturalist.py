"""iNaturalist 2017-2021: species photos in a folder per category, with taxonomy-level targets."""
import os

from ._image import open_image
from ._listed import fetch_archive, require_paths
from .utils import verify_str_arg
from .vision import VisionDataset

__all__ = ["INaturalist"]

CATEGORIES_2021 = ["kingdom", "phylum", "class", "order", "family", "genus"]
_BASE = "https://ml-inat-competition-datasets.s3.amazonaws.com/"
DATASET_URLS = {
    "2017": _BASE + "2017/train_val_images.tar.gz",
    "2018": _BASE + "2018/train_val2018.tar.gz",
    "2019": _BASE + "2019/train_val2019.tar.gz",
    "2021_train": _BASE + "2021/train.tar.gz",
    "2021_train_mini": _BASE + "2021/train_mini.tar.gz",
    "2021_valid": _BASE + "2021/val.tar.gz",
}
_MAX_UNPACKED = 2**40  # bytes an archive may unpack to (1 TiB)
DATASET_MD5 = {
    "2017": "7c784ea5e424efaec655bd392f87301f",
    "2018": "b1c6952ce38f31868cc50ea72d066cc3",
    "2019": "c60a6e2962c9b8ccbd458d12c8582644",
    "2021_train": "e0526d53c7f7b2e3167b2b43bb2690ed",
    "2021_train_mini": "db6ed8330e634445efc8fec83ae81442",
    "2021_valid": "f6f6e0e242e3d4c9569ba56400938afc",
}


class INaturalist(VisionDataset):
    """`iNaturalist <https://github.com/visipedia/inat_comp>`_, as ``torchvision.datasets``.

    Args:
        root: folder holding ``<version>/`` with the images (no annotation files are used). 2021
            versions: ``<version>/NNNNN_Kingdom_Phylum_Class_Order_Family_Genus_species/*.jpg``;
            2017-2019: ``<version>/<SuperCategory>/<category>/*.jpg`` (numeric categories from 2018).
        version: ``"2017"``, ``"2018"``, ``"2019"``, ``"2021_train"``, ``"2021_train_mini"`` or
            ``"2021_valid"``.
        target_type: ``"full"`` (the category index), one of ``kingdom``, ``phylum``, ``class``,
            ``order``, ``family``, ``genus`` (2021) or ``super`` (2017-2019), or a list (a tuple target).
        transform, target_transform: callables on the image and on the target.
        download: fetch the version's tarball (MD5-checked) unless ``root/<version>`` has content.
        loader: path -> image (default: the PIL image as stored).

    Within a category, images come in the order the file system lists them, as in TorchVision.
    """

    def __init__(self, root, version="2021_train", target_type="full", transform=None, target_transform=None,
                 download=False, loader=None):
        self.version = verify_str_arg(version, "version", tuple(DATASET_URLS))
        super().__init__(os.path.join(os.fspath(root), version), transform=transform,
                         target_transform=target_transform)
        os.makedirs(root, exist_ok=True)
        if download:
            self.download()
        if not self._check_exists():
            require_paths("INaturalist", os.path.dirname(self.root), [os.path.join(version, "<category>")])
        self.all_categories, self.categories_index, self.categories_map = [], {}, []
        target_type = target_type if isinstance(target_type, list) else [target_type]
        levels = ("full", *CATEGORIES_2021) if self.version[:4] == "2021" else ("full", "super")
        self.target_type = [verify_str_arg(t, "target_type", levels) for t in target_type]
        if self.version[:4] == "2021":
            self._init_2021()
        else:
            self._init_pre2021()
        self.index = []
        for dir_index, dir_name in enumerate(self.all_categories):
            for fname in os.listdir(os.path.join(self.root, dir_name)):
                self.index.append((dir_index, fname))
        self.loader = loader

    def _init_2021(self):
        """Categories from the 2021 folder names ``NNNNN_<kingdom>_..._<genus>_<species>``."""
        self.all_categories = sorted(os.listdir(self.root))
        self.categories_index = {k: {} for k in CATEGORIES_2021}
        for dir_index, dir_name in enumerate(self.all_categories):
            pieces = dir_name.split("_")
            if len(pieces) != 8:
                raise RuntimeError(f"Unexpected category name {dir_name} in {self.root}, wrong number of "
                                   "pieces (expected NNNNN_Kingdom_Phylum_Class_Order_Family_Genus_species)")
            if pieces[0] != f"{dir_index:05d}":
                raise RuntimeError(f"Unexpected category id {pieces[0]} in {self.root}, "
                                   f"expecting {dir_index:05d}")
            cat_map = {}
            for cat, name in zip(CATEGORIES_2021, pieces[1:7]):
                cat_map[cat] = self.categories_index[cat].setdefault(name, len(self.categories_index[cat]))
            self.categories_map.append(cat_map)

    def _init_pre2021(self):
        """Categories from ``<super>/<category>`` folders; 2018 and 2019 number their categories."""
        self.categories_index = {"super": {}}
        cat_index = 0
        for sindex, scat in enumerate(sorted(os.listdir(self.root))):
            self.categories_index["super"][scat] = sindex
            for subcat in sorted(os.listdir(os.path.join(self.root, scat))):
                if self.version == "2017":
                    subcat_i, cat_index = cat_index, cat_index + 1
                else:
                    try:
                        subcat_i = int(subcat)
                    except ValueError:
                        where = os.path.join(self.root, scat, subcat)
                        raise RuntimeError(f"Unexpected non-numeric dir name: {where}") from None
                if subcat_i >= len(self.categories_map):
                    grow = subcat_i - len(self.categories_map) + 1
                    self.categories_map.extend({} for _ in range(grow))
                    self.all_categories.extend([""] * grow)
                if self.categories_map[subcat_i]:
                    raise RuntimeError(f"Duplicate category {subcat}")
                self.categories_map[subcat_i] = {"super": sindex}
                self.all_categories[subcat_i] = os.path.join(scat, subcat)
        for cindex, c in enumerate(self.categories_map):
            if not c:
                raise RuntimeError(f"Missing category {cindex} in {self.root}")

    def __getitem__(self, index):
        """``(image, target)``: the image and the target(s) chosen by ``target_type``."""
        cat_id, fname = self.index[index]
        path = os.path.join(self.root, self.all_categories[cat_id], fname)
        img = self.loader(path) if self.loader is not None else open_image(path, what="iNaturalist image")
        target = [cat_id if t == "full" else self.categories_map[cat_id][t] for t in self.target_type]
        target = tuple(target) if len(target) > 1 else target[0]
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.index)

    def category_name(self, category_type, category_id):
        """The name of category ``category_id`` of ``category_type`` (``"full"``, a 2021 level or
        ``"super"``)."""
        if category_type == "full":
            return self.all_categories[category_id]
        if category_type not in self.categories_index:
            raise ValueError(f"Invalid category type '{category_type}'")
        for name, i in self.categories_index[category_type].items():
            if i == category_id:
                return name
        raise ValueError(f"Invalid category id {category_id} for {category_type}")

    def _check_exists(self):
        return os.path.isdir(self.root) and len(os.listdir(self.root)) > 0

    def download(self):
        """Fetch ``<version>.tgz`` next to ``root/<version>``, extract it and rename its folder."""
        if self._check_exists():
            return
        base_root = os.path.dirname(self.root)
        url = DATASET_URLS[self.version]
        # 2021_train unpacks to about 224 GB, past extract_archive's 200 GiB default bound.
        fetch_archive(url, base_root, filename=f"{self.version}.tgz", md5=DATASET_MD5[self.version],
                      max_bytes=_MAX_UNPACKED)
        extracted = os.path.join(base_root, os.path.basename(url).removesuffix(".tar.gz"))
        if not os.path.exists(extracted):
            raise RuntimeError(f"Unable to find downloaded files at {extracted}")
        if os.path.isdir(self.root):  # the empty folder made by a previous try
            os.rmdir(self.root)
        os.rename(extracted, self.root)
