"""visionlite.models.detection: TorchVision's object detectors (Faster, Mask and Keypoint R-CNN, RetinaNet,
FCOS, SSD, SSDlite) with their COCO weights, and the pieces they are built from (transform, anchors, box
coders, backbones). Names load their module on first use, so importing this package stays cheap."""
import importlib

# Public names of each module, so that attribute access imports only the module that defines the name.
_EXPORTS = {
    "faster_rcnn": ["FasterRCNN", "FasterRCNN_ResNet50_FPN_Weights", "FasterRCNN_ResNet50_FPN_V2_Weights",
                    "FasterRCNN_MobileNet_V3_Large_FPN_Weights",
                    "FasterRCNN_MobileNet_V3_Large_320_FPN_Weights",
                    "fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2",
                    "fasterrcnn_mobilenet_v3_large_fpn",
                    "fasterrcnn_mobilenet_v3_large_320_fpn"],
    "mask_rcnn": ["MaskRCNN", "MaskRCNN_ResNet50_FPN_Weights", "MaskRCNN_ResNet50_FPN_V2_Weights",
                  "maskrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn_v2"],
    "keypoint_rcnn": ["KeypointRCNN", "KeypointRCNN_ResNet50_FPN_Weights", "keypointrcnn_resnet50_fpn"],
    "retinanet": ["RetinaNet", "RetinaNet_ResNet50_FPN_Weights", "RetinaNet_ResNet50_FPN_V2_Weights",
                  "retinanet_resnet50_fpn", "retinanet_resnet50_fpn_v2"],
    "fcos": ["FCOS", "FCOS_ResNet50_FPN_Weights", "fcos_resnet50_fpn"],
    "ssd": ["SSD", "SSD300_VGG16_Weights", "ssd300_vgg16"],
    "ssdlite": ["SSDLite320_MobileNet_V3_Large_Weights", "ssdlite320_mobilenet_v3_large"],
}
_MODULES = {"_utils", "anchor_utils", "backbone_utils", "generalized_rcnn", "image_list", "roi_heads", "rpn",
            "transform", *_EXPORTS}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = list(_HOME)


def __getattr__(name):
    if name in _HOME:
        value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
        globals()[name] = value
        return value
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_HOME) | _MODULES)
