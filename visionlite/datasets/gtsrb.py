"""GTSRB, the German Traffic Sign Recognition Benchmark: 43 classes of sign crops (PPM files)."""
import csv
import pathlib

from ._image import open_image
from ._listed import fetch_archive, require_paths
from .folder import make_dataset
from .utils import verify_str_arg
from .vision import VisionDataset

__all__ = ["GTSRB"]


class GTSRB(VisionDataset):
    """`GTSRB <https://benchmark.ini.rub.de/>`_, as ``torchvision.datasets``.

    Args:
        root: folder holding ``gtsrb/GTSRB/Training/<class>/*.ppm`` (train) or
            ``gtsrb/GTSRB/Final_Test/Images/*.ppm`` and ``gtsrb/GT-final_test.csv`` (test).
        split: ``"train"`` or ``"test"``.
        transform, target_transform: callables on the RGB PIL image and on the int class.
        download: fetch and extract the split's zips (MD5-checked) unless its folder exists.
    """

    _BASE_URL = "https://sid.erda.dk/public/archives/daaeac0d7ce1152aea9b61d9f1e19370/"
    _FILES = {
        "train": [("GTSRB-Training_fixed.zip", "513f3c79a4c5141765e10e952eaa2478")],
        "test": [("GTSRB_Final_Test_Images.zip", "c7e4e6327067d32654124b0fe9e82185"),
                 ("GTSRB_Final_Test_GT.zip", "fe31e9c9270bbcd7b84b7f21a9d9d9e5")],
    }

    def __init__(self, root, split="train", transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._split = verify_str_arg(split, "split", ("train", "test"))
        self._base_folder = pathlib.Path(self.root) / "gtsrb"
        sub = "Training" if self._split == "train" else "Final_Test/Images"
        self._target_folder = self._base_folder / "GTSRB" / sub
        if download:
            self.download()
        require_paths("GTSRB", self.root, [f"gtsrb/GTSRB/{sub}"])
        if self._split == "train":
            samples = make_dataset(str(self._target_folder), extensions=(".ppm",))
        else:
            require_paths("GTSRB", self.root, ["gtsrb/GT-final_test.csv"])
            with open(self._base_folder / "GT-final_test.csv") as f:
                samples = [(str(self._target_folder / row["Filename"]), int(row["ClassId"]))
                           for row in csv.DictReader(f, delimiter=";", skipinitialspace=True)]
        self._samples = samples

    def __len__(self):
        return len(self._samples)

    def __getitem__(self, index):
        """``(image, target)``: the RGB PIL image and its int class."""
        path, target = self._samples[index]
        sample = open_image(path, "RGB", what="GTSRB image")
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def _check_exists(self):
        return self._target_folder.is_dir()

    def download(self):
        """Fetch and extract the split's zip files into ``root/gtsrb``."""
        if self._check_exists():
            return
        for name, md5 in self._FILES[self._split]:
            fetch_archive(self._BASE_URL + name, str(self._base_folder), md5=md5)
