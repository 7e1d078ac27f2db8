"""ImageNet 2012 (ILSVRC2012) classification, from the official archives placed in ``root`` by hand.

The archives are only available after signing up at image-net.org, so there is no ``download``: the
first use checks each archive's MD5 and unpacks it, as TorchVision does. The devkit's ``data/meta.mat``
(a MATLAB struct array of synsets) is read without scipy; the classes and the validation labels go to
``root/meta.bin`` in torch's format, so TorchVision and visionlite can share one prepared root.
"""
import os
import shutil
import tempfile

from ..download import once_per_machine
from ._matlab import load_mat
from .folder import ImageFolder
from .utils import check_integrity, extract_archive, verify_str_arg

__all__ = ["ImageNet", "load_meta_file", "parse_devkit_archive", "parse_train_archive", "parse_val_archive"]

ARCHIVE_META = {
    "train": ("ILSVRC2012_img_train.tar", "1d675b47d978889d74fa0da5fadfb00e"),
    "val": ("ILSVRC2012_img_val.tar", "29b22e2961454d5413ddabcf34fc5622"),
    "devkit": ("ILSVRC2012_devkit_t12.tar.gz", "fa75699e90414af021442c21a62c3abf"),
}
META_FILE = "meta.bin"
_SIGN_UP = "https://image-net.org/challenges/LSVRC/2012/2012-downloads.php"


class ImageNet(ImageFolder):
    """`ImageNet <https://image-net.org/>`_ 2012 classification, as ``torchvision.datasets``.

    Args:
        root: folder holding ``ILSVRC2012_devkit_t12.tar.gz`` and ``ILSVRC2012_img_train.tar`` (for
            ``split="train"``) or ``ILSVRC2012_img_val.tar`` (for ``"val"``), downloaded by hand from
            image-net.org after signing up. They are unpacked into ``root/train`` / ``root/val`` (one
            folder per WordNet id) and ``root/meta.bin`` on first use.
        split: ``"train"`` or ``"val"``.
        **kwargs: ImageFolder's (``transform``, ``target_transform``, ``loader``, ...).

    Attributes: ``wnids`` and ``wnid_to_idx`` (WordNet ids), ``classes`` (a tuple of names per class),
    ``class_to_idx`` (every name -> index; a name shared by two classes maps to the later one, as in
    TorchVision), ``imgs``/``samples`` ((path, index) pairs), ``targets``.
    """

    def __init__(self, root, split="train", **kwargs):
        root = self.root = os.path.expanduser(os.fspath(root))
        self.split = verify_str_arg(split, "split", ("train", "val"))
        with once_per_machine("ImageNet extraction"):  # in a process group, one rank per machine unpacks
            self.parse_archives()
        wnid_to_classes = load_meta_file(self.root)[0]
        super().__init__(self.split_folder, **kwargs)
        self.root = root
        self.wnids = self.classes
        self.wnid_to_idx = self.class_to_idx
        unknown = [w for w in self.wnids if w not in wnid_to_classes]
        if unknown:
            raise RuntimeError(f"{self.split_folder} holds folders that are not ImageNet classes of "
                               f"{os.path.join(root, META_FILE)}: {unknown[:5]}")
        self.classes = [wnid_to_classes[w] for w in self.wnids]
        self.class_to_idx = {name: i for i, names in enumerate(self.classes) for name in names}

    def parse_archives(self):
        """Unpack the devkit (into ``meta.bin``) and the split's archive, where not done before."""
        if not check_integrity(os.path.join(self.root, META_FILE)):
            parse_devkit_archive(self.root)
        if not os.path.isdir(self.split_folder):
            (parse_train_archive if self.split == "train" else parse_val_archive)(self.root)

    @property
    def split_folder(self):
        return os.path.join(self.root, self.split)

    def extra_repr(self):
        return f"Split: {self.split}"


def load_meta_file(root, file=None):
    """``(wnid_to_classes, val_wnids)`` from ``root/meta.bin`` (written by :func:`parse_devkit_archive`)."""
    path = os.path.join(root, file or META_FILE)
    if not check_integrity(path):
        raise RuntimeError(f"The meta file {path} is not present in the root directory or is corrupted. "
                           "This file is automatically created by the ImageNet dataset from "
                           f"{ARCHIVE_META['devkit'][0]}.")
    from visionlite.core.serialization import load

    meta = load(path)
    if not (isinstance(meta, (tuple, list)) and len(meta) == 2 and isinstance(meta[0], dict)):
        raise RuntimeError(f"{path} does not hold ImageNet's (wnid_to_classes, val_wnids); delete it so it "
                           "is made again from the devkit")
    return meta[0], list(meta[1])


def _verify_archive(root, file, md5):
    if not check_integrity(os.path.join(root, file), md5):
        raise RuntimeError(f"The archive {file} is not present in the root directory or is corrupted "
                           f"(its MD5 must be {md5}). You need to download it externally (sign up at "
                           f"{_SIGN_UP}) and place it in {root}.")


def _scalar(value, what, path):
    flat = getattr(value, "reshape", lambda *_: [value])(-1)
    if len(flat) != 1:
        raise RuntimeError(f"{path}: synset field {what} should hold one value, found {len(flat)}")
    return flat[0]


def _parse_meta_mat(devkit_root):
    """``(idx_to_wnid, wnid_to_classes)`` for the 1000 leaf synsets of the devkit's ``data/meta.mat``."""
    path = os.path.join(devkit_root, "data", "meta.mat")
    synsets = load_mat(path, structs=True).get("synsets")
    if synsets is None:
        raise RuntimeError(f"{path} holds no 'synsets' struct array")
    idx_to_wnid, wnid_to_classes = {}, {}
    for syn in synsets.reshape(-1, order="F"):
        missing = {"ILSVRC2012_ID", "WNID", "words", "num_children"} - set(syn)
        if missing:
            raise RuntimeError(f"{path}: the synsets lack the fields {sorted(missing)}")
        if int(_scalar(syn["num_children"], "num_children", path)) != 0:
            continue  # an inner node of the hierarchy, not one of the classes
        wnid = str(_scalar(syn["WNID"], "WNID", path))
        idx_to_wnid[int(_scalar(syn["ILSVRC2012_ID"], "ILSVRC2012_ID", path))] = wnid
        wnid_to_classes[wnid] = tuple(str(_scalar(syn["words"], "words", path)).split(", "))
    return idx_to_wnid, wnid_to_classes


def parse_devkit_archive(root, file=None):
    """Check and unpack the devkit archive in ``root``; write the classes and validation labels to
    ``root/meta.bin`` as ``(wnid_to_classes, val_wnids)``."""
    file = file or ARCHIVE_META["devkit"][0]
    _verify_archive(root, file, ARCHIVE_META["devkit"][1])
    with tempfile.TemporaryDirectory() as tmp:
        extract_archive(os.path.join(root, file), tmp)
        devkit_root = os.path.join(tmp, "ILSVRC2012_devkit_t12")
        idx_to_wnid, wnid_to_classes = _parse_meta_mat(devkit_root)
        truth = os.path.join(devkit_root, "data", "ILSVRC2012_validation_ground_truth.txt")
        with open(truth) as f:
            val_idcs = [int(line) for line in f if line.strip()]
        bad = sorted(set(val_idcs) - set(idx_to_wnid))
        if bad:
            raise RuntimeError(f"{file}: the validation labels name class ids {bad[:5]} that meta.mat lacks")
        val_wnids = [idx_to_wnid[i] for i in val_idcs]
    from visionlite.core.serialization import save

    save((wnid_to_classes, val_wnids), os.path.join(root, META_FILE), format="torch")  # torch.load reads it


def parse_train_archive(root, file=None, folder="train"):
    """Check and unpack ``ILSVRC2012_img_train.tar`` into ``root/folder``: its 1000 inner tarballs
    become one folder per WordNet id (each inner tarball is deleted once unpacked)."""
    file = file or ARCHIVE_META["train"][0]
    _verify_archive(root, file, ARCHIVE_META["train"][1])
    train_root = os.path.join(root, folder)
    extract_archive(os.path.join(root, file), train_root)
    for name in sorted(os.listdir(train_root)):
        archive = os.path.join(train_root, name)
        if name.endswith(".tar") and os.path.isfile(archive):
            extract_archive(archive, os.path.splitext(archive)[0], remove_finished=True)


def parse_val_archive(root, file=None, wnids=None, folder="val"):
    """Check and unpack ``ILSVRC2012_img_val.tar`` into ``root/folder``, moving each image (in file-name
    order) into the folder of its WordNet id from ``wnids`` (default: ``meta.bin``'s)."""
    file = file or ARCHIVE_META["val"][0]
    if wnids is None:
        wnids = load_meta_file(root)[1]
    _verify_archive(root, file, ARCHIVE_META["val"][1])
    val_root = os.path.join(root, folder)
    extract_archive(os.path.join(root, file), val_root)
    images = sorted(os.path.join(val_root, name) for name in os.listdir(val_root))
    if len(images) != len(wnids):
        raise RuntimeError(f"{file} holds {len(images)} images but the devkit labels {len(wnids)}")
    for wnid in set(wnids):
        os.makedirs(os.path.join(val_root, wnid), exist_ok=True)
    for wnid, image in zip(wnids, images):
        shutil.move(image, os.path.join(val_root, wnid, os.path.basename(image)))
