"""Learned and randomized augmentation policies, as ``torchvision.transforms.autoaugment``:
AutoAugment (Cubuk et al., 2019), RandAugment (Cubuk et al., 2020), TrivialAugmentWide (Mueller and
Hutter, 2021) and AugMix (Hendrycks et al., 2020).

Magnitude tables are built in float32 exactly as TorchVision builds them, so the same op index and bin
give the same magnitude, and therefore the same pixels.
"""
import math
from enum import Enum

import numpy as np

import visionlite as vl
from visionlite.core import random as _random
from visionlite.core.backend import array_module
from visionlite.core.nn.module import Module
from visionlite.core.tensor import Tensor

from . import _random as R
from . import functional as F
from ._common import wrap
from ._tensor_resample import _linspace
from .functional import InterpolationMode, interpolation_mode

__all__ = ["AutoAugmentPolicy", "AutoAugment", "RandAugment", "TrivialAugmentWide", "AugMix"]


def _solarize_v1(img, magnitude):
    return magnitude  # v1's Solarize magnitudes are thresholds on the 0..255 scale


def _apply_op(img, op_name, magnitude, interpolation, fill, ops=F, solarize=_solarize_v1,
              unknown="The provided operator {} is not recognized."):
    """Apply one policy op to ``img``: the single op table of both APIs. ``ops`` is the functional
    module that runs it (v1's, or v2's, which keeps tensor kinds), ``solarize(img, magnitude)`` gives the
    threshold (v2's magnitudes are fractions of the image's maximum), ``unknown`` the error message."""
    if op_name == "Identity":
        return img
    if op_name in ("ShearX", "ShearY"):
        # atan turns the shear factor into the angle affine expects; shearing about the corner (0, 0)
        # keeps the top-left fixed, as the original implementation did with PIL
        angle = math.degrees(math.atan(magnitude))
        shear = [angle, 0.0] if op_name == "ShearX" else [0.0, angle]
        return ops.affine(img, angle=0.0, translate=[0, 0], scale=1.0, shear=shear,
                          interpolation=interpolation, fill=fill, center=[0, 0])
    if op_name in ("TranslateX", "TranslateY"):
        translate = [int(magnitude), 0] if op_name == "TranslateX" else [0, int(magnitude)]
        return ops.affine(img, angle=0.0, translate=translate, scale=1.0, interpolation=interpolation,
                          shear=[0.0, 0.0], fill=fill)
    if op_name == "Rotate":
        return ops.rotate(img, magnitude, interpolation=interpolation, fill=fill)
    blends = {"Brightness": ops.adjust_brightness, "Color": ops.adjust_saturation,
              "Contrast": ops.adjust_contrast, "Sharpness": ops.adjust_sharpness}
    if op_name in blends:
        return blends[op_name](img, 1.0 + magnitude)
    if op_name == "Posterize":
        return ops.posterize(img, int(magnitude))
    if op_name == "Solarize":
        return ops.solarize(img, solarize(img, magnitude))
    plain = {"AutoContrast": ops.autocontrast, "Equalize": ops.equalize, "Invert": ops.invert}
    if op_name in plain:
        return plain[op_name](img)
    raise ValueError(unknown.format(op_name))


def _lin(start, end, n):
    return _linspace(start, end, n)


def _none():
    return np.array(0.0, dtype=np.float32)  # a 0-d table: the op takes no magnitude


def _posterize_bins(top, n, levels):
    bins = np.rint(np.arange(n, dtype=np.float32) / np.float32((n - 1) / levels)).astype(np.int32)
    return top - bins


def _fill_for(img, fill):
    channels = F.get_dimensions(img)[0]
    if isinstance(img, Tensor):
        if isinstance(fill, (int, float)):
            return [float(fill)] * channels
        if fill is not None:
            return [float(f) for f in fill]
    return fill


class AutoAugmentPolicy(Enum):
    """The datasets AutoAugment learned policies on."""

    IMAGENET = "imagenet"
    CIFAR10 = "cifar10"
    SVHN = "svhn"


# each policy is a list of sub-policies: two (op, probability, magnitude bin) steps
_POLICIES = {
    AutoAugmentPolicy.IMAGENET: [
        (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)), (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
        (("Equalize", 0.8, None), ("Equalize", 0.6, None)), (("Posterize", 0.6, 7), ("Posterize", 0.6, 6)),
        (("Equalize", 0.4, None), ("Solarize", 0.2, 4)), (("Equalize", 0.4, None), ("Rotate", 0.8, 8)),
        (("Solarize", 0.6, 3), ("Equalize", 0.6, None)), (("Posterize", 0.8, 5), ("Equalize", 1.0, None)),
        (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)), (("Equalize", 0.6, None), ("Posterize", 0.4, 6)),
        (("Rotate", 0.8, 8), ("Color", 0.4, 0)), (("Rotate", 0.4, 9), ("Equalize", 0.6, None)),
        (("Equalize", 0.0, None), ("Equalize", 0.8, None)), (("Invert", 0.6, None), ("Equalize", 1.0, None)),
        (("Color", 0.6, 4), ("Contrast", 1.0, 8)), (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
        (("Color", 0.8, 8), ("Solarize", 0.8, 7)), (("Sharpness", 0.4, 7), ("Invert", 0.6, None)),
        (("ShearX", 0.6, 5), ("Equalize", 1.0, None)), (("Color", 0.4, 0), ("Equalize", 0.6, None)),
        (("Equalize", 0.4, None), ("Solarize", 0.2, 4)), (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
        (("Invert", 0.6, None), ("Equalize", 1.0, None)), (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
        (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
    ],
    AutoAugmentPolicy.CIFAR10: [
        (("Invert", 0.1, None), ("Contrast", 0.2, 6)), (("Rotate", 0.7, 2), ("TranslateX", 0.3, 9)),
        (("Sharpness", 0.8, 1), ("Sharpness", 0.9, 3)), (("ShearY", 0.5, 8), ("TranslateY", 0.7, 9)),
        (("AutoContrast", 0.5, None), ("Equalize", 0.9, None)), (("ShearY", 0.2, 7), ("Posterize", 0.3, 7)),
        (("Color", 0.4, 3), ("Brightness", 0.6, 7)), (("Sharpness", 0.3, 9), ("Brightness", 0.7, 9)),
        (("Equalize", 0.6, None), ("Equalize", 0.5, None)), (("Contrast", 0.6, 7), ("Sharpness", 0.6, 5)),
        (("Color", 0.7, 7), ("TranslateX", 0.5, 8)), (("Equalize", 0.3, None), ("AutoContrast", 0.4, None)),
        (("TranslateY", 0.4, 3), ("Sharpness", 0.2, 6)), (("Brightness", 0.9, 6), ("Color", 0.2, 8)),
        (("Solarize", 0.5, 2), ("Invert", 0.0, None)), (("Equalize", 0.2, None), ("AutoContrast", 0.6, None)),
        (("Equalize", 0.2, None), ("Equalize", 0.6, None)), (("Color", 0.9, 9), ("Equalize", 0.6, None)),
        (("AutoContrast", 0.8, None), ("Solarize", 0.2, 8)), (("Brightness", 0.1, 3), ("Color", 0.7, 0)),
        (("Solarize", 0.4, 5), ("AutoContrast", 0.9, None)), (("TranslateY", 0.9, 9), ("TranslateY", 0.7, 9)),
        (("AutoContrast", 0.9, None), ("Solarize", 0.8, 3)), (("Equalize", 0.8, None), ("Invert", 0.1, None)),
        (("TranslateY", 0.7, 9), ("AutoContrast", 0.9, None)),
    ],
    AutoAugmentPolicy.SVHN: [
        (("ShearX", 0.9, 4), ("Invert", 0.2, None)), (("ShearY", 0.9, 8), ("Invert", 0.7, None)),
        (("Equalize", 0.6, None), ("Solarize", 0.6, 6)), (("Invert", 0.9, None), ("Equalize", 0.6, None)),
        (("Equalize", 0.6, None), ("Rotate", 0.9, 3)), (("ShearX", 0.9, 4), ("AutoContrast", 0.8, None)),
        (("ShearY", 0.9, 8), ("Invert", 0.4, None)), (("ShearY", 0.9, 5), ("Solarize", 0.2, 6)),
        (("Invert", 0.9, None), ("AutoContrast", 0.8, None)), (("Equalize", 0.6, None), ("Rotate", 0.9, 3)),
        (("ShearX", 0.9, 4), ("Solarize", 0.3, 3)), (("ShearY", 0.8, 8), ("Invert", 0.7, None)),
        (("Equalize", 0.9, None), ("TranslateY", 0.6, 6)), (("Invert", 0.9, None), ("Equalize", 0.6, None)),
        (("Contrast", 0.3, 3), ("Rotate", 0.8, 4)), (("Invert", 0.8, None), ("TranslateY", 0.0, 2)),
        (("ShearY", 0.7, 6), ("Solarize", 0.4, 8)), (("Invert", 0.6, None), ("Rotate", 0.8, 4)),
        (("ShearY", 0.3, 7), ("TranslateX", 0.9, 3)), (("ShearX", 0.1, 6), ("Invert", 0.6, None)),
        (("Solarize", 0.7, 2), ("TranslateY", 0.6, 7)), (("ShearY", 0.8, 4), ("Invert", 0.8, None)),
        (("ShearX", 0.7, 9), ("TranslateY", 0.8, 3)), (("ShearY", 0.8, 5), ("AutoContrast", 0.7, None)),
        (("ShearX", 0.7, 2), ("Invert", 0.1, None)),
    ],
}


def _standard_space(num_bins, image_size, identity):
    """The op table shared by AutoAugment and RandAugment: name -> (magnitudes, signed)."""
    h, w = image_size
    space = {"Identity": (_none(), False)} if identity else {}
    space.update({
        "ShearX": (_lin(0.0, 0.3, num_bins), True), "ShearY": (_lin(0.0, 0.3, num_bins), True),
        "TranslateX": (_lin(0.0, 150.0 / 331.0 * w, num_bins), True),
        "TranslateY": (_lin(0.0, 150.0 / 331.0 * h, num_bins), True),
        "Rotate": (_lin(0.0, 30.0, num_bins), True), "Brightness": (_lin(0.0, 0.9, num_bins), True),
        "Color": (_lin(0.0, 0.9, num_bins), True), "Contrast": (_lin(0.0, 0.9, num_bins), True),
        "Sharpness": (_lin(0.0, 0.9, num_bins), True), "Posterize": (_posterize_bins(8, num_bins, 4), False),
        "Solarize": (_lin(255.0, 0.0, num_bins), False), "AutoContrast": (_none(), False),
        "Equalize": (_none(), False),
    })
    if not identity:
        space["Invert"] = (_none(), False)
    return space


class AutoAugment(Module):
    """Apply one of the learned sub-policies of ``policy``, picked at random."""

    def __init__(self, policy=AutoAugmentPolicy.IMAGENET, interpolation=InterpolationMode.NEAREST, fill=None):
        super().__init__()
        if policy not in _POLICIES:
            raise ValueError(f"The provided policy {policy} is not recognized.")
        self.policy = policy
        self.interpolation = interpolation_mode(interpolation)
        self.fill = fill
        self.policies = _POLICIES[policy]

    def _augmentation_space(self, num_bins, image_size):
        return _standard_space(num_bins, image_size, identity=False)

    @staticmethod
    def get_params(transform_num):
        """(sub-policy index, the two probabilities drawn, the two signs drawn)."""
        policy_id = R.randint(0, transform_num)
        return policy_id, vl.rand(2), vl.randint(0, 2, size=(2,))

    def forward(self, img):
        fill = _fill_for(img, self.fill)
        _, height, width = F.get_dimensions(img)
        transform_id, probs, signs = self.get_params(len(self.policies))
        op_meta = self._augmentation_space(10, (height, width))
        for i, (op_name, p, magnitude_id) in enumerate(self.policies[transform_id]):
            if probs[i].item() <= p:
                magnitudes, signed = op_meta[op_name]
                magnitude = float(magnitudes[magnitude_id]) if magnitude_id is not None else 0.0
                if signed and signs[i].item() == 0:
                    magnitude *= -1.0
                img = _apply_op(img, op_name, magnitude, interpolation=self.interpolation, fill=fill)
        return img

    def __repr__(self):
        return f"{type(self).__name__}(policy={self.policy}, fill={self.fill})"


class RandAugment(Module):
    """Apply ``num_ops`` ops picked uniformly, all at the fixed ``magnitude`` bin."""

    def __init__(self, num_ops=2, magnitude=9, num_magnitude_bins=31, interpolation=InterpolationMode.NEAREST,
                 fill=None):
        super().__init__()
        self.num_ops = num_ops
        self.magnitude = magnitude
        self.num_magnitude_bins = num_magnitude_bins
        self.interpolation = interpolation_mode(interpolation)
        self.fill = fill

    def _augmentation_space(self, num_bins, image_size):
        return _standard_space(num_bins, image_size, identity=True)

    def forward(self, img):
        fill = _fill_for(img, self.fill)
        _, height, width = F.get_dimensions(img)
        op_meta = self._augmentation_space(self.num_magnitude_bins, (height, width))
        names = list(op_meta)
        for _ in range(self.num_ops):
            op_name = names[R.randint(0, len(op_meta))]
            magnitudes, signed = op_meta[op_name]
            magnitude = float(magnitudes[self.magnitude]) if magnitudes.ndim > 0 else 0.0
            if signed and R.randint(0, 2):
                magnitude *= -1.0
            img = _apply_op(img, op_name, magnitude, interpolation=self.interpolation, fill=fill)
        return img

    def __repr__(self):
        return (f"{type(self).__name__}(num_ops={self.num_ops}, magnitude={self.magnitude}, "
                f"num_magnitude_bins={self.num_magnitude_bins}, interpolation={self.interpolation}, "
                f"fill={self.fill})")


class TrivialAugmentWide(Module):
    """Apply one op picked uniformly, at a magnitude bin picked uniformly."""

    def __init__(self, num_magnitude_bins=31, interpolation=InterpolationMode.NEAREST, fill=None):
        super().__init__()
        self.num_magnitude_bins = num_magnitude_bins
        self.interpolation = interpolation_mode(interpolation)
        self.fill = fill

    def _augmentation_space(self, num_bins):
        n = num_bins
        return {
            "Identity": (_none(), False),
            "ShearX": (_lin(0.0, 0.99, n), True), "ShearY": (_lin(0.0, 0.99, n), True),
            "TranslateX": (_lin(0.0, 32.0, n), True), "TranslateY": (_lin(0.0, 32.0, n), True),
            "Rotate": (_lin(0.0, 135.0, n), True), "Brightness": (_lin(0.0, 0.99, n), True),
            "Color": (_lin(0.0, 0.99, n), True), "Contrast": (_lin(0.0, 0.99, n), True),
            "Sharpness": (_lin(0.0, 0.99, n), True), "Posterize": (_posterize_bins(8, n, 6), False),
            "Solarize": (_lin(255.0, 0.0, n), False), "AutoContrast": (_none(), False),
            "Equalize": (_none(), False),
        }

    def forward(self, img):
        fill = _fill_for(img, self.fill)
        op_meta = self._augmentation_space(self.num_magnitude_bins)
        op_name = list(op_meta)[R.randint(0, len(op_meta))]
        magnitudes, signed = op_meta[op_name]
        magnitude = float(magnitudes[R.randint(0, len(magnitudes))]) if magnitudes.ndim > 0 else 0.0
        if signed and R.randint(0, 2):
            magnitude *= -1.0
        return _apply_op(img, op_name, magnitude, interpolation=self.interpolation, fill=fill)

    def __repr__(self):
        return (f"{type(self).__name__}(num_magnitude_bins={self.num_magnitude_bins}, "
                f"interpolation={self.interpolation}, fill={self.fill})")


class AugMix(Module):
    """Mix the image with ``mixture_width`` chains of random ops, weights from Dirichlet(``alpha``)."""

    def __init__(self, severity=3, mixture_width=3, chain_depth=-1, alpha=1.0, all_ops=True,
                 interpolation=InterpolationMode.BILINEAR, fill=None):
        super().__init__()
        self._PARAMETER_MAX = 10
        if not 1 <= severity <= self._PARAMETER_MAX:
            raise ValueError(f"The severity must be between [1, {self._PARAMETER_MAX}]. Got {severity} "
                             "instead.")
        self.severity = severity
        self.mixture_width = mixture_width
        self.chain_depth = chain_depth
        self.alpha = alpha
        self.all_ops = all_ops
        self.interpolation = interpolation_mode(interpolation)
        self.fill = fill

    def _augmentation_space(self, num_bins, image_size):
        h, w = image_size
        s = {
            "ShearX": (_lin(0.0, 0.3, num_bins), True), "ShearY": (_lin(0.0, 0.3, num_bins), True),
            "TranslateX": (_lin(0.0, w / 3.0, num_bins), True),
            "TranslateY": (_lin(0.0, h / 3.0, num_bins), True),
            "Rotate": (_lin(0.0, 30.0, num_bins), True),
            "Posterize": (_posterize_bins(4, num_bins, 4), False),
            "Solarize": (_lin(255.0, 0.0, num_bins), False), "AutoContrast": (_none(), False),
            "Equalize": (_none(), False),
        }
        if self.all_ops:
            s.update({name: (_lin(0.0, 0.9, num_bins), True) for name in ("Brightness", "Color", "Contrast",
                                                                            "Sharpness")})
        return s

    def _sample_dirichlet(self, params):
        """One Dirichlet draw per row of ``params`` (``B, K``), from visionlite's generator."""
        rng = _random.default_generator.numpy_generator()
        rows = np.asarray(params, dtype=np.float64)
        return np.stack([rng.dirichlet(row) for row in rows]).astype(np.float32)

    def forward(self, orig_img):
        fill = _fill_for(orig_img, self.fill)
        _, height, width = F.get_dimensions(orig_img)
        img = orig_img if isinstance(orig_img, Tensor) else F.pil_to_tensor(orig_img)
        op_meta = self._augmentation_space(self._PARAMETER_MAX, (height, width))
        names = list(op_meta)
        orig_dims = list(img.shape)
        batch = img.reshape([1] * max(4 - img.ndim, 0) + orig_dims)
        b = batch.shape[0]
        m = self._sample_dirichlet(np.full((b, 2), self.alpha))
        weights = self._sample_dirichlet(np.full((b, self.mixture_width), self.alpha)) * m[:, 1:2]
        bshape = (b, 1, 1, 1)
        xp = array_module(batch._data)
        m, weights = xp.asarray(m), xp.asarray(weights)
        mix = m[:, 0].reshape(bshape) * batch._data
        for i in range(self.mixture_width):
            aug = batch
            depth = self.chain_depth if self.chain_depth > 0 else R.randint(1, 4)
            for _ in range(depth):
                op_name = names[R.randint(0, len(op_meta))]
                magnitudes, signed = op_meta[op_name]
                magnitude = float(magnitudes[R.randint(0, self.severity)]) if magnitudes.ndim > 0 else 0.0
                if signed and R.randint(0, 2):
                    magnitude *= -1.0
                aug = _apply_op(aug, op_name, magnitude, interpolation=self.interpolation, fill=fill)
            mix += weights[:, i].reshape(bshape) * aug._data
        out = wrap(mix.reshape(orig_dims).astype(img._data.dtype))
        return out if isinstance(orig_img, Tensor) else F.to_pil_image(out)

    def __repr__(self):
        return (f"{type(self).__name__}(severity={self.severity}, mixture_width={self.mixture_width}, "
                f"chain_depth={self.chain_depth}, alpha={self.alpha}, all_ops={self.all_ops}, "
                f"interpolation={self.interpolation}, fill={self.fill})")
