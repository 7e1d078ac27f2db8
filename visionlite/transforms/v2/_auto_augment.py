"""AutoAugment, RandAugment, TrivialAugmentWide and AugMix for v2 samples, as
``torchvision.transforms.v2``: they find the one image or video of a sample (refusing boxes, masks and
key points, whose geometry these policies do not follow) and draw in TorchVision v2's order. The op
tables are the v1 module's, except Solarize, whose threshold is a fraction of the dtype's maximum.
"""
import numpy as np

from visionlite.core.tensor import Tensor

from .. import _random as R
from .. import autoaugment as _v1
from .._common import is_pil_image
from ..functional import InterpolationMode, interpolation_mode
from . import functional as F2
from ._transform import Transform, _flatten, _kinds, setup_fill
from .tv_tensors import BoundingBoxes, Image, KeyPoints, Mask, Video, wrap

__all__ = ["AutoAugmentPolicy", "AutoAugment", "RandAugment", "TrivialAugmentWide", "AugMix"]

AutoAugmentPolicy = _v1.AutoAugmentPolicy


def _fill_for(img, fill):
    value = fill.get(type(img)) if hasattr(fill, "get") else fill
    return value


def _solarize_threshold(img, magnitude):
    """v2's Solarize magnitude is a fraction of the image's maximum (255 for PIL and integer images)."""
    bound = 255.0 if is_pil_image(img) else (1.0 if img.is_floating_point() else 255.0)
    return bound * magnitude


def _apply(img, name, magnitude, interpolation, fill):
    """One op of the policies on an image or video (tensor kinds kept, PIL images stay PIL): v1's op
    table run through the v2 functionals."""
    return _v1._apply_op(img, name, magnitude, interpolation, _fill_for(img, fill), ops=F2,
                         solarize=_solarize_threshold, unknown="No transform available for {}")


def _v2_space(space, num_bins):
    """A v1 op table with v2's Solarize magnitudes (fractions of the maximum, from 1 down to 0)."""
    space = dict(space)
    if "Solarize" in space:
        space["Solarize"] = (_v1._lin(1.0, 0.0, num_bins), False)
    return space


def _pick(space):
    """A random op of ``space`` (TorchVision v2's ``_get_random_item``)."""
    names = list(space)
    name = names[R.randint(0, len(names))]
    return name, space[name]


class _AutoAugmentBase(Transform):
    def __init__(self, interpolation, fill):
        super().__init__()
        self.interpolation = interpolation_mode(interpolation)
        self.fill = fill
        self._fill = setup_fill(fill)

    def forward(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        leaves = []
        rebuild = _flatten(sample, leaves)
        kinds = _kinds(leaves)
        found = []
        for i, (x, k) in enumerate(zip(leaves, kinds)):
            if k in ("image", "video"):
                found.append(i)
            elif isinstance(x, (BoundingBoxes, Mask, KeyPoints)):
                raise TypeError(f"Inputs of type {type(x).__name__} are not supported by "
                                f"{type(self).__name__}()")
        if not found:
            raise TypeError("Found no image in the sample.")
        if len(found) > 1:
            raise TypeError("Auto augment transformations are only properly defined for a single image "
                            "or video, "
                            f"but found {len(found)}.")
        out = list(leaves)
        out[found[0]] = self.augment(leaves[found[0]])
        return rebuild(iter(out))

    def _op(self, img, name, magnitude):
        return _apply(img, name, magnitude, self.interpolation, self._fill)


class AutoAugment(_AutoAugmentBase):
    """Apply one of the learned sub-policies of ``policy`` (picked at random), each step with its
    probability, as TorchVision v2 draws them."""

    def __init__(self, policy=AutoAugmentPolicy.IMAGENET, interpolation=InterpolationMode.NEAREST, fill=None):
        super().__init__(interpolation, fill)
        if policy not in _v1._POLICIES:
            raise ValueError(f"The provided policy {policy} is not recognized.")
        self.policy = policy
        self._policies = _v1._POLICIES[policy]

    def augment(self, img):
        h, w = F2.get_size(img)
        space = _v2_space(_v1._standard_space(10, (h, w), identity=False), 10)
        policy = self._policies[R.randint(0, len(self._policies))]
        for name, p, magnitude_idx in policy:
            if not R.rand() <= p:
                continue
            magnitudes, signed = space[name]
            if magnitudes.ndim > 0:
                magnitude = float(magnitudes[magnitude_idx])
                if signed and R.rand() <= 0.5:
                    magnitude *= -1
            else:
                magnitude = 0.0
            img = self._op(img, name, magnitude)
        return img

    def __repr__(self):
        return (f"AutoAugment(policy={self.policy}, interpolation={self.interpolation.value}, "
                f"fill={self.fill})")


class RandAugment(_AutoAugmentBase):
    """Apply ``num_ops`` ops picked uniformly, all at the ``magnitude`` bin of ``num_magnitude_bins``."""

    def __init__(self, num_ops=2, magnitude=9, num_magnitude_bins=31, interpolation=InterpolationMode.NEAREST,
                 fill=None):
        super().__init__(interpolation, fill)
        if not isinstance(num_ops, int) or num_ops < 0:
            raise ValueError(f"num_ops should be a non-negative integer, but got {num_ops} instead.")
        self.num_ops, self.magnitude, self.num_magnitude_bins = num_ops, magnitude, num_magnitude_bins

    def augment(self, img):
        h, w = F2.get_size(img)
        bins = self.num_magnitude_bins
        space = _v2_space(_v1._standard_space(bins, (h, w), identity=True), bins)
        for _ in range(self.num_ops):
            name, (magnitudes, signed) = _pick(space)
            if magnitudes.ndim > 0:
                magnitude = float(magnitudes[self.magnitude])
                if signed and R.rand() <= 0.5:
                    magnitude *= -1
            else:
                magnitude = 0.0
            img = self._op(img, name, magnitude)
        return img

    def __repr__(self):
        return (f"RandAugment(num_ops={self.num_ops}, magnitude={self.magnitude}, "
                f"num_magnitude_bins={self.num_magnitude_bins}, interpolation={self.interpolation.value}, "
                f"fill={self.fill})")


class TrivialAugmentWide(_AutoAugmentBase):
    """Apply one op picked uniformly at a magnitude bin picked uniformly."""

    def __init__(self, num_magnitude_bins=31, interpolation=InterpolationMode.NEAREST, fill=None):
        super().__init__(interpolation, fill)
        self.num_magnitude_bins = num_magnitude_bins

    def augment(self, img):
        bins = self.num_magnitude_bins
        space = _v2_space(_v1.TrivialAugmentWide._augmentation_space(self, bins), bins)
        name, (magnitudes, signed) = _pick(space)
        if magnitudes.ndim > 0:
            magnitude = float(magnitudes[R.randint(0, bins)])
            if signed and R.rand() <= 0.5:
                magnitude *= -1
        else:
            magnitude = 0.0
        return self._op(img, name, magnitude)

    def __repr__(self):
        return (f"TrivialAugmentWide(num_magnitude_bins={self.num_magnitude_bins}, "
                f"interpolation={self.interpolation.value}, fill={self.fill})")


class AugMix(_AutoAugmentBase):
    """AugMix (Hendrycks et al., 2020): mix the image with ``mixture_width`` chains of random ops."""

    _PARAMETER_MAX = 10

    def __init__(self, severity=3, mixture_width=3, chain_depth=-1, alpha=1.0, all_ops=True,
                 interpolation=InterpolationMode.BILINEAR, fill=None):
        super().__init__(interpolation, fill)
        if not 1 <= severity <= self._PARAMETER_MAX:
            raise ValueError(f"The severity must be between [1, {self._PARAMETER_MAX}]. Got {severity} "
                             "instead.")
        self.severity, self.mixture_width, self.chain_depth = severity, mixture_width, chain_depth
        self.alpha, self.all_ops = alpha, all_ops

    def _sample_dirichlet(self, params):
        return _v1.AugMix._sample_dirichlet(self, params)

    def augment(self, orig):
        h, w = F2.get_size(orig)
        bins = self._PARAMETER_MAX
        space = _v2_space(_v1.AugMix._augmentation_space(self, bins, (h, w)), bins)
        img = F2.pil_to_tensor(orig) if is_pil_image(orig) else Tensor._wrap(orig._data)
        x = img._data
        expected = 5 if isinstance(orig, Video) else 4
        batch = x.reshape((1,) * max(expected - x.ndim, 0) + x.shape)
        b = batch.shape[0]
        bshape = (b,) + (1,) * (batch.ndim - 1)
        m = np.asarray(self._sample_dirichlet(np.full((b, 2), self.alpha)))
        weights = np.asarray(self._sample_dirichlet(np.full((b, self.mixture_width), self.alpha))) * m[:, 1:2]
        m, weights = m.astype(np.float32), weights.astype(np.float32)
        mix = m[:, 0].reshape(bshape) * batch
        for i in range(self.mixture_width):
            aug = Tensor._wrap(batch)
            depth = self.chain_depth if self.chain_depth > 0 else R.randint(1, 4)
            for _ in range(depth):
                name, (magnitudes, signed) = _pick(space)
                if magnitudes.ndim > 0:
                    magnitude = float(magnitudes[R.randint(0, self.severity)])
                    if signed and R.rand() <= 0.5:
                        magnitude *= -1
                else:
                    magnitude = 0.0
                aug = self._op(aug, name, magnitude)
            mix = mix + weights[:, i].reshape(bshape) * aug._data
        out = Tensor._wrap(mix.reshape(x.shape).astype(x.dtype))
        if isinstance(orig, (Image, Video)):
            return wrap(out, like=orig)
        return F2.to_pil_image(out) if is_pil_image(orig) else out

    def __repr__(self):
        return (f"AugMix(severity={self.severity}, mixture_width={self.mixture_width}, "
                f"chain_depth={self.chain_depth}, alpha={self.alpha}, all_ops={self.all_ops}, "
                f"interpolation={self.interpolation.value}, fill={self.fill})")
