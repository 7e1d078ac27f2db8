"""Datasets from a folder tree where each sub-folder is a class: ``DatasetFolder`` and ``ImageFolder``.

Only directories count as classes (stray files in the root are ignored), sorted as plain strings, so
class indices match TorchVision's for the same tree. Symbolic links are followed, but each real folder
is read once per class, so a link loop neither hangs nor repeats images (TorchVision's walk does both).
"""
import os

from ._image import open_image
from .vision import VisionDataset

__all__ = ["DatasetFolder", "ImageFolder", "IMG_EXTENSIONS", "default_loader", "pil_loader", "find_classes",
           "make_dataset", "has_file_allowed_extension", "is_image_file"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def has_file_allowed_extension(filename, extensions):
    """True when ``filename`` ends (case-insensitively) with one of ``extensions`` (a str or tuple)."""
    return filename.lower().endswith(extensions if isinstance(extensions, str) else tuple(extensions))


def is_image_file(filename):
    return has_file_allowed_extension(filename, IMG_EXTENSIONS)


def find_classes(directory):
    """``(classes, class_to_idx)``: the sub-folder names of ``directory``, sorted, and their indices."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Dataset folder {directory} does not exist (or is not a folder)")
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        example = os.path.join(directory, "cat", "1.jpg")
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}: put each class's files in a "
                                f"sub-folder named after the class, e.g. {example}")
    return classes, {c: i for i, c in enumerate(classes)}


def _walk_once(folder):
    """``(root, files)`` for every folder under ``folder``, sorted by path as TorchVision sorts them.

    Symbolic links to folders are followed, but each real folder is entered once: a link back to an
    ancestor (a loop) or a second link to the same folder adds nothing, where ``os.walk(followlinks=True)``
    would recurse until the path is too long and list the same images again and again.
    """
    visited, found = set(), []
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in visited:
            dirs[:] = []
            continue
        visited.add(real)
        dirs.sort()  # which of two links to one folder is kept must not depend on the file system's order
        dirs[:] = [d for d in dirs if os.path.realpath(os.path.join(root, d)) not in visited]
        found.append((root, files))
    return sorted(found)


def make_dataset(directory, class_to_idx=None, extensions=None, is_valid_file=None, allow_empty=False):
    """``[(path, class_index), ...]`` for the valid files under each class folder (recursively, sorted).

    Exactly one of ``extensions`` and ``is_valid_file`` must be given. A class without any valid file is
    an error unless ``allow_empty``.
    """
    directory = os.path.expanduser(os.fspath(directory))
    if class_to_idx is None:
        _, class_to_idx = find_classes(directory)
    elif not class_to_idx:
        raise ValueError("'class_to_index' must have at least one entry to collect any samples.")
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("Both extensions and is_valid_file cannot be None or not None at the same time")
    if extensions is not None:
        def is_valid_file(path):
            return has_file_allowed_extension(path, extensions)

    instances, found = [], set()
    for name in sorted(class_to_idx):
        folder = os.path.join(directory, name)
        if not os.path.isdir(folder):
            continue
        for root, files in _walk_once(folder):
            for fname in sorted(files):
                path = os.path.join(root, fname)
                if is_valid_file(path):
                    instances.append((path, class_to_idx[name]))
                    found.add(name)
    empty = set(class_to_idx) - found
    if empty and not allow_empty:
        msg = f"Found no valid file for the classes {', '.join(sorted(empty))} in {directory}. "
        if extensions is not None:
            exts = extensions if isinstance(extensions, str) else ", ".join(extensions)
            msg += f"Supported extensions are: {exts}. "
        raise FileNotFoundError(msg + "Pass allow_empty=True to keep empty classes.")
    return instances


def pil_loader(path):
    """Open an image file as an RGB PIL image; an unreadable file raises an error naming it."""
    return open_image(path, "RGB")


def default_loader(path):
    return pil_loader(path)


class DatasetFolder(VisionDataset):
    """A dataset of files arranged as ``root/<class>/.../<file>``.

    Args:
        root: the root folder.
        loader: callable turning a path into a sample.
        extensions: accepted file endings (case-insensitive); exclusive with ``is_valid_file``.
        transform: callable on the sample.
        target_transform: callable on the class index.
        is_valid_file: callable deciding from a path whether the file is a sample.
        allow_empty: accept classes without any valid file.

    Attributes: ``classes`` (sorted names), ``class_to_idx``, ``samples`` ((path, index) pairs), ``targets``.
    Override ``find_classes`` for another layout. Folder links are followed, each real folder once per
    class (link loops neither hang nor repeat samples).
    """

    def __init__(self, root, loader, extensions=None, transform=None, target_transform=None,
                 is_valid_file=None, allow_empty=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        classes, class_to_idx = self.find_classes(self.root)
        samples = self.make_dataset(self.root, class_to_idx, extensions, is_valid_file, allow_empty)
        self.loader = loader
        self.extensions = extensions
        self.classes = classes
        self.class_to_idx = class_to_idx
        self.samples = samples
        self.targets = [s[1] for s in samples]

    @staticmethod
    def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None, allow_empty=False):
        """The (path, class index) pairs; override to read samples from elsewhere (e.g. a zip)."""
        if class_to_idx is None:
            raise ValueError("The class_to_idx parameter cannot be None.")
        return make_dataset(directory, class_to_idx, extensions, is_valid_file, allow_empty)

    def find_classes(self, directory):
        """``(classes, class_to_idx)`` for ``directory``; override for another folder layout."""
        return find_classes(directory)

    def __getitem__(self, index):
        """``(sample, target)``: the loaded file and its class index (each after its transform)."""
        path, target = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def __len__(self):
        return len(self.samples)


class ImageFolder(DatasetFolder):
    """Images arranged as ``root/<class>/.../<image>`` (any of ``IMG_EXTENSIONS``), loaded as RGB PIL
    images; same arguments as DatasetFolder, with ``loader`` defaulting to ``default_loader``.
    ``imgs`` is ``samples``."""

    def __init__(self, root, transform=None, target_transform=None, loader=default_loader, is_valid_file=None,
                 allow_empty=False):
        extensions = IMG_EXTENSIONS if is_valid_file is None else None
        super().__init__(root, loader, extensions, transform=transform, target_transform=target_transform,
                         is_valid_file=is_valid_file, allow_empty=allow_empty)
        self.imgs = self.samples
