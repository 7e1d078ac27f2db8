"""Rendered SST2: sentences of the Stanford Sentiment Treebank v2 rendered as images (CLIP's OCR test)."""
import os
from pathlib import Path

from ..download import once_per_machine
from .folder import default_loader, make_dataset
from .utils import download_and_extract_archive, not_found_message, verify_str_arg
from .vision import VisionDataset

__all__ = ["RenderedSST2"]


class RenderedSST2(VisionDataset):
    """`Rendered SST2 <https://github.com/openai/CLIP/blob/main/data/rendered-sst2.md>`_: two classes,
    ``negative`` (0) and ``positive`` (1).

    Args:
        root: folder holding ``rendered-sst2/{train,valid,test}/{negative,positive}/*.png``.
        split: ``'train'``, ``'val'`` or ``'test'``.
        transform: callable on the image (PIL RGB with the default loader).
        target_transform: callable on the int label.
        download: fetch, verify and extract ``rendered-sst2.tgz``.
        loader: callable reading an image path.
    """

    _URL = "https://openaipublic.azureedge.net/clip/data/rendered-sst2.tgz"
    _MD5 = "2384d08e9dcfa4bd55b324e610496ee5"

    def __init__(self, root, split="train", transform=None, target_transform=None, download=False,
                 loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._split = verify_str_arg(split, "split", ("train", "val", "test"))
        self._split_to_folder = {"train": "train", "val": "valid", "test": "test"}
        self._base_folder = Path(self.root) / "rendered-sst2"
        self.classes = ["negative", "positive"]
        self.class_to_idx = {"negative": 0, "positive": 1}
        if download:
            with once_per_machine():
                self._download()
        folder = self._base_folder / self._split_to_folder[self._split]
        missing = [os.path.join("rendered-sst2", folder.name, c) for c in self.classes
                   if not (folder / c).is_dir()]
        if missing:
            raise RuntimeError(not_found_message("RenderedSST2", self.root, missing))
        self._samples = make_dataset(str(folder), extensions=("png",))
        self.loader = loader

    def __len__(self):
        return len(self._samples)

    def __getitem__(self, idx):
        """``(image, label)``: the loaded image and 0 (negative) or 1 (positive)."""
        image_file, label = self._samples[idx]
        image = self.loader(image_file)
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label

    def extra_repr(self):
        return f"split={self._split}"

    def _check_exists(self):
        folder = self._base_folder / self._split_to_folder[self._split]
        return all((folder / c).is_dir() for c in self.classes)

    def _download(self):
        if self._check_exists():
            return
        download_and_extract_archive(self._URL, download_root=self.root, md5=self._MD5)
