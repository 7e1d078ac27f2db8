"""Flickr8k and Flickr30k captions: images in a folder, captions in the official annotation files
(Flickr8k's HTML page of captions, Flickr30k's tab-separated ``results`` file)."""
import glob
import os
from collections import defaultdict
from html.parser import HTMLParser

from .folder import default_loader
from .vision import VisionDataset

__all__ = ["Flickr8k", "Flickr30k"]


class Flickr8kParser(HTMLParser):
    """Reads the captions out of the Flickr8k annotation page: in its table, each image is a link whose
    text is the image's URL (the id is the last folder) followed by list items of captions."""

    def __init__(self, root):
        super().__init__()
        self.root = root
        self.annotations = {}
        self.in_table = False
        self.current_tag = None
        self.current_img = None

    def handle_starttag(self, tag, attrs):
        self.current_tag = tag
        if tag == "table":
            self.in_table = True

    def handle_endtag(self, tag):
        self.current_tag = None
        if tag == "table":
            self.in_table = False

    def handle_data(self, data):
        if not self.in_table:
            return
        if data == "Image Not Found":
            self.current_img = None
        elif self.current_tag == "a":
            img_id = data.split("/")[-2]
            matches = sorted(glob.glob(os.path.join(glob.escape(os.fspath(self.root)), img_id + "_*.jpg")))
            if not matches:
                raise RuntimeError(f"Flickr8k: no image {img_id}_*.jpg in {self.root} for the captions of "
                                   f"{data.strip()}")
            self.current_img = matches[0]
            self.annotations[self.current_img] = []
        elif self.current_tag == "li" and self.current_img:
            self.annotations[self.current_img].append(data.strip())


class Flickr8k(VisionDataset):
    """`Flickr8k Entities <http://hockenmaier.cs.illinois.edu/8k-pictures.html>`_: ``(image, captions)``.

    Args:
        root: folder of the images (``<id>_<secret>.jpg``).
        ann_file: the annotation HTML page.
        transform: callable on the image (PIL RGB with the default loader).
        target_transform: callable on the list of caption strings.
        loader: callable reading an image path.
    """

    def __init__(self, root, ann_file, transform=None, target_transform=None, loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.ann_file = os.path.expanduser(ann_file)
        parser = Flickr8kParser(self.root)
        with open(self.ann_file) as fh:
            parser.feed(fh.read())
        self.annotations = parser.annotations
        self.ids = sorted(self.annotations)
        self.loader = loader

    def __getitem__(self, index):
        """``(image, target)``: the loaded image and its list of captions."""
        img_id = self.ids[index]
        img = self.loader(img_id)
        if self.transform is not None:
            img = self.transform(img)
        target = self.annotations[img_id]
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.ids)


class Flickr30k(VisionDataset):
    """`Flickr30k Entities <https://bryanplummer.com/Flickr30kEntities/>`_: ``(image, captions)``.

    Args:
        root: folder of the images.
        ann_file: the tab-separated caption file (``<image>#<n>\\t<caption>`` a line).
        transform, target_transform, loader: as for Flickr8k.
    """

    def __init__(self, root, ann_file, transform=None, target_transform=None, loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.ann_file = os.path.expanduser(ann_file)
        self.annotations = defaultdict(list)
        with open(self.ann_file) as fh:
            for n, line in enumerate(fh, 1):
                parts = line.strip().split("\t")
                if len(parts) != 2:
                    raise RuntimeError(f"{self.ann_file}, line {n}: expected '<image>#<n><TAB><caption>'")
                img_id, caption = parts
                self.annotations[img_id[:-2]].append(caption)  # drop the "#n" caption number
        self.ids = sorted(self.annotations)
        self.loader = loader

    def __getitem__(self, index):
        """``(image, target)``: the loaded image and its list of captions."""
        img_id = self.ids[index]
        img = self.loader(os.path.join(self.root, img_id))
        if self.transform is not None:
            img = self.transform(img)
        target = self.annotations[img_id]
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.ids)
