"""``ImageList``: a padded batch of images together with the size of each image before padding."""

__all__ = ["ImageList"]


class ImageList:
    """Images padded to one tensor (N, C, H, W) plus ``image_sizes``, the list of each image's (h, w)."""

    def __init__(self, tensors, image_sizes):
        self.tensors = tensors
        self.image_sizes = image_sizes

    def to(self, device):
        """The same batch with its tensor on ``device``."""
        return ImageList(self.tensors.to(device), self.image_sizes)
