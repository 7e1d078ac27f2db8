"""``GeneralizedRCNN``: the skeleton shared by Faster, Mask and Keypoint R-CNN (transform, backbone, RPN,
RoI heads), as TorchVision's ``models/detection/generalized_rcnn.py``."""

from collections import OrderedDict

import visionlite as vl
from visionlite import nn

__all__ = ["GeneralizedRCNN"]


class GeneralizedRCNN(nn.Module):
    """transform -> backbone -> rpn -> roi_heads -> transform.postprocess.

    In training, ``forward(images, targets)`` returns the dict of losses; in eval, ``forward(images)`` returns
    one dict per image with ``boxes`` (x1, y1, x2, y2 in the input's pixels), ``labels``, ``scores`` (and
    ``masks``, ``keypoints`` for the heads that predict them).
    """

    def __init__(self, backbone, rpn, roi_heads, transform):
        super().__init__()
        self.transform = transform
        self.backbone = backbone
        self.rpn = rpn
        self.roi_heads = roi_heads
        self._has_warned = False

    def eager_outputs(self, losses, detections):
        return losses if self.training else detections

    def _check_targets(self, targets):
        if targets is None:
            raise ValueError("targets should not be none when in training mode")
        for target in targets:
            boxes = target["boxes"]
            if not isinstance(boxes, vl.Tensor):
                raise TypeError(f"Expected target boxes to be of type Tensor, got {type(boxes)}.")
            if not (len(boxes.shape) == 2 and boxes.shape[-1] == 4):
                raise ValueError(f"Expected target boxes to be a tensor of shape [N, 4], got {boxes.shape}.")

    def forward(self, images, targets=None):
        """``images``: list of float (C, H, W) tensors in [0, 1] (sizes may differ); ``targets``: list of
        dicts
        with ``boxes`` (N, 4) float and ``labels`` (N,) int64 (+ ``masks``, ``keypoints``)."""
        if self.training:
            self._check_targets(targets)
        original_image_sizes = []
        for img in images:
            if img.dim() < 2:
                raise ValueError(
                    f"expecting the last two dimensions of the Tensor to be H and W instead got "
                    f"{tuple(img.shape)}"
                )
            original_image_sizes.append((int(img.shape[-2]), int(img.shape[-1])))
        images, targets = self.transform(images, targets)
        if targets is not None:
            for i, target in enumerate(targets):
                boxes = target["boxes"]
                degenerate = boxes[:, 2:] <= boxes[:, :2]
                if bool(degenerate.any()):
                    bad = int(vl.where(degenerate.any(dim=1))[0][0])
                    raise ValueError(
                        "All bounding boxes should have positive height and width. Found invalid "
                        f"box {boxes[bad].tolist()} for target at index {i}."
                    )
        features = self.backbone(images.tensors)
        if isinstance(features, vl.Tensor):
            features = OrderedDict([("0", features)])
        proposals, proposal_losses = self.rpn(images, features, targets)
        detections, detector_losses = self.roi_heads(features, proposals, images.image_sizes, targets)
        detections = self.transform.postprocess(detections, images.image_sizes, original_image_sizes)
        losses = {}
        losses.update(detector_losses)
        losses.update(proposal_losses)
        return self.eager_outputs(losses, detections)
