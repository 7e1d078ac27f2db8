"""``wrap_dataset_for_transforms_v2``: a dataset's samples as the v2 transforms want them, as TorchVision's
wrapper returns them. Detection targets become dicts of ``BoundingBoxes`` (XYXY on the image's canvas),
label tensors and ``Mask``s; segmentation targets become ``Mask``s; classification samples pass as they
are. The dataset's own transforms are moved to the wrapper and run after the wrapping.
"""
from collections import defaultdict
from copy import copy

import numpy as np

__all__ = ["wrap_dataset_for_transforms_v2"]

VOC_DETECTION_CATEGORIES = [
    "__background__", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
]
_VOC_INDEX = {name: i for i, name in enumerate(VOC_DETECTION_CATEGORIES)}


def wrap_dataset_for_transforms_v2(dataset, target_keys=None):
    """Wrap ``dataset`` (a ``VisionDataset``: CocoDetection, VOCDetection, VOCSegmentation, or a
    classification dataset) so its samples carry tv_tensors. ``target_keys`` (detection only) picks the
    target entries: None for the defaults, "all", or a collection of names."""
    ok_keys = target_keys is None or target_keys == "all" or (
        not isinstance(target_keys, str) and hasattr(target_keys, "__iter__")
        and all(isinstance(k, str) for k in target_keys))
    if not ok_keys:
        raise ValueError("`target_keys` can be None, 'all', or a collection of strings denoting the keys to "
                         f"be returned, but got {target_keys}")
    cls = type(f"Wrapped{type(dataset).__name__}", (_TVTensorWrapper, type(dataset)), {})
    return cls(dataset, target_keys)


def _factories():
    from . import cifar, coco, folder, mnist, voc

    return {coco.CocoDetection: _coco_detection, coco.CocoCaptions: _identity,
            voc.VOCDetection: _voc_detection, voc.VOCSegmentation: _segmentation,
            cifar.CIFAR10: _identity, cifar.CIFAR100: _identity,
            mnist.MNIST: _identity, mnist.FashionMNIST: _identity, folder.DatasetFolder: _identity,
            folder.ImageFolder: _identity}


class _TVTensorWrapper:
    def __init__(self, dataset, target_keys):
        from . import coco, voc
        from .vision import VisionDataset

        if not isinstance(dataset, VisionDataset):
            raise TypeError("This wrapper is meant for subclasses of `visionlite.datasets.VisionDataset`, "
                            f"but got a '{type(dataset).__name__}' instead; wrap the output of other "
                            "datasets yourself (tv_tensors.Image, BoundingBoxes, Mask)")
        factories = _factories()
        for klass in type(dataset).mro():
            if klass in factories:
                factory = factories[klass]
                if target_keys is not None and klass not in (coco.CocoDetection, voc.VOCDetection):
                    raise ValueError("`target_keys` is currently only supported for `CocoDetection`, "
                                     f"`VOCDetection`, `Kitti`, and `WIDERFace`, but got {klass.__name__}.")
                break
            if klass is VisionDataset:
                raise TypeError(f"No wrapper exists for dataset class {type(dataset).__name__}. Please wrap "
                                "the output yourself.")
        self._dataset = dataset
        self._target_keys = target_keys
        self._wrapper = factory(dataset, target_keys)
        self.transform, dataset.transform = dataset.transform, None
        self.target_transform, dataset.target_transform = dataset.target_transform, None
        self.transforms, dataset.transforms = dataset.transforms, None

    def __getattr__(self, item):
        dataset = self.__dict__.get("_dataset")
        if dataset is None:
            raise AttributeError(item)
        return getattr(dataset, item)

    def __getitem__(self, idx):
        sample = self._wrapper(idx, self._dataset[idx])
        if self.transforms is not None:
            sample = self.transforms(*sample)
        return sample

    def __len__(self):
        return len(self._dataset)

    def __reduce__(self):
        dataset = copy(self._dataset)
        dataset.transform, dataset.target_transform = self.transform, self.target_transform
        dataset.transforms = self.transforms
        return wrap_dataset_for_transforms_v2, (dataset, self._target_keys)


def _parse_keys(target_keys, available, default):
    if target_keys is None:
        return set(default)
    if target_keys == "all":
        return set(available)
    keys = set(target_keys)
    extra = keys - set(available)
    if extra:
        raise ValueError(f"Target keys {sorted(extra)} are not available")
    return keys


def _by_key(dicts):
    out = defaultdict(list)
    for d in dicts:
        for k, v in d.items():
            out[k].append(v)
    return dict(out)


def _identity(dataset, target_keys):
    return lambda idx, sample: sample


def _segmentation(dataset, target_keys):
    from visionlite.transforms.v2.tv_tensors import Mask

    def wrapper(idx, sample):
        image, mask = sample
        return image, Mask(mask)
    return wrapper


def _size(image):
    from visionlite.transforms.v2.functional import get_size

    return tuple(get_size(image))


def _coco_detection(dataset, target_keys):
    import visionlite as vl
    from visionlite.transforms.v2.tv_tensors import BoundingBoxes, Mask

    from ._coco_mask import segmentation_to_mask

    keys = _parse_keys(target_keys, {"segmentation", "area", "iscrowd", "image_id", "bbox", "category_id",
                                     "boxes", "masks", "labels"}, {"image_id", "boxes", "labels"})

    def wrapper(idx, sample):
        image_id = dataset.ids[idx]
        image, anns = sample
        if not anns:
            return image, {"image_id": image_id}
        canvas = _size(image)
        batched = _by_key(anns)
        target = {}
        if "image_id" in keys:
            target["image_id"] = image_id
        if "boxes" in keys:
            xywh = np.asarray(batched["bbox"], dtype=np.float32).reshape(-1, 4)
            xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
            target["boxes"] = BoundingBoxes(xyxy, format="XYXY", canvas_size=canvas)
        if "masks" in keys:
            masks = [segmentation_to_mask(s, *canvas) for s in batched["segmentation"]]
            target["masks"] = Mask(vl.tensor(np.stack(masks)))
        if "labels" in keys:
            target["labels"] = vl.tensor(batched["category_id"])
        for key in keys - {"image_id", "boxes", "masks", "labels"}:
            target[key] = batched[key]
        return image, target
    return wrapper


def _voc_detection(dataset, target_keys):
    import visionlite as vl
    from visionlite.transforms.v2.tv_tensors import BoundingBoxes

    keys = _parse_keys(target_keys, {"annotation", "boxes", "labels"}, {"boxes", "labels"})

    def wrapper(idx, sample):
        image, target = sample
        objects = target["annotation"]["object"]
        batched = _by_key(objects if isinstance(objects, list) else [objects])
        if "annotation" not in keys:
            target = {}
        if "boxes" in keys:
            boxes = [[int(b[part]) for part in ("xmin", "ymin", "xmax", "ymax")] for b in batched["bndbox"]]
            target["boxes"] = BoundingBoxes(np.asarray(boxes, dtype=np.int64).reshape(-1, 4), format="XYXY",
                                            canvas_size=(image.height, image.width))
        if "labels" in keys:
            target["labels"] = vl.tensor([_VOC_INDEX[name] for name in batched["name"]])
        return image, target
    return wrapper
