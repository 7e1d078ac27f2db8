"""Oxford 102 Flowers: 102 flower species common in the UK, with fixed train/val/test image ids."""
from pathlib import Path

from ._listed import ListedImages, fetch_archive, fetch_file, require_paths
from ._matlab import load_mat
from .folder import default_loader
from .utils import check_integrity, verify_str_arg

__all__ = ["Flowers102"]

# The class names, in label order (the .mat files hold only the numbers 1..102).
_CLASSES = [
    'pink primrose', 'hard-leaved pocket orchid', 'canterbury bells', 'sweet pea', 'english marigold',
    'tiger lily', 'moon orchid', 'bird of paradise', 'monkshood', 'globe thistle', 'snapdragon',
    "colt's foot", 'king protea', 'spear thistle', 'yellow iris', 'globe-flower', 'purple coneflower',
    'peruvian lily', 'balloon flower', 'giant white arum lily', 'fire lily', 'pincushion flower',
    'fritillary', 'red ginger', 'grape hyacinth', 'corn poppy', 'prince of wales feathers',
    'stemless gentian', 'artichoke', 'sweet william', 'carnation', 'garden phlox', 'love in the mist',
    'mexican aster', 'alpine sea holly', 'ruby-lipped cattleya', 'cape flower', 'great masterwort',
    'siam tulip', 'lenten rose', 'barbeton daisy', 'daffodil', 'sword lily', 'poinsettia',
    'bolero deep blue', 'wallflower', 'marigold', 'buttercup', 'oxeye daisy', 'common dandelion',
    'petunia', 'wild pansy', 'primula', 'sunflower', 'pelargonium', 'bishop of llandaff', 'gaura',
    'geranium', 'orange dahlia', 'pink-yellow dahlia?', 'cautleya spicata', 'japanese anemone',
    'black-eyed susan', 'silverbush', 'californian poppy', 'osteospermum', 'spring crocus',
    'bearded iris', 'windflower', 'tree poppy', 'gazania', 'azalea', 'water lily', 'rose',
    'thorn apple', 'morning glory', 'passion flower', 'lotus', 'toad lily', 'anthurium', 'frangipani',
    'clematis', 'hibiscus', 'columbine', 'desert-rose', 'tree mallow', 'magnolia', 'cyclamen',
    'watercress', 'canna lily', 'hippeastrum', 'bee balm', 'ball moss', 'foxglove', 'bougainvillea',
    'camellia', 'mallow', 'mexican petunia', 'bromelia', 'blanket flower', 'trumpet creeper',
    'blackberry lily',
]


class Flowers102(ListedImages):
    """`Oxford 102 Flower <https://www.robots.ox.ac.uk/~vgg/data/flowers/102/>`_, as ``torchvision.datasets``.

    Args:
        root: folder holding ``flowers-102/jpg/image_NNNNN.jpg``, ``flowers-102/imagelabels.mat`` and
            ``flowers-102/setid.mat``.
        split: ``"train"``, ``"val"`` or ``"test"``.
        transform, target_transform, loader: as in the other image datasets.
        download: fetch the image tarball and the two .mat files (all MD5-checked).

    Labels are 0-based. The .mat files are read without scipy (``visionlite.datasets._matlab``).
    """

    _download_url_prefix = "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/"
    _file_dict = {
        "image": ("102flowers.tgz", "52808999861908f626f3c1f4e79d11fa"),
        "label": ("imagelabels.mat", "e0620be6f572b9609742df49c70aed4d"),
        "setid": ("setid.mat", "a5357ecc9cb78c4bef273ce3793fc85c"),
    }
    _splits_map = {"train": "trnid", "val": "valid", "test": "tstid"}
    classes = _CLASSES

    def __init__(self, root, split="train", transform=None, target_transform=None, download=False,
                 loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform, loader=loader)
        self._split = verify_str_arg(split, "split", ("train", "val", "test"))
        self._base_folder = Path(self.root) / "flowers-102"
        self._images_folder = self._base_folder / "jpg"
        if download:
            self.download()
        if not self._check_integrity():
            require_paths("Flowers102", self.root, ["flowers-102/jpg"])
            bad = [f"flowers-102/{name}" for name, md5 in (self._file_dict["label"], self._file_dict["setid"])
                   if not check_integrity(str(self._base_folder / name), md5)]
            raise RuntimeError(f"Flowers102: {', '.join(bad)} under {self.root} is missing or fails its MD5 "
                               "check; pass download=True to fetch it again")
        setid = self._variable("setid", self._splits_map[self._split])
        labels = self._variable("label", "labels")
        image_id_to_label = {i: int(v) - 1 for i, v in enumerate(labels.reshape(-1).tolist(), 1)}
        for image_id in setid.reshape(-1).tolist():
            image_id = int(image_id)
            if image_id not in image_id_to_label:
                raise RuntimeError(f"setid.mat names image {image_id}; imagelabels.mat has no label for it")
            self._labels.append(image_id_to_label[image_id])
            self._image_files.append(self._images_folder / f"image_{image_id:05d}.jpg")

    def _variable(self, key, name):
        path = self._base_folder / self._file_dict[key][0]
        data = load_mat(path)
        if name not in data:
            raise RuntimeError(f"{path} holds no variable {name!r} (found {sorted(data)})")
        return data[name]

    def extra_repr(self):
        return f"split={self._split}"

    def _check_integrity(self):
        if not self._images_folder.is_dir():
            return False
        return all(check_integrity(str(self._base_folder / name), md5)
                   for name, md5 in (self._file_dict["label"], self._file_dict["setid"]))

    def download(self):
        """Fetch ``102flowers.tgz`` (extracted), ``imagelabels.mat`` and ``setid.mat``."""
        if self._check_integrity():
            return
        name, md5 = self._file_dict["image"]
        fetch_archive(f"{self._download_url_prefix}{name}", str(self._base_folder), md5=md5)
        for key in ("label", "setid"):
            name, md5 = self._file_dict[key]
            fetch_file(self._download_url_prefix + name, str(self._base_folder), md5=md5)
