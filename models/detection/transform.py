"""``GeneralizedRCNNTransform``: the input stage of every TorchVision detector. It normalises each image,
resizes it so that its short side is ``min_size`` unless its long side would exceed ``max_size``, pads the
batch to a multiple of ``size_divisible`` and, after the heads, maps boxes, masks and keypoints back to the
original image sizes."""
import math

import visionlite as vl
import visionlite.nn.functional as F
from visionlite import nn

from .image_list import ImageList

__all__ = ["GeneralizedRCNNTransform", "resize_boxes", "resize_keypoints"]


def _resize_image_and_masks(image, self_min_size, self_max_size, target=None, fixed_size=None):
    size, scale_factor, recompute = None, None, None
    if fixed_size is not None:
        size = [fixed_size[1], fixed_size[0]]
    else:
        h, w = image.shape[-2:]
        scale_factor = min(self_min_size / min(h, w), self_max_size / max(h, w))
        recompute = True  # the output size is floor(in * scale), and the sampling uses in / out
    image = F.interpolate(image[None], size=size, scale_factor=scale_factor, mode="bilinear",
                          recompute_scale_factor=recompute, align_corners=False)[0]
    if target is not None and "masks" in target:
        mask = target["masks"][:, None].float()
        mask = F.interpolate(mask, size=size, scale_factor=scale_factor, recompute_scale_factor=recompute)
        target["masks"] = mask[:, 0].to(vl.uint8)
    return image, target


def _ratios(original_size, new_size, device):
    # float32 ratios, as TorchVision divides two float32 scalar tensors
    return [vl.tensor(float(s), dtype=vl.float32, device=device) / vl.tensor(float(o), dtype=vl.float32,
                                                                             device=device)
            for s, o in zip(new_size, original_size)]


def resize_boxes(boxes, original_size, new_size):
    """Boxes (N, 4) in (x1, y1, x2, y2) scaled from an image of ``original_size`` (h, w) to ``new_size``."""
    ratio_h, ratio_w = _ratios(original_size, new_size, boxes.device)
    x1, y1, x2, y2 = boxes.unbind(1)
    return vl.stack((x1 * ratio_w, y1 * ratio_h, x2 * ratio_w, y2 * ratio_h), dim=1)


def resize_keypoints(keypoints, original_size, new_size):
    """Keypoints (N, K, 3) with (x, y, visibility) scaled from ``original_size`` (h, w) to ``new_size``."""
    ratio_h, ratio_w = _ratios(original_size, new_size, keypoints.device)
    return vl.stack((keypoints[..., 0] * ratio_w, keypoints[..., 1] * ratio_h, keypoints[..., 2]), dim=-1)


class GeneralizedRCNNTransform(nn.Module):
    """Normalises, resizes and batches images (and their targets) for a detector.

    Args:
        min_size: short-side size after resizing; a tuple draws one at random per image in training.
        max_size: cap on the long side after resizing.
        image_mean, image_std: per-channel normalisation.
        size_divisible: the batch is zero-padded to a multiple of this on H and W.
        fixed_size: resize every image to this (w, h) instead.
        _skip_resize: in training, keep the images at their size (SSD's random crops already resized them).
    """

    def __init__(self, min_size, max_size, image_mean, image_std, size_divisible=32, fixed_size=None,
                 **kwargs):
        super().__init__()
        if not isinstance(min_size, (list, tuple)):
            min_size = (min_size,)
        self.min_size = min_size
        self.max_size = max_size
        self.image_mean = image_mean
        self.image_std = image_std
        self.size_divisible = size_divisible
        self.fixed_size = fixed_size
        self._skip_resize = kwargs.pop("_skip_resize", False)

    def forward(self, images, targets=None):
        """``images``: list of float (C, H, W) tensors in [0, 1]; ``targets``: optional list of dicts with
        ``boxes`` (and ``masks``, ``keypoints``). Returns (ImageList, targets resized to the new sizes)."""
        images = list(images)
        if targets is not None:
            targets = [dict(t) for t in targets]
        for i, image in enumerate(images):
            if image.dim() != 3:
                raise ValueError(f"images is expected to be a list of 3d tensors of shape [C, H, W], "
                                 f"got {tuple(image.shape)}")
            target = targets[i] if targets is not None else None
            image, target = self.resize(self.normalize(image), target)
            images[i] = image
            if targets is not None and target is not None:
                targets[i] = target
        image_sizes = [tuple(int(s) for s in img.shape[-2:]) for img in images]
        return ImageList(self.batch_images(images, size_divisible=self.size_divisible), image_sizes), targets

    def normalize(self, image):
        if not image.is_floating_point():
            raise TypeError(f"Expected input images to be of floating type (in range [0, 1]), but found type "
                            f"{image.dtype} instead; convert with image.float() / 255")
        mean = vl.as_tensor(self.image_mean, dtype=image.dtype, device=image.device)
        std = vl.as_tensor(self.image_std, dtype=image.dtype, device=image.device)
        return (image - mean[:, None, None]) / std[:, None, None]

    def torch_choice(self, k):
        """One element of ``k`` drawn with visionlite's generator."""
        index = int(vl.empty(1).uniform_(0.0, float(len(k))).item())
        return k[index]

    def resize(self, image, target=None):
        h, w = image.shape[-2:]
        if self.training:
            if self._skip_resize:
                return image, target
            size = self.torch_choice(self.min_size)
        else:
            size = self.min_size[-1]
        image, target = _resize_image_and_masks(image, size, self.max_size, target, self.fixed_size)
        if target is None:
            return image, target
        target["boxes"] = resize_boxes(target["boxes"], (h, w), image.shape[-2:])
        if "keypoints" in target:
            target["keypoints"] = resize_keypoints(target["keypoints"], (h, w), image.shape[-2:])
        return image, target

    def max_by_axis(self, the_list):
        return [max(column) for column in zip(*the_list)]

    def batch_images(self, images, size_divisible=32):
        """Zero-pad the (C, H, W) images to one (N, C, H', W') tensor, H' and W' multiples of
        ``size_divisible``."""
        c, h, w = self.max_by_axis([list(img.shape) for img in images])
        stride = float(size_divisible)
        h = int(math.ceil(h / stride) * stride)
        w = int(math.ceil(w / stride) * stride)
        padded = [F.pad(img, (0, w - img.shape[2], 0, h - img.shape[1], 0, c - img.shape[0]))
                  for img in images]
        return vl.stack(padded)

    def postprocess(self, result, image_shapes, original_image_sizes):
        """Map each detection dict's boxes, masks and keypoints from the resized to the original size."""
        if self.training:
            return result
        for i, (pred, im_s, o_im_s) in enumerate(zip(result, image_shapes, original_image_sizes)):
            boxes = resize_boxes(pred["boxes"], im_s, o_im_s)
            result[i]["boxes"] = boxes
            if "masks" in pred:
                from .roi_heads import paste_masks_in_image

                result[i]["masks"] = paste_masks_in_image(pred["masks"], boxes, o_im_s)
            if "keypoints" in pred:
                result[i]["keypoints"] = resize_keypoints(pred["keypoints"], im_s, o_im_s)
        return result

    def __repr__(self):
        indent = "\n    "
        return (f"{self.__class__.__name__}({indent}Normalize(mean={self.image_mean}, std={self.image_std})"
                f"{indent}Resize(min_size={self.min_size}, max_size={self.max_size}, mode='bilinear')\n)")
