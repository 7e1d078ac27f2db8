"""Faster R-CNN (Ren et al., "Faster R-CNN: Towards Real-Time Object Detection with Region Proposal Networks",
2015) as TorchVision's ``models/detection/faster_rcnn.py``: the model, its box heads, the ResNet-50-FPN (v1,
v2) and MobileNetV3-Large-FPN builders and their COCO weights. State-dict keys are TorchVision's."""

from visionlite import nn
from visionlite.ops import MultiScaleRoIAlign
from visionlite.ops import misc as misc_nn_ops

from .._api import WeightsEnum, register_model, registered_weights
from .._utils import _load_weights, _ovewrite_value_param, _reject_pretrained
from ..mobilenetv3 import MobileNet_V3_Large_Weights, mobilenet_v3_large
from ..resnet import ResNet50_Weights, resnet50
from ._utils import overwrite_eps
from .anchor_utils import AnchorGenerator
from .backbone_utils import _mobilenet_extractor, _resnet_fpn_extractor, _validate_trainable_layers
from .generalized_rcnn import GeneralizedRCNN
from .roi_heads import RoIHeads
from .rpn import RegionProposalNetwork, RPNHead
from .transform import GeneralizedRCNNTransform

__all__ = [
    "FasterRCNN",
    "FasterRCNN_ResNet50_FPN_Weights",
    "FasterRCNN_ResNet50_FPN_V2_Weights",
    "FasterRCNN_MobileNet_V3_Large_FPN_Weights",
    "FasterRCNN_MobileNet_V3_Large_320_FPN_Weights",
    "fasterrcnn_resnet50_fpn",
    "fasterrcnn_resnet50_fpn_v2",
    "fasterrcnn_mobilenet_v3_large_fpn",
    "fasterrcnn_mobilenet_v3_large_320_fpn",
    "TwoMLPHead",
    "FastRCNNConvFCHead",
    "FastRCNNPredictor",
]


def _default_anchorgen():
    sizes = ((32,), (64,), (128,), (256,), (512,))
    return AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))


class FasterRCNN(GeneralizedRCNN):
    """Faster R-CNN on a ``backbone`` that has an ``out_channels`` attribute.

    Eval: ``model(images)`` -> list of {boxes (N, 4) float32 x1y1x2y2, labels (N,) int64, scores (N,)}.
    Train: ``model(images, targets)`` -> {loss_classifier, loss_box_reg, loss_objectness, loss_rpn_box_reg}.
    Arguments and defaults are TorchVision's (``min_size`` 800, ``max_size`` 1333, ``rpn_*``, ``box_*``);
    ``num_classes`` counts the background, and is None when ``box_predictor`` is given.
    """

    def __init__(
        self,
        backbone,
        num_classes=None,
        min_size=800,
        max_size=1333,
        image_mean=None,
        image_std=None,
        rpn_anchor_generator=None,
        rpn_head=None,
        rpn_pre_nms_top_n_train=2000,
        rpn_pre_nms_top_n_test=1000,
        rpn_post_nms_top_n_train=2000,
        rpn_post_nms_top_n_test=1000,
        rpn_nms_thresh=0.7,
        rpn_fg_iou_thresh=0.7,
        rpn_bg_iou_thresh=0.3,
        rpn_batch_size_per_image=256,
        rpn_positive_fraction=0.5,
        rpn_score_thresh=0.0,
        box_roi_pool=None,
        box_head=None,
        box_predictor=None,
        box_score_thresh=0.05,
        box_nms_thresh=0.5,
        box_detections_per_img=100,
        box_fg_iou_thresh=0.5,
        box_bg_iou_thresh=0.5,
        box_batch_size_per_image=512,
        box_positive_fraction=0.25,
        bbox_reg_weights=None,
        **kwargs,
    ):
        if not hasattr(backbone, "out_channels"):
            raise ValueError(
                "backbone should contain an attribute out_channels specifying the number of output "
                "channels (assumed to be the same for all the levels)"
            )
        if not isinstance(rpn_anchor_generator, (AnchorGenerator, type(None))):
            raise TypeError(
                "rpn_anchor_generator should be of type AnchorGenerator or None instead of "
                f"{type(rpn_anchor_generator)}"
            )
        if not isinstance(box_roi_pool, (MultiScaleRoIAlign, type(None))):
            raise TypeError(
                f"box_roi_pool should be of type MultiScaleRoIAlign or None instead of {type(box_roi_pool)}"
            )
        if num_classes is not None and box_predictor is not None:
            raise ValueError("num_classes should be None when box_predictor is specified")
        if num_classes is None and box_predictor is None:
            raise ValueError("num_classes should not be None when box_predictor is not specified")
        out_channels = backbone.out_channels
        if rpn_anchor_generator is None:
            rpn_anchor_generator = _default_anchorgen()
        if rpn_head is None:
            rpn_head = RPNHead(out_channels, rpn_anchor_generator.num_anchors_per_location()[0])
        rpn = RegionProposalNetwork(
            rpn_anchor_generator,
            rpn_head,
            rpn_fg_iou_thresh,
            rpn_bg_iou_thresh,
            rpn_batch_size_per_image,
            rpn_positive_fraction,
            dict(training=rpn_pre_nms_top_n_train, testing=rpn_pre_nms_top_n_test),
            dict(training=rpn_post_nms_top_n_train, testing=rpn_post_nms_top_n_test),
            rpn_nms_thresh,
            score_thresh=rpn_score_thresh,
        )
        if box_roi_pool is None:
            box_roi_pool = MultiScaleRoIAlign(
                featmap_names=["0", "1", "2", "3"], output_size=7, sampling_ratio=2
            )
        if box_head is None:
            resolution = box_roi_pool.output_size[0]
            box_head = TwoMLPHead(out_channels * resolution**2, 1024)
        if box_predictor is None:
            box_predictor = FastRCNNPredictor(1024, num_classes)
        roi_heads = RoIHeads(
            box_roi_pool,
            box_head,
            box_predictor,
            box_fg_iou_thresh,
            box_bg_iou_thresh,
            box_batch_size_per_image,
            box_positive_fraction,
            bbox_reg_weights,
            box_score_thresh,
            box_nms_thresh,
            box_detections_per_img,
        )
        image_mean = [0.485, 0.456, 0.406] if image_mean is None else image_mean
        image_std = [0.229, 0.224, 0.225] if image_std is None else image_std
        transform = GeneralizedRCNNTransform(min_size, max_size, image_mean, image_std, **kwargs)
        super().__init__(backbone, rpn, roi_heads, transform)


# FasterRCNN's arguments after (backbone, num_classes), in order: subclasses take them positionally too.
_POSITIONAL = ("min_size", "max_size", "image_mean", "image_std", "rpn_anchor_generator", "rpn_head",
               "rpn_pre_nms_top_n_train", "rpn_pre_nms_top_n_test", "rpn_post_nms_top_n_train",
               "rpn_post_nms_top_n_test", "rpn_nms_thresh", "rpn_fg_iou_thresh", "rpn_bg_iou_thresh",
               "rpn_batch_size_per_image", "rpn_positive_fraction", "rpn_score_thresh", "box_roi_pool",
               "box_head",
               "box_predictor", "box_score_thresh", "box_nms_thresh", "box_detections_per_img",
               "box_fg_iou_thresh", "box_bg_iou_thresh", "box_batch_size_per_image", "box_positive_fraction",
               "bbox_reg_weights")


def _named_args(cls_name, args, kwargs, extra=()):
    """Merge positional arguments given after ``num_classes`` into ``kwargs`` by TorchVision's order."""
    names = _POSITIONAL + tuple(extra)
    if len(args) > len(names):
        raise TypeError(f"{cls_name}() takes at most {len(names) + 2} positional arguments after self")
    for name, value in zip(names, args):
        if name in kwargs:
            raise TypeError(f"{cls_name}() got multiple values for argument '{name}'")
        kwargs[name] = value
    return kwargs


class TwoMLPHead(nn.Module):
    """Two fully connected layers with ReLU over flattened RoI features (N, C, S, S) -> (N, rep)."""

    def __init__(self, in_channels, representation_size):
        super().__init__()
        self.fc6 = nn.Linear(in_channels, representation_size)
        self.fc7 = nn.Linear(representation_size, representation_size)

    def forward(self, x):
        return self.fc7(self.fc6(x.flatten(start_dim=1)).relu()).relu()


class FastRCNNConvFCHead(nn.Sequential):
    """Conv-norm-ReLU layers, then flatten and Linear-ReLU layers (the v2 box head).

    Args:
        input_size: (C, H, W) of the RoI features.
        conv_layers, fc_layers: channels of each conv, width of each linear layer.
        norm_layer: normalisation after each conv (None: none).
    """

    def __init__(self, input_size, conv_layers, fc_layers, norm_layer=None):
        channels, height, width = input_size
        blocks = []
        for c in conv_layers:
            blocks.append(misc_nn_ops.Conv2dNormActivation(channels, c, norm_layer=norm_layer))
            channels = c
        blocks.append(nn.Flatten())
        features = channels * height * width
        for f in fc_layers:
            blocks += [nn.Linear(features, f), nn.ReLU(inplace=True)]
            features = f
        super().__init__(*blocks)
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)


class FastRCNNPredictor(nn.Module):
    """Class logits (N, num_classes) and per-class box deltas (N, num_classes * 4) from (N, in_channels)."""

    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.cls_score = nn.Linear(in_channels, num_classes)
        self.bbox_pred = nn.Linear(in_channels, num_classes * 4)

    def forward(self, x):
        if x.dim() == 4 and list(x.shape[2:]) != [1, 1]:
            raise ValueError(
                f"x has the wrong shape, expecting the last two dimensions to be [1,1] instead of "
                f"{list(x.shape[2:])}"
            )
        x = x.flatten(start_dim=1)
        return self.cls_score(x), self.bbox_pred(x)


class FasterRCNN_ResNet50_FPN_Weights(WeightsEnum):
    COCO_V1 = registered_weights("fasterrcnn_resnet50_fpn", "COCO_V1")
    DEFAULT = COCO_V1


class FasterRCNN_ResNet50_FPN_V2_Weights(WeightsEnum):
    COCO_V1 = registered_weights("fasterrcnn_resnet50_fpn_v2", "COCO_V1")
    DEFAULT = COCO_V1


class FasterRCNN_MobileNet_V3_Large_FPN_Weights(WeightsEnum):
    COCO_V1 = registered_weights("fasterrcnn_mobilenet_v3_large_fpn", "COCO_V1")
    DEFAULT = COCO_V1


class FasterRCNN_MobileNet_V3_Large_320_FPN_Weights(WeightsEnum):
    COCO_V1 = registered_weights("fasterrcnn_mobilenet_v3_large_320_fpn", "COCO_V1")
    DEFAULT = COCO_V1


def _resolve(weights, num_classes, default_classes=91):
    """The number of classes: the weights' categories when given, else ``num_classes`` or 91."""
    if weights is not None:
        return _ovewrite_value_param("num_classes", num_classes, len(weights.meta["categories"]))
    return default_classes if num_classes is None else num_classes


def _resnet50_fpn_backbone(weights, weights_backbone, progress, trainable_backbone_layers, v2=False):
    if weights is not None:
        weights_backbone = None
    is_trained = weights is not None or weights_backbone is not None
    trainable = _validate_trainable_layers(is_trained, trainable_backbone_layers, 5, 3)
    if v2:
        body = resnet50(weights=weights_backbone, progress=progress)
        return _resnet_fpn_extractor(body, trainable, norm_layer=nn.BatchNorm2d)
    norm_layer = misc_nn_ops.FrozenBatchNorm2d if is_trained else nn.BatchNorm2d
    body = resnet50(weights=weights_backbone, progress=progress, norm_layer=norm_layer)
    return _resnet_fpn_extractor(body, trainable)


@register_model()
def fasterrcnn_resnet50_fpn(
    *,
    weights: FasterRCNN_ResNet50_FPN_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    weights_backbone: ResNet50_Weights | None = ResNet50_Weights.IMAGENET1K_V1,
    trainable_backbone_layers: int | None = None,
    **kwargs,
) -> FasterRCNN:
    """Faster R-CNN with a ResNet-50-FPN backbone. ``kwargs`` go to :class:`FasterRCNN` (``min_size``,
    ``box_score_thresh``, ...); ``trainable_backbone_layers`` 0-5 (default 3 when pretrained)."""
    _reject_pretrained(kwargs, FasterRCNN_ResNet50_FPN_Weights)
    weights = FasterRCNN_ResNet50_FPN_Weights.verify(weights)
    weights_backbone = ResNet50_Weights.verify(weights_backbone)
    num_classes = _resolve(weights, num_classes)
    backbone = _resnet50_fpn_backbone(weights, weights_backbone, progress, trainable_backbone_layers)
    model = FasterRCNN(backbone, num_classes=num_classes, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
        if weights == FasterRCNN_ResNet50_FPN_Weights.COCO_V1:
            overwrite_eps(model, 0.0)  # the v1 checkpoint was trained with FrozenBatchNorm2d eps 0
    return model


@register_model()
def fasterrcnn_resnet50_fpn_v2(
    *,
    weights: FasterRCNN_ResNet50_FPN_V2_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    weights_backbone: ResNet50_Weights | None = None,
    trainable_backbone_layers: int | None = None,
    **kwargs,
) -> FasterRCNN:
    """Faster R-CNN v2 (Li et al., "Benchmarking Detection Transfer Learning with Vision Transformers"):
    ResNet-50-FPN with BatchNorm, a two-conv RPN head and a four-conv one-FC box head."""
    _reject_pretrained(kwargs, FasterRCNN_ResNet50_FPN_V2_Weights)
    weights = FasterRCNN_ResNet50_FPN_V2_Weights.verify(weights)
    weights_backbone = ResNet50_Weights.verify(weights_backbone)
    num_classes = _resolve(weights, num_classes)
    backbone = _resnet50_fpn_backbone(weights, weights_backbone, progress, trainable_backbone_layers, v2=True)
    anchor_generator = _default_anchorgen()
    rpn_head = RPNHead(backbone.out_channels, anchor_generator.num_anchors_per_location()[0], conv_depth=2)
    box_head = FastRCNNConvFCHead(
        (backbone.out_channels, 7, 7), [256, 256, 256, 256], [1024], norm_layer=nn.BatchNorm2d
    )
    model = FasterRCNN(
        backbone,
        num_classes=num_classes,
        rpn_anchor_generator=anchor_generator,
        rpn_head=rpn_head,
        box_head=box_head,
        **kwargs,
    )
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


def _fasterrcnn_mobilenet_v3_large_fpn(
    *, weights, progress, num_classes, weights_backbone, trainable_backbone_layers, **kwargs
):
    if weights is not None:
        weights_backbone = None
    num_classes = _resolve(weights, num_classes)
    is_trained = weights is not None or weights_backbone is not None
    trainable = _validate_trainable_layers(is_trained, trainable_backbone_layers, 6, 3)
    norm_layer = misc_nn_ops.FrozenBatchNorm2d if is_trained else nn.BatchNorm2d
    body = mobilenet_v3_large(weights=weights_backbone, progress=progress, norm_layer=norm_layer)
    backbone = _mobilenet_extractor(body, True, trainable)
    sizes = ((32, 64, 128, 256, 512),) * 3
    anchor_generator = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))
    model = FasterRCNN(backbone, num_classes, rpn_anchor_generator=anchor_generator, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


@register_model()
def fasterrcnn_mobilenet_v3_large_320_fpn(
    *,
    weights: FasterRCNN_MobileNet_V3_Large_320_FPN_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    weights_backbone: MobileNet_V3_Large_Weights | None = MobileNet_V3_Large_Weights.IMAGENET1K_V1,
    trainable_backbone_layers: int | None = None,
    **kwargs,
) -> FasterRCNN:
    """Low-resolution Faster R-CNN on MobileNetV3-Large-FPN: images resized to 320 (max 640), 150 RPN
    proposals, RPN score threshold 0.05."""
    _reject_pretrained(kwargs, FasterRCNN_MobileNet_V3_Large_320_FPN_Weights)
    defaults = {
        "min_size": 320,
        "max_size": 640,
        "rpn_pre_nms_top_n_test": 150,
        "rpn_post_nms_top_n_test": 150,
        "rpn_score_thresh": 0.05,
    }
    return _fasterrcnn_mobilenet_v3_large_fpn(
        weights=FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.verify(weights),
        progress=progress,
        num_classes=num_classes,
        weights_backbone=MobileNet_V3_Large_Weights.verify(weights_backbone),
        trainable_backbone_layers=trainable_backbone_layers,
        **{**defaults, **kwargs},
    )


@register_model()
def fasterrcnn_mobilenet_v3_large_fpn(
    *,
    weights: FasterRCNN_MobileNet_V3_Large_FPN_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    weights_backbone: MobileNet_V3_Large_Weights | None = MobileNet_V3_Large_Weights.IMAGENET1K_V1,
    trainable_backbone_layers: int | None = None,
    **kwargs,
) -> FasterRCNN:
    """High-resolution Faster R-CNN on MobileNetV3-Large-FPN (RPN score threshold 0.05)."""
    _reject_pretrained(kwargs, FasterRCNN_MobileNet_V3_Large_FPN_Weights)
    return _fasterrcnn_mobilenet_v3_large_fpn(
        weights=FasterRCNN_MobileNet_V3_Large_FPN_Weights.verify(weights),
        progress=progress,
        num_classes=num_classes,
        weights_backbone=MobileNet_V3_Large_Weights.verify(weights_backbone),
        trainable_backbone_layers=trainable_backbone_layers,
        **{"rpn_score_thresh": 0.05, **kwargs},
    )
