"""Category names of the weights: ImageNet-1k's read from ``imagenet_categories.txt`` on first use, Pascal
VOC's listed here."""
import functools
import os

__all__ = ["imagenet_categories"]

# Pascal VOC's 20 classes after the background, in label order (the segmentation weights' categories).
_VOC_CATEGORIES = [
    "__background__", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
]

# COCO's 91 detection label ids (with TorchVision's "N/A" for the unused ones), the person-only categories of
# Keypoint R-CNN and its 17 keypoints (the detection weights' categories and keypoint_names).
_COCO_CATEGORIES = [
    "__background__", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "N/A", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "N/A", "backpack", "umbrella", "N/A",
    "N/A", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle", "N/A",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed",
    "N/A", "dining table", "N/A", "N/A", "toilet", "N/A", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "N/A", "book", "clock", "vase",
    "scissors", "teddy bear", "hair drier", "toothbrush",
]
_COCO_PERSON_CATEGORIES = ["no person", "person"]
_COCO_PERSON_KEYPOINT_NAMES = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
]

_FILE = os.path.join(os.path.dirname(__file__), "imagenet_categories.txt")


@functools.cache
def _read_categories():
    with open(_FILE, encoding="utf-8") as f:
        names = [line.rstrip("\n") for line in f]
    if len(names) != 1000:
        raise RuntimeError(f"{_FILE} holds {len(names)} names, expected the 1000 ImageNet-1k categories; "
                           "reinstall visionlite")
    return names


def imagenet_categories():
    """The 1000 ImageNet-1k class names in class-index order (a new list each call)."""
    return list(_read_categories())


@functools.cache
def _read_kinetics400():
    path = os.path.join(os.path.dirname(__file__), "kinetics400_categories.txt")
    with open(path, encoding="utf-8") as f:
        names = [line.rstrip("\n") for line in f]
    if len(names) != 400:
        raise RuntimeError(f"{path} holds {len(names)} names, expected the 400 Kinetics-400 classes; "
                           "reinstall visionlite")
    return names


def __getattr__(name):
    # TorchVision spells them _IMAGENET_CATEGORIES, _KINETICS400_CATEGORIES; read a file only when asked.
    if name == "_IMAGENET_CATEGORIES":
        return _read_categories()
    if name == "_KINETICS400_CATEGORIES":
        return _read_kinetics400()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
