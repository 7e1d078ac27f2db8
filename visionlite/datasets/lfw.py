"""LFW (Labeled Faces in the Wild): people (identity classification) and pairs (same/different) views."""
import os

from .folder import default_loader
from .utils import check_integrity, verify_str_arg
from .vision import VisionDataset

__all__ = ["LFWPeople", "LFWPairs"]

_MIRROR = "https://www.kaggle.com/datasets/jessicali9530/lfw-dataset"


class _LFW(VisionDataset):
    base_folder = "lfw-py"
    download_url_prefix = "http://vis-www.cs.umass.edu/lfw/"
    file_dict = {
        "original": ("lfw", "lfw.tgz", "a17d05bd522c52d84eca14327a23d494"),
        "funneled": ("lfw_funneled", "lfw-funneled.tgz", "1b42dfed7d15c9b2dd63d5e5840c86ad"),
        "deepfunneled": ("lfw-deepfunneled", "lfw-deepfunneled.tgz", "68331da3eb755a505a502b5aacb3c201"),
    }
    checksums = {
        "pairs.txt": "9f1ba174e4e1c508ff7cdf10ac338a7d",
        "pairsDevTest.txt": "5132f7440eb68cf58910c8a45a2ac10b",
        "pairsDevTrain.txt": "4f27cbf15b2da4a85c1907eb4181ad21",
        "people.txt": "450f0863dd89e85e73936a6d71a3474b",
        "peopleDevTest.txt": "e4bf5be0a43b5dcd9dc5ccfcb8fb19c5",
        "peopleDevTrain.txt": "54eaac34beb6d042ed3a7d883e247a21",
        "lfw-names.txt": "a6d0a479bd074669f656265a6e693f6d",
    }
    annot_file = {"10fold": "", "train": "DevTrain", "test": "DevTest"}
    names = "lfw-names.txt"

    def __init__(self, root, split, image_set, view, transform=None, target_transform=None, download=False,
                 loader=default_loader):
        super().__init__(os.path.join(os.fspath(root), self.base_folder), transform=transform,
                         target_transform=target_transform)
        self.image_set = verify_str_arg(image_set.lower(), "image_set", tuple(self.file_dict))
        images_dir, self.filename, self.md5 = self.file_dict[self.image_set]
        self.view = verify_str_arg(view.lower(), "view", ["people", "pairs"])
        self.split = verify_str_arg(split.lower(), "split", ["10fold", "train", "test"])
        self.labels_file = f"{self.view}{self.annot_file[self.split]}.txt"
        self.data = []
        if download:  # as in TorchVision 0.29: the original site no longer serves the files
            raise ValueError("LFW dataset is no longer available for automatic download. Please download it "
                             f"manually (a commonly used mirror: {_MIRROR}) and place "
                             f"{', '.join(self._needed())} in {self.root}.")
        bad = self._bad_files()
        if bad:
            places = ", ".join(os.path.join(self.root, b) for b in bad)
            raise RuntimeError(f"LFW not found or corrupted: {places} missing or failing its MD5 check. "
                               f"Download the files by hand (e.g. from {_MIRROR}) and place them in "
                               f"{self.root}.")
        self.images_dir = os.path.join(self.root, images_dir)
        self._loader = loader

    def _needed(self):
        """The files this view/split/image set reads, relative to ``root/lfw-py``."""
        needed = [self.filename, self.labels_file]
        return needed + [self.names] if self.view == "people" else needed

    def _bad_files(self):
        md5s = {self.filename: self.md5, **self.checksums}
        return [f for f in self._needed() if not check_integrity(os.path.join(self.root, f), md5s[f])]

    def _check_integrity(self):
        return not self._bad_files()

    def _get_path(self, identity, no):
        return os.path.join(self.images_dir, identity, f"{identity}_{int(no):04d}.jpg")

    def _lines(self):
        with open(os.path.join(self.root, self.labels_file)) as f:
            return f.readlines()

    def _bad_list(self, err):
        return RuntimeError(f"{os.path.join(self.root, self.labels_file)} is not a valid LFW list ({err})")

    def extra_repr(self):
        return f"Alignment: {self.image_set}\nSplit: {self.split}"

    def __len__(self):
        return len(self.data)


class LFWPeople(_LFW):
    """`LFW <http://vis-www.cs.umass.edu/lfw/>`_ people view (identity targets), as ``torchvision.datasets``.

    Args:
        root: folder holding ``lfw-py/`` with ``lfw-funneled.tgz`` (or ``lfw.tgz``/``lfw-deepfunneled.tgz``,
            MD5-checked) unpacked beside it as ``lfw_funneled/<Name>/<Name>_NNNN.jpg``, and
            ``people.txt`` (or ``peopleDevTrain.txt``/``peopleDevTest.txt``) and ``lfw-names.txt``.
        split: ``"10fold"``, ``"train"`` or ``"test"``.
        image_set: ``"original"``, ``"funneled"`` or ``"deepfunneled"``.
        transform, target_transform, loader: as in the other image datasets.
        download: unsupported (raises ValueError naming the files to place), as in TorchVision 0.29.

    Attributes: ``class_to_idx`` (name -> index in ``lfw-names.txt``), ``data`` (paths), ``targets``.
    """

    def __init__(self, root, split="10fold", image_set="funneled", transform=None, target_transform=None,
                 download=False, loader=default_loader):
        super().__init__(root, split, image_set, "people", transform, target_transform, download,
                         loader=loader)
        self.class_to_idx = self._get_classes()
        self.data, self.targets = self._get_people()

    def _get_people(self):
        data, targets = [], []
        lines = self._lines()
        try:
            n_folds, s = (int(lines[0]), 1) if self.split == "10fold" else (1, 0)
            for _ in range(n_folds):
                n_lines = int(lines[s])
                people = [line.strip().split("\t") for line in lines[s + 1:s + n_lines + 1]]
                s += n_lines + 1
                for identity, num_imgs in people:
                    for num in range(1, int(num_imgs) + 1):
                        data.append(self._get_path(identity, num))
                        targets.append(self.class_to_idx[identity])
        except (ValueError, IndexError, KeyError) as e:
            raise self._bad_list(e) from e
        return data, targets

    def _get_classes(self):
        with open(os.path.join(self.root, self.names)) as f:
            names = [line.strip().split()[0] for line in f if line.strip()]
        return {name: i for i, name in enumerate(names)}

    def __getitem__(self, index):
        """``(image, target)``: the RGB PIL image and the person's index."""
        img = self._loader(self.data[index])
        target = self.targets[index]
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def extra_repr(self):
        return super().extra_repr() + f"\nClasses (identities): {len(self.class_to_idx)}"


class LFWPairs(_LFW):
    """`LFW <http://vis-www.cs.umass.edu/lfw/>`_ pairs view (same person or not), as ``torchvision.datasets``.

    Args: as LFWPeople, with ``pairs.txt`` (or ``pairsDevTrain.txt``/``pairsDevTest.txt``) instead of the
    people lists. Items are ``(image1, image2, target)``, target 1 for the same person, else 0.

    Attributes: ``pair_names`` (name pairs), ``data`` (path pairs), ``targets``.
    """

    def __init__(self, root, split="10fold", image_set="funneled", transform=None, target_transform=None,
                 download=False, loader=default_loader):
        super().__init__(root, split, image_set, "pairs", transform, target_transform, download,
                         loader=loader)
        self.pair_names, self.data, self.targets = self._get_pairs(self.images_dir)

    def _get_pairs(self, images_dir):
        pair_names, data, targets = [], [], []
        lines = self._lines()
        try:
            if self.split == "10fold":
                n_folds, n_pairs = (int(v) for v in lines[0].split("\t"))
            else:
                n_folds, n_pairs = 1, int(lines[0])
            s = 1
            for _ in range(n_folds):  # each fold: n matched pairs, then n unmatched ones
                matched = [line.strip().split("\t") for line in lines[s:s + n_pairs]]
                unmatched = [line.strip().split("\t") for line in lines[s + n_pairs:s + 2 * n_pairs]]
                s += 2 * n_pairs
                for name, a, b in matched:
                    pair_names.append((name, name))
                    data.append((self._get_path(name, a), self._get_path(name, b)))
                    targets.append(1)
                for name1, a, name2, b in unmatched:
                    pair_names.append((name1, name2))
                    data.append((self._get_path(name1, a), self._get_path(name2, b)))
                    targets.append(0)
        except (ValueError, IndexError) as e:
            raise self._bad_list(e) from e
        return pair_names, data, targets

    def __getitem__(self, index):
        """``(image1, image2, target)``: two RGB PIL images and 1 (same person) or 0."""
        path1, path2 = self.data[index]
        img1, img2 = self._loader(path1), self._loader(path2)
        target = self.targets[index]
        if self.transform is not None:
            img1, img2 = self.transform(img1), self.transform(img2)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img1, img2, target
