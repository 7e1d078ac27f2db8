"""PhotoTour (Multi-view Stereo Correspondence, Brown et al.): 64x64 grey patches with 3D point ids
and match pairs, from the official zips of .bmp patch sheets, ``info.txt`` and the match files."""
import os

import numpy as np

import visionlite as vl

from ..download import once_per_machine
from ._image import open_image
from .utils import download_url, extract_archive
from .vision import VisionDataset

__all__ = ["PhotoTour"]

_BROWN = "http://matthewalunbrown.com/patchdata/"
_ICVL = "http://icvl.ee.ic.ac.uk/vbalnt/"


class PhotoTour(VisionDataset):
    """`PhotoTour <http://matthewalunbrown.com/patchdata/patchdata.html>`_ patches.

    Args:
        root: folder holding ``<name>/`` (the unzipped patches) or the cache ``<name>.npz``.
        name: ``'notredame'``, ``'yosemite'``, ``'liberty'`` or their ``_harris`` versions.
        train: samples are single patches if True; else match pairs ``(patch1, patch2, is_match)``.
        transform: callable on each patch (a uint8 tensor (64, 64)).
        download: fetch, verify and unzip the set.

    The first load reads every patch sheet and writes the arrays to ``root/<name>.npz`` (TorchVision
    writes a torch ``.pt`` file instead); later loads read that. ``data`` is uint8 (N, 64, 64),
    ``labels`` int64 (N,) 3D point ids, ``matches`` int64 (M, 3).
    """

    urls = {
        "notredame_harris": [_BROWN + "notredame_harris.zip", "notredame_harris.zip",
                             "69f8c90f78e171349abdf0307afefe4d"],
        "yosemite_harris": [_BROWN + "yosemite_harris.zip", "yosemite_harris.zip",
                            "a73253d1c6fbd3ba2613c45065c00d46"],
        "liberty_harris": [_BROWN + "liberty_harris.zip", "liberty_harris.zip",
                           "c731fcfb3abb4091110d0ae8c7ba182c"],
        "notredame": [_ICVL + "notredame.zip", "notredame.zip", "509eda8535847b8c0a90bbb210c83484"],
        "yosemite": [_ICVL + "yosemite.zip", "yosemite.zip", "533b2e8eb7ede31be40abc317b2fd4f0"],
        "liberty": [_ICVL + "liberty.zip", "liberty.zip", "fdd9152f138ea5ef2091746689176414"],
    }
    means = {"notredame": 0.4854, "yosemite": 0.4844, "liberty": 0.4437, "notredame_harris": 0.4854,
             "yosemite_harris": 0.4844, "liberty_harris": 0.4437}
    stds = {"notredame": 0.1864, "yosemite": 0.1818, "liberty": 0.2019, "notredame_harris": 0.1864,
            "yosemite_harris": 0.1818, "liberty_harris": 0.2019}
    lens = {"notredame": 468159, "yosemite": 633587, "liberty": 450092, "liberty_harris": 379587,
            "yosemite_harris": 450912, "notredame_harris": 325295}
    image_ext = "bmp"
    info_file = "info.txt"
    matches_files = "m50_100000_100000_0.txt"

    def __init__(self, root, name, train=True, transform=None, download=False):
        super().__init__(root, transform=transform)
        if name not in self.urls:
            raise ValueError(f"Unknown PhotoTour set {name!r}; valid names are {sorted(self.urls)}")
        self.name = name
        self.data_dir = os.path.join(self.root, name)
        self.data_down = os.path.join(self.root, f"{name}.zip")
        self.data_file = os.path.join(self.root, f"{name}.npz")
        self.train = train
        self.mean, self.std = self.means[name], self.stds[name]
        if download:
            with once_per_machine():
                self.download()
        if not self._check_datafile_exists():
            self.cache()
        with np.load(self.data_file, allow_pickle=False) as f:
            self.data, self.labels, self.matches = (vl.Tensor._wrap(f[k])
                                                    for k in ("data", "labels", "matches"))

    def __getitem__(self, index):
        """A patch (uint8 tensor (64, 64)) when ``train``; else ``(patch1, patch2, is_match)``."""
        if self.train:
            data = self.data[index]
            return self.transform(data) if self.transform is not None else data
        m = self.matches[index]
        data1, data2 = self.data[int(m[0])], self.data[int(m[1])]
        if self.transform is not None:
            data1, data2 = self.transform(data1), self.transform(data2)
        return data1, data2, m[2]

    def __len__(self):
        return len(self.data if self.train else self.matches)

    def _check_datafile_exists(self):
        return os.path.exists(self.data_file)

    def _check_downloaded(self):
        return os.path.exists(self.data_dir)

    def download(self):
        """Fetch, verify and unzip the set into ``root/<name>`` (the zip is removed afterwards)."""
        if self._check_datafile_exists() or self._check_downloaded():
            return
        url, filename, md5 = self.urls[self.name]
        path = download_url(url, self.root, filename, md5)
        extract_archive(path, self.data_dir, remove_finished=True)

    def cache(self):
        """Read the patch sheets, ``info.txt`` and the match file into ``data_file`` (.npz)."""
        if not os.path.isdir(self.data_dir):
            raise RuntimeError(f"PhotoTour {self.name} not found: neither {self.data_file} nor the folder "
                               f"{self.data_dir} exists; pass download=True, or unzip {self.name}.zip there")
        arrays = {"data": read_image_file(self.data_dir, self.image_ext, self.lens[self.name]),
                  "labels": read_info_file(self.data_dir, self.info_file),
                  "matches": read_matches_files(self.data_dir, self.matches_files)}
        tmp = self.data_file + f".{os.getpid()}.tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, self.data_file)  # atomic: a killed run leaves no half-written cache

    def extra_repr(self):
        return f"Split: {'Train' if self.train is True else 'Test'}"


def read_image_file(data_dir, image_ext, n):
    """The first ``n`` 64x64 patches of the sorted ``*.<image_ext>`` sheets, row by row: uint8 (n, 64, 64)."""
    sheets = sorted(os.path.join(data_dir, f) for f in os.listdir(data_dir) if f.endswith(image_ext))
    patches = []
    for path in sheets:
        sheet = np.asarray(open_image(path, "L", "PhotoTour patch sheet"))
        for y in range(0, sheet.shape[0], 64):
            for x in range(0, sheet.shape[1], 64):
                patch = np.zeros((64, 64), np.uint8)  # PIL's crop pads past the edge with zeros too
                part = sheet[y:y + 64, x:x + 64]
                patch[:part.shape[0], :part.shape[1]] = part
                patches.append(patch)
                if len(patches) == n:
                    return np.stack(patches)
    return np.stack(patches) if patches else np.zeros((0, 64, 64), np.uint8)


def _lines(path):
    if not os.path.isfile(path):
        raise RuntimeError(f"PhotoTour file {path} is missing")
    with open(path) as f:
        return [line.split() for line in f if line.strip()]


def read_info_file(data_dir, info_file):
    """The 3D point id of each patch (first column of ``info.txt``): int64 (N,)."""
    return np.array([int(p[0]) for p in _lines(os.path.join(data_dir, info_file))], dtype=np.int64)


def read_matches_files(data_dir, matches_file):
    """``(patch1, patch2, same 3D point)`` rows of the match file: int64 (M, 3)."""
    rows = [[int(p[0]), int(p[3]), int(p[1] == p[4])] for p in _lines(os.path.join(data_dir, matches_file))]
    return np.array(rows, dtype=np.int64).reshape(-1, 3)
