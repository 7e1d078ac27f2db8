"""Country211 (OpenAI's CLIP evaluation set): YFCC100m photos labelled with one of 211 countries."""
from pathlib import Path

from ._listed import fetch_archive, require_paths
from .folder import ImageFolder, default_loader
from .utils import verify_str_arg

__all__ = ["Country211"]


class Country211(ImageFolder):
    """`Country211 <https://github.com/openai/CLIP/blob/main/data/country211.md>`_, as TorchVision's.

    Args:
        root: folder holding ``country211/{train,valid,test}/<ISO code>/*.jpg``.
        split: ``"train"``, ``"valid"`` or ``"test"``.
        transform, target_transform, loader: as in ImageFolder.
        download: fetch and extract the tarball (MD5-checked) unless ``country211/`` exists.

    Classes are the two-letter country codes, sorted.
    """

    _URL = "https://openaipublic.azureedge.net/clip/data/country211.tgz"
    _MD5 = "84988d7644798601126c29e9877aab6a"

    def __init__(self, root, split="train", transform=None, target_transform=None, download=False,
                 loader=default_loader):
        self._split = verify_str_arg(split, "split", ("train", "valid", "test"))
        root = Path(root).expanduser()
        self.root = str(root)
        self._base_folder = root / "country211"
        if download:
            self._download()
        require_paths("Country211", self.root, [f"country211/{self._split}"])
        super().__init__(str(self._base_folder / self._split), transform=transform,
                         target_transform=target_transform, loader=loader)
        self.root = str(root)

    def _check_exists(self):
        return self._base_folder.is_dir()

    def _download(self):
        if not self._check_exists():
            fetch_archive(self._URL, self.root, md5=self._MD5)
