"""LSUN scene categories, read from the official LMDB databases (``<category>_<split>_lmdb`` folders)
through the optional ``lmdb`` package."""
import io
import os

from PIL import Image

from .utils import verify_str_arg
from .vision import VisionDataset

__all__ = ["LSUN", "LSUNClass"]

CATEGORIES = ["bedroom", "bridge", "church_outdoor", "classroom", "conference_room", "dining_room",
              "kitchen", "living_room", "restaurant", "tower"]


def _import_lmdb():
    try:
        import lmdb
    except ImportError:
        raise RuntimeError('LSUN reads LMDB databases through the lmdb package, which is not installed: '
                           'pip install "visionlite[lmdb]"') from None
    return lmdb


class LSUNClass(VisionDataset):
    """One LSUN database folder (``root`` holds ``data.mdb``): ``(image, None)`` samples in key order.

    Args:
        root: the ``<category>_<split>_lmdb`` folder.
        transform: callable on the PIL RGB image.
        target_transform: callable on the target (None).

    Unlike TorchVision, the key list is not cached in a pickle file in the working directory: it is read
    from the database (one cursor pass over the keys), which needs no trust in a file found on disk.
    """

    def __init__(self, root, transform=None, target_transform=None):
        lmdb = _import_lmdb()
        super().__init__(root, transform=transform, target_transform=target_transform)
        root = os.fspath(self.root)
        if not os.path.isfile(os.path.join(root, "data.mdb")):
            raise RuntimeError(f"LSUN database not found: {os.path.join(root, 'data.mdb')} is missing; "
                               "download the category's zip from the LSUN site and unzip it into the root")
        try:
            self.env = self._open_env()
        except lmdb.Error as e:
            raise RuntimeError(f"cannot open LSUN database {root}: {e}") from None
        with self.env.begin(write=False) as txn:
            self.length = txn.stat()["entries"]
            self.keys = list(txn.cursor().iternext(keys=True, values=False))

    def __getitem__(self, index):
        """``(image, target)``: a PIL RGB image and None (each after its transform)."""
        if self.env is None:  # unpickled in a worker: open the database there, on first use
            self.env = self._open_env()
        with self.env.begin(write=False) as txn:
            buf = txn.get(self.keys[index])
        if buf is None:
            raise RuntimeError(f"LSUN database {self.root} lost key {self.keys[index]!r}")
        try:
            img = Image.open(io.BytesIO(buf)).convert("RGB")
        except OSError as e:
            raise OSError(f"cannot decode LSUN image {self.keys[index]!r} in {self.root}: {e}") from None
        target = None
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return self.length

    def __getstate__(self):  # an lmdb Environment cannot be pickled (DataLoader workers): reopen there
        state = self.__dict__.copy()
        state["env"] = None
        return state

    def _open_env(self):
        return _import_lmdb().open(os.fspath(self.root), max_readers=1, readonly=True, lock=False,
                                   readahead=False, meminit=False)


class LSUN(VisionDataset):
    """`LSUN <https://paperswithcode.com/dataset/lsun>`_ scenes: ``(image, category index)``.

    Args:
        root: folder holding the ``<category>_<split>_lmdb`` folders (e.g. ``bedroom_train_lmdb``).
        classes: ``'train'``, ``'val'`` (all ten categories of that split), ``'test'``, or a list such as
            ``['bedroom_train', 'church_outdoor_train']``.
        transform: callable on the PIL RGB image.
        target_transform: callable on the int index into ``classes``.

    Needs the ``lmdb`` package (``pip install "visionlite[lmdb]"``). There is no download: fetch the
    zips from the LSUN site and unzip them into ``root``.
    """

    def __init__(self, root, classes="train", transform=None, target_transform=None):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.classes = self._verify_classes(classes)
        missing = [f"{c}_lmdb" for c in self.classes
                   if not os.path.isfile(os.path.join(self.root, f"{c}_lmdb", "data.mdb"))]
        if missing:
            raise RuntimeError(f"LSUN databases not found under {self.root}: {', '.join(missing)} (each a "
                               "folder holding data.mdb); download the categories' zips from the LSUN site "
                               "and unzip them there")
        self.dbs = [LSUNClass(root=os.path.join(self.root, f"{c}_lmdb"), transform=transform)
                    for c in self.classes]
        self.indices, count = [], 0
        for db in self.dbs:
            count += len(db)
            self.indices.append(count)
        self.length = count

    @staticmethod
    def _verify_classes(classes):
        splits = ["train", "val", "test"]
        if isinstance(classes, str) and classes in splits:
            return ["test"] if classes == "test" else [f"{c}_{classes}" for c in CATEGORIES]
        if isinstance(classes, str) or not hasattr(classes, "__iter__"):
            if isinstance(classes, str):
                verify_str_arg(classes, "classes", splits)
            raise ValueError("Expected type str or Iterable for argument classes, but got type "
                             f"{type(classes)}.")
        classes = list(classes)
        for c in classes:
            verify_str_arg(c, custom_msg=f"Expected type str for elements in argument classes, but got type "
                                         f"{type(c)}.")
            category, _, split = c.rpartition("_")
            if category not in CATEGORIES:
                raise ValueError(f"Unknown value '{category}' for LSUN class. Valid values are "
                                 f"{{{', '.join(repr(x) for x in CATEGORIES)}}}.")
            if split not in splits:
                raise ValueError(f"Unknown value '{split}' for postfix. Valid values are "
                                 f"{{{', '.join(repr(x) for x in splits)}}}.")
        return classes

    def __getitem__(self, index):
        """``(image, target)``: a PIL RGB image and the int index of its database in ``classes``."""
        if not -self.length <= index < self.length:
            raise IndexError(f"index {index} is out of range for LSUN with {self.length} images")
        index %= self.length
        target = next(i for i, end in enumerate(self.indices) if index < end)
        start = self.indices[target - 1] if target else 0
        img, _ = self.dbs[target][index - start]
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return self.length

    def extra_repr(self):
        return f"Classes: {self.classes}"
