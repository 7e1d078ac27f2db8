"""``FakeData``: random images with random labels, for trying a pipeline without any files."""
import numpy as np
from PIL import Image

from .vision import VisionDataset

__all__ = ["FakeData"]

_CHANNELS = (1, 3, 4)  # grey, RGB, RGBA


class FakeData(VisionDataset):
    """``size`` random PIL images of ``image_size`` (C, H, W) with labels in ``range(num_classes)``.

    Item ``i`` is drawn from a generator seeded with ``i + random_offset``, so it is the same on every
    access and in every worker. (The pixels differ from TorchVision's, which come from torch's RNG.)
    """

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
                 target_transform=None, random_offset=0):
        super().__init__(transform=transform, target_transform=target_transform)
        if len(image_size) != 3 or image_size[0] not in _CHANNELS:
            raise ValueError(f"FakeData: image_size must be (C, H, W) with C in {_CHANNELS}, got "
                             f"{image_size}")
        self.size = size
        self.num_classes = num_classes
        self.image_size = image_size
        self.random_offset = random_offset

    def __getitem__(self, index):
        """``(image, target)``: a PIL image and an int label (each after its transform)."""
        if not -self.size <= index < self.size:
            raise IndexError(f"{type(self).__name__} index {index} out of range for size {self.size}")
        index %= self.size
        rng = np.random.default_rng(index + self.random_offset)
        pixels = rng.integers(0, 256, size=self.image_size, dtype=np.uint8)
        target = int(rng.integers(self.num_classes))
        c = self.image_size[0]
        # uint8 (H, W) becomes mode L, (H, W, 3) RGB and (H, W, 4) RGBA
        img = Image.fromarray(pixels[0] if c == 1 else np.ascontiguousarray(pixels.transpose(1, 2, 0)))
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return self.size
