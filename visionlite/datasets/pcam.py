"""PatchCamelyon (PCAM): 96x96 histopathology patches with a binary label, in HDF5 files (``h5py``)."""
import os
import pathlib

from PIL import Image

from ..download import once_per_machine
from .utils import download_url, extract_archive, not_found_message, verify_str_arg
from .vision import VisionDataset

__all__ = ["PCAM"]


def _import_h5py():
    try:
        import h5py
    except ImportError:
        raise RuntimeError('PCAM reads HDF5 files through h5py, which is not installed: '
                           'pip install "visionlite[hdf5]"') from None
    return h5py


class PCAM(VisionDataset):
    """`PCAM <https://github.com/basveeling/pcam>`_: binary classification of lymph-node patches.

    Args:
        root: folder holding ``pcam/camelyonpatch_level_2_split_{train,valid,test}_{x,y}.h5``.
        split: ``'train'``, ``'test'`` or ``'val'``.
        transform: callable on the PIL RGB image (96x96).
        target_transform: callable on the int label (1: metastatic tissue).
        download: fetch the split's two gzipped files from Google Drive, verify and decompress them.

    Needs ``h5py`` (``pip install "visionlite[hdf5]"``). Files are opened per sample, as in TorchVision,
    so a dataset object is cheap to send to DataLoader workers.
    """

    _FILES = {
        "train": {"images": ("camelyonpatch_level_2_split_train_x.h5", "1Ka0XfEMiwgCYPdTI-vv6eUElOBnKFKQ2",
                             "1571f514728f59376b705fc836ff4b63"),
                  "targets": ("camelyonpatch_level_2_split_train_y.h5", "1269yhu3pZDP8UYFQs-NYs3FPwuK-nGSG",
                              "35c2d7259d906cfc8143347bb8e05be7")},
        "test": {"images": ("camelyonpatch_level_2_split_test_x.h5", "1qV65ZqZvWzuIVthK8eVDhIwrbnsJdbg_",
                            "d8c2d60d490dbd479f8199bdfa0cf6ec"),
                 "targets": ("camelyonpatch_level_2_split_test_y.h5", "17BHrSrwWKjYsOgTMmoqrIjDy6Fa2o_gP",
                             "60a7035772fbdb7f34eb86d4420cf66a")},
        "val": {"images": ("camelyonpatch_level_2_split_valid_x.h5", "1hgshYGWK8V-eGRy8LToWJJgDU_rXWVJ3",
                           "d5b63470df7cfa627aeec8b9dc0c066e"),
                "targets": ("camelyonpatch_level_2_split_valid_y.h5", "1bH8ZRbhSVAhScTS0p9-ZzGnX91cHT3uO",
                            "2b85f58b927af9964a4c15b8f7e8f179")},
    }
    # Google Drive's direct-download address for a file id; "confirm=t" skips the virus-scan page that
    # large files otherwise get (an HTML page, which the downloader refuses).
    _DRIVE_URL = "https://drive.usercontent.google.com/download?id={}&export=download&confirm=t"

    def __init__(self, root, split="train", transform=None, target_transform=None, download=False):
        _import_h5py()  # fail early, naming the extra
        self._split = verify_str_arg(split, "split", ("train", "test", "val"))
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._base_folder = pathlib.Path(self.root) / "pcam"
        if download:
            with once_per_machine():
                self._download()
        missing = [os.path.join("pcam", name) for name, _, _ in self._FILES[self._split].values()
                   if not (self._base_folder / name).exists()]
        if missing:
            raise RuntimeError(not_found_message("PCAM", self.root, missing))

    @property
    def h5py(self):
        """The h5py module (a property, not an attribute, so the dataset pickles for DataLoader workers)."""
        return _import_h5py()

    def _open(self, kind, key):
        path = self._base_folder / self._FILES[self._split][kind][0]
        try:
            f = self.h5py.File(path, "r")
        except OSError as e:
            raise RuntimeError(f"cannot read PCAM file {path} as HDF5 ({e}); delete it and download it "
                               "again") from None
        if key not in f:
            f.close()
            raise RuntimeError(f"PCAM file {path} has no dataset {key!r}")
        return f

    def __len__(self):
        with self._open("images", "x") as f:
            return f["x"].shape[0]

    def __getitem__(self, idx):
        """``(image, target)``: a PIL RGB image and the int label (each after its transform)."""
        with self._open("images", "x") as f:
            image = Image.fromarray(f["x"][idx]).convert("RGB")
        with self._open("targets", "y") as f:
            target = int(f["y"][idx, 0, 0, 0])  # stored as (N, 1, 1, 1)
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            target = self.target_transform(target)
        return image, target

    def _check_exists(self):
        return all((self._base_folder / name).exists() for name, _, _ in self._FILES[self._split].values())

    def _download(self):
        if self._check_exists():
            return
        for name, file_id, md5 in self._FILES[self._split].values():
            archive = name + ".gz"
            download_url(self._DRIVE_URL.format(file_id), str(self._base_folder), filename=archive, md5=md5)
            extract_archive(os.path.join(self._base_folder, archive), remove_finished=True)
