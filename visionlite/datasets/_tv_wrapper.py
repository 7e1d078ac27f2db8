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


KITTI_CATEGORIES = ["Car", "Van", "Truck", "Pedestrian", "Person_sitting", "Cyclist", "Tram", "Misc",
                    "DontCare"]
_KITTI_INDEX = {name: i for i, name in enumerate(KITTI_CATEGORIES)}


def _factories():
    from . import cifar, cityscapes, coco, folder, kitti, mnist, oxford_iiit_pet, sbd, voc, widerface

    return {sbd.SBDataset: _sbd, kitti.Kitti: _kitti, cityscapes.Cityscapes: _cityscapes,
            widerface.WIDERFace: _widerface, oxford_iiit_pet.OxfordIIITPet: _oxford_iiit_pet,
            coco.CocoDetection: _coco_detection, coco.CocoCaptions: _identity,
            voc.VOCDetection: _voc_detection, voc.VOCSegmentation: _segmentation,
            cifar.CIFAR10: _identity, cifar.CIFAR100: _identity,
            mnist.MNIST: _identity, mnist.FashionMNIST: _identity, folder.DatasetFolder: _identity,
            folder.ImageFolder: _identity, **_classification_a()}


def _classification_a():
    """CelebA (boxes) and the classification datasets TorchVision's wrapper registers by name."""
    from . import caltech, celeba, gtsrb, imagenet, imagenette

    return {celeba.CelebA: _celeba, caltech.Caltech256: _identity, gtsrb.GTSRB: _identity,
            imagenet.ImageNet: _identity, imagenette.Imagenette: _identity}


def _celeba(dataset, target_keys):
    from visionlite.transforms.v2 import functional as F
    from visionlite.transforms.v2.tv_tensors import BoundingBoxes

    if any(t in dataset.target_type for t in ("attr", "landmarks")):
        _not_supported("`CelebA` dataset with `target_type=['attr', 'landmarks', ...]`")

    def wrapper(idx, sample):
        image, target = sample
        if target is None:  # target_type=[]
            return image, target

        def boxes(item):  # the file's (x, y, width, height) -> XYXY, as TorchVision
            xywh = BoundingBoxes(item, format="XYWH", canvas_size=(image.height, image.width))
            return F.convert_bounding_box_format(xywh, new_format="XYXY")
        return image, _by_type(target, dataset.target_type, {"bbox": boxes})
    return wrapper


class _TVTensorWrapper:
    def __init__(self, dataset, target_keys):
        from . import coco, kitti, voc, widerface
        from .vision import VisionDataset

        if not isinstance(dataset, VisionDataset):
            raise TypeError("This wrapper is meant for subclasses of `visionlite.datasets.VisionDataset`, "
                            f"but got a '{type(dataset).__name__}' instead; wrap the output of other "
                            "datasets yourself (tv_tensors.Image, BoundingBoxes, Mask)")
        factories = _factories()
        for klass in type(dataset).mro():
            if klass in factories:
                factory = factories[klass]
                keyed = (coco.CocoDetection, voc.VOCDetection, kitti.Kitti, widerface.WIDERFace)
                if target_keys is not None and klass not in keyed:
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


def _not_supported(description):
    raise RuntimeError(f"{description} is currently not supported by this wrapper; wrap its output "
                       "yourself (tv_tensors.Mask, BoundingBoxes).")


def _by_type(target, types, wrappers):
    """Apply ``wrappers[type]`` to each target of a multi-target-type dataset (a tuple when several)."""
    items = target if isinstance(target, (tuple, list)) else [target]
    out = tuple(wrappers.get(t, lambda item: item)(item) for t, item in zip(types, items))
    return out[0] if len(out) == 1 else out


def _sbd(dataset, target_keys):
    if dataset.mode == "boundaries":
        _not_supported("SBDataset with mode='boundaries'")
    return _segmentation(dataset, target_keys)


def _oxford_iiit_pet(dataset, target_keys):
    from visionlite.transforms.v2.tv_tensors import Mask

    def wrapper(idx, sample):
        image, target = sample
        if target is not None:
            target = _by_type(target, dataset._target_types, {"segmentation": Mask})
        return image, target
    return wrapper


def _kitti(dataset, target_keys):
    import visionlite as vl
    from visionlite.transforms.v2.tv_tensors import BoundingBoxes

    keys = _parse_keys(target_keys, {"type", "truncated", "occluded", "alpha", "bbox", "dimensions",
                                     "location", "rotation_y", "boxes", "labels"}, {"boxes", "labels"})

    def wrapper(idx, sample):
        image, target = sample
        if target is None:
            return image, target
        batched = _by_key(target)
        target = {}
        if "boxes" in keys:
            boxes = np.asarray(batched.get("bbox", []), dtype=np.float32).reshape(-1, 4)
            target["boxes"] = BoundingBoxes(boxes, format="XYXY", canvas_size=(image.height, image.width))
        if "labels" in keys:
            target["labels"] = vl.tensor([_KITTI_INDEX[t] for t in batched.get("type", [])], dtype=vl.int64)
        for key in keys - {"boxes", "labels"}:
            target[key] = batched[key]
        return image, target
    return wrapper


def _cityscapes(dataset, target_keys):
    import visionlite as vl
    from visionlite.transforms.v2.tv_tensors import Mask

    if any(t in dataset.target_type for t in ("polygon", "color")):
        _not_supported("`Cityscapes` dataset with `target_type=['polygon', 'color', ...]`")

    def instances(pil):
        # Instance ids are class_id * 1000 + n for "thing" classes and plain class ids for the others
        # (cityscapesScripts' json2instanceImg).
        data = Mask(pil)
        ids = data.unique()
        masks = [data == i for i in ids]
        labels = [i // 1000 if int(i) >= 1000 else i for i in ids]
        return {"masks": Mask(vl.stack(masks)), "labels": vl.stack(labels)}

    def wrapper(idx, sample):
        image, target = sample
        return image, _by_type(target, dataset.target_type, {"instance": instances, "semantic": Mask})
    return wrapper


def _widerface(dataset, target_keys):
    from visionlite.transforms.v2.tv_tensors import BoundingBoxes

    available = {"bbox", "blur", "expression", "illumination", "occlusion", "pose", "invalid"}
    keys = _parse_keys(target_keys, available, available)  # default: every key

    def wrapper(idx, sample):
        image, target = sample
        if target is None:
            return image, target
        target = {key: target[key] for key in keys}
        if "bbox" in target:
            xywh = target["bbox"].numpy()
            xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
            target["bbox"] = BoundingBoxes(xyxy, format="XYXY", canvas_size=(image.height, image.width))
        return image, target
    return wrapper
