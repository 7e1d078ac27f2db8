"""The model shell shared by FCN and DeepLabV3, and the argument rules of the segmentation builders."""
from collections import OrderedDict

import visionlite.nn.functional as F
from visionlite import nn

from .._api import Decorator
from .._utils import _ovewrite_value_param, _reject_pretrained

__all__ = ["_SimpleSegmentationModel"]


class _SimpleSegmentationModel(nn.Module):
    """A backbone returning ``{"out": features[, "aux": features]}``, a classifier on ``"out"`` and an
    optional auxiliary classifier on ``"aux"``; both predictions are upsampled (bilinear) to the input's
    size.

    Args:
        backbone: module mapping ``(N, 3, H, W)`` images to an ``OrderedDict`` of feature maps.
        classifier: module mapping the ``"out"`` features to ``(N, num_classes, h, w)`` logits.
        aux_classifier: the same for the ``"aux"`` features, or None.
    ``forward`` returns an ``OrderedDict`` with ``"out"`` (and ``"aux"``), each ``(N, num_classes, H, W)``.
    """

    def __init__(self, backbone, classifier, aux_classifier=None):
        super().__init__()
        self.backbone = backbone
        self.classifier = classifier
        self.aux_classifier = aux_classifier

    def forward(self, x):
        size = x.shape[-2:]  # not tuple(): a symbolic trace (feature extraction) records the Size
        features = self.backbone(x)
        result = OrderedDict()
        result["out"] = F.interpolate(self.classifier(features["out"]), size=size, mode="bilinear",
                                      align_corners=False)
        if self.aux_classifier is not None:
            result["aux"] = F.interpolate(self.aux_classifier(features["aux"]), size=size, mode="bilinear",
                                          align_corners=False)
        return result


def _check_builder_kwargs(kwargs, weights_enum, builder):
    """Refuse TorchVision's legacy ``pretrained``/``pretrained_backbone`` flags and misspelt arguments."""
    _reject_pretrained(kwargs, weights_enum)
    if "pretrained_backbone" in kwargs:
        raise TypeError("'pretrained_backbone' is not an argument of visionlite's builders: pass "
                        "weights_backbone=<BackboneWeights>.IMAGENET1K_V1 (the default) or "
                        "weights_backbone=None")
    if kwargs:
        raise TypeError(f"{builder}() got unexpected keyword arguments {sorted(kwargs)}; it takes weights, "
                        "progress, num_classes, aux_loss and weights_backbone")


def _resolve_args(weights, weights_backbone, num_classes, aux_loss):
    """(weights_backbone, num_classes, aux_loss) as TorchVision's builders settle them: full-model weights
    replace the backbone's, fix ``num_classes`` to their categories and bring the auxiliary head; without
    weights ``num_classes`` defaults to 21 (Pascal VOC with background)."""
    if weights is not None:
        num_classes = _ovewrite_value_param("num_classes", num_classes, len(weights.meta["categories"]))
        return None, num_classes, _ovewrite_value_param("aux_loss", aux_loss, True)
    return weights_backbone, 21 if num_classes is None else num_classes, aux_loss


def _mobilenet_stage_indices(features):
    """Positions in a MobileNetV3 ``features`` Sequential where each stage ends: the stem, every block
    that strides (or would stride, when dilated), and the last layer."""
    strided = [i for i, block in enumerate(features) if getattr(block, "_is_cn", False)]
    return [0, *strided, len(features) - 1]


_BUILDER_DOC = """{title}

    Args:
        weights: a :class:`{enum}` member, its name (``"DEFAULT"``) or None (random
            initialisation). Trained on the COCO images of the 20 Pascal VOC categories (plus
            background){aux_weights}.
        progress: show a download progress bar (on a terminal).
        num_classes: output classes including the background (default 21; fixed by ``weights``).{aux}
        weights_backbone: ImageNet weights of the backbone (a :class:`{backbone}` member, by default
            ``IMAGENET1K_V1``, or None); ignored when ``weights`` is given.
    Returns a :class:`{model}`; ``model(x)`` with ``x`` ``(N, 3, H, W)`` gives an ``OrderedDict`` with
    ``"out"``{aux_out} logits ``(N, num_classes, H, W)``.
    """
_AUX_DOC = """
        aux_loss: add the auxiliary FCN head on an earlier stage (output stride 8); its logits are
            ``"aux"``."""


def _documented(title, model, enum, backbone, aux=True) -> Decorator:
    """Give a builder the shared docstring."""
    def wrap(fn):
        fn.__doc__ = _BUILDER_DOC.format(
            title=title, model=model, enum=enum.__name__, backbone=backbone.__name__,
            aux_weights="; they bring the auxiliary head" if aux else "",
            aux=_AUX_DOC if aux else "", aux_out=' (and ``"aux"``)' if aux else "")
        return fn
    return wrap
