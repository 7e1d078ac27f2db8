"""SBU Captioned Photos: 1M Flickr photos with captions; the tarball lists the photo URLs and captions,
and the photos themselves are fetched one by one."""
import os

from ..download import logger, once_per_machine
from .folder import default_loader
from .utils import check_integrity, download_and_extract_archive, download_url, not_found_message
from .vision import VisionDataset

__all__ = ["SBU"]


class SBU(VisionDataset):
    """`SBU Captioned Photo <http://www.cs.virginia.edu/~vicente/sbucaptions/>`_.

    Args:
        root: folder holding ``SBUCaptionedPhotoDataset.tar.gz`` and its ``dataset/`` folder.
        transform: callable on the image (PIL RGB with the default loader).
        target_transform: callable on the caption (str).
        download: fetch, verify and extract the tarball, then fetch every listed photo into
            ``root/dataset`` (photos that cannot be fetched are skipped, as many are gone). True by
            default, as in TorchVision.
        loader: callable reading an image path.

    Only photos present in ``root/dataset`` are samples.
    """

    url = "https://www.cs.rice.edu/~vo9/sbucaptions/SBUCaptionedPhotoDataset.tar.gz"
    filename = "SBUCaptionedPhotoDataset.tar.gz"
    md5_checksum = "9aec147b3488753cf758b4d493422285"

    def __init__(self, root, transform=None, target_transform=None, download=True, loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.loader = loader
        if download:
            with once_per_machine():
                self.download()
        if not self._check_integrity():
            raise RuntimeError(not_found_message("SBU", self.root, [self.filename])
                               + " (a file failing its MD5 check counts as missing)")
        self.photos, self.captions = [], []
        folder = os.path.join(self.root, "dataset")
        urls_file = os.path.join(folder, "SBU_captioned_photo_dataset_urls.txt")
        captions_file = os.path.join(folder, "SBU_captioned_photo_dataset_captions.txt")
        for path in (urls_file, captions_file):
            if not os.path.isfile(path):
                raise RuntimeError(f"SBU: {path} is missing; extract {self.filename} into {self.root}")
        with open(urls_file) as urls, open(captions_file) as captions:
            for url, caption in zip(urls, captions):
                photo = os.path.basename(url.rstrip())
                if os.path.exists(os.path.join(folder, photo)):
                    self.photos.append(photo)
                    self.captions.append(caption.rstrip())

    def __getitem__(self, index):
        """``(image, target)``: the loaded photo and its caption."""
        img = self.loader(os.path.join(self.root, "dataset", self.photos[index]))
        if self.transform is not None:
            img = self.transform(img)
        target = self.captions[index]
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.photos)

    def _check_integrity(self):
        return check_integrity(os.path.join(self.root, self.filename), self.md5_checksum)

    def download(self):
        """Fetch, verify and extract the tarball, then each listed photo (failures are skipped)."""
        if self._check_integrity():
            return
        download_and_extract_archive(self.url, self.root, self.root, self.filename, self.md5_checksum)
        folder = os.path.join(self.root, "dataset")
        with open(os.path.join(folder, "SBU_captioned_photo_dataset_urls.txt")) as fh:
            for line in fh:
                url = line.rstrip()
                if not url:
                    continue
                try:
                    download_url(url, folder)
                except (OSError, RuntimeError) as e:  # many photos are gone from Flickr: skip them
                    logger.info("SBU: skipping %s (%s)", url, e)
