"""Omniglot: 1,623 handwritten characters from 50 alphabets, 20 drawings each (the authors' Python zips)."""
import os
from os.path import join

from ..download import once_per_machine
from ._image import open_image
from .utils import check_integrity, download_and_extract_archive, not_found_message
from .vision import VisionDataset

__all__ = ["Omniglot"]


def _entries(folder, want_dir, suffix=""):
    """Names in ``folder`` that are folders (``want_dir``) or files ending with ``suffix``, in the file
    system's listing order, as TorchVision lists them (so class indices agree with it on one machine)."""
    return [n for n in os.listdir(folder)
            if os.path.isdir(join(folder, n)) == want_dir and n.endswith(suffix)]


class Omniglot(VisionDataset):
    """`Omniglot <https://github.com/brendenlake/omniglot>`_.

    Args:
        root: folder in which ``omniglot-py/`` is (``self.root`` is that ``omniglot-py`` folder).
        background: the "background" set (964 characters) if True, else the "evaluation" set (659).
        transform: callable on the image (PIL 'L' with the default loader).
        target_transform: callable on the int character index.
        download: fetch, verify and extract ``images_background.zip`` / ``images_evaluation.zip``.
        loader: callable reading an image path; default: PIL, converted to 'L'.

    Character classes are numbered in the order the file system lists ``alphabet/character`` folders, as
    in TorchVision (so the numbering can differ between machines, but agrees with TorchVision's). The zip
    file itself must stay in place (its MD5 is how the dataset knows it is complete).
    """

    folder = "omniglot-py"
    download_url_prefix = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python"
    zips_md5 = {"images_background": "68d2efa1b9178cc56df9314c21c6e718",
                "images_evaluation": "6b91aef0f799c5bb55b94e3f2daec811"}

    def __init__(self, root, background=True, transform=None, target_transform=None, download=False,
                 loader=None):
        super().__init__(join(os.path.expanduser(os.fspath(root)), self.folder), transform=transform,
                         target_transform=target_transform)
        self.background = background
        if download:
            with once_per_machine():
                self.download()
        if not self._check_integrity():
            name = self._get_target_folder() + ".zip"
            raise RuntimeError(not_found_message("Omniglot", self.root, [name])
                               + " (a file failing its MD5 check counts as missing)")
        self.target_folder = join(self.root, self._get_target_folder())
        if not os.path.isdir(self.target_folder):
            raise RuntimeError(f"Omniglot: {self.target_folder} is missing; extract "
                               f"{self._get_target_folder()}.zip there (or pass download=True)")
        self._alphabets = _entries(self.target_folder, True)
        self._characters = [join(a, c) for a in self._alphabets
                            for c in _entries(join(self.target_folder, a), True)]
        self._character_images = [[(image, idx) for image in
                                   _entries(join(self.target_folder, character), False, ".png")]
                                  for idx, character in enumerate(self._characters)]
        self._flat_character_images = [item for images in self._character_images for item in images]
        self.loader = loader

    def __len__(self):
        return len(self._flat_character_images)

    def __getitem__(self, index):
        """``(image, target)``: the drawing (PIL 'L' by default) and the int character class."""
        image_name, character_class = self._flat_character_images[index]
        path = join(self.target_folder, self._characters[character_class], image_name)
        image = open_image(path, "L", "Omniglot image") if self.loader is None else self.loader(path)
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            character_class = self.target_transform(character_class)
        return image, character_class

    def _check_integrity(self):
        name = self._get_target_folder()
        return check_integrity(join(self.root, name + ".zip"), self.zips_md5[name])

    def download(self):
        """Fetch, verify and extract the set's zip into ``root/omniglot-py``."""
        if self._check_integrity():
            return
        name = self._get_target_folder()
        download_and_extract_archive(f"{self.download_url_prefix}/{name}.zip", self.root,
                                     filename=name + ".zip", md5=self.zips_md5[name])

    def _get_target_folder(self):
        return "images_background" if self.background else "images_evaluation"
