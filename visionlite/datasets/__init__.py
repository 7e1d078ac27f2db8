"""Datasets in the manner of ``torchvision.datasets``; download helpers live in ``visionlite.datasets.utils``.

Submodules load on first use, so ``import visionlite.datasets`` stays cheap.
"""
import importlib

_HOMES = {
    "VisionDataset": "vision", "StandardTransform": "vision",
    "MNIST": "mnist", "FashionMNIST": "mnist", "KMNIST": "mnist", "EMNIST": "mnist",
    "CIFAR10": "cifar", "CIFAR100": "cifar", "SVHN": "svhn",
    "DatasetFolder": "folder", "ImageFolder": "folder", "FakeData": "fakedata", "Digits": "digits",
    "CocoDetection": "coco", "CocoCaptions": "coco", "VOCDetection": "voc", "VOCSegmentation": "voc",
    "wrap_dataset_for_transforms_v2": "_tv_wrapper", "DetectionFolder": "detection_folder",
    "make_shapes_dataset": "shapes",
    "Imagenette": "imagenette", "Caltech101": "caltech", "Caltech256": "caltech",
    "CLEVRClassification": "clevr", "Country211": "country211", "DTD": "dtd", "EuroSAT": "eurosat",
    "Food101": "food101", "FGVCAircraft": "fgvc_aircraft", "Flowers102": "flowers102", "GTSRB": "gtsrb",
    "ImageNet": "imagenet", "CelebA": "celeba", "FER2013": "fer2013", "INaturalist": "inaturalist",
    "LFWPeople": "lfw", "LFWPairs": "lfw",
    "Sintel": "_optical_flow", "KittiFlow": "_optical_flow", "FlyingChairs": "_optical_flow",
    "FlyingThings3D": "_optical_flow", "HD1K": "_optical_flow",
    "Kinetics": "kinetics", "UCF101": "ucf101", "HMDB51": "hmdb51",
    "LSUN": "lsun", "LSUNClass": "lsun", "Omniglot": "omniglot", "OxfordIIITPet": "oxford_iiit_pet",
    "PCAM": "pcam", "Places365": "places365", "QMNIST": "qmnist", "RenderedSST2": "rendered_sst2",
    "SEMEION": "semeion", "STL10": "stl10", "StanfordCars": "stanford_cars", "SUN397": "sun397",
    "USPS": "usps", "MovingMNIST": "moving_mnist", "PhotoTour": "phototour", "SBU": "sbu",
    "Flickr8k": "flickr", "Flickr30k": "flickr", "Cityscapes": "cityscapes", "SBDataset": "sbd",
    "Kitti": "kitti", "WIDERFace": "widerface",
    "CarlaStereo": "_stereo_matching", "Kitti2012Stereo": "_stereo_matching",
    "Kitti2015Stereo": "_stereo_matching", "Middlebury2014Stereo": "_stereo_matching",
    "CREStereo": "_stereo_matching", "FallingThingsStereo": "_stereo_matching",
    "SceneFlowStereo": "_stereo_matching", "SintelStereo": "_stereo_matching",
    "InStereo2k": "_stereo_matching", "ETH3DStereo": "_stereo_matching",
}
__all__ = list(_HOMES)


def __getattr__(name):
    if name == "utils":
        return importlib.import_module("visionlite.datasets.utils")
    if name in _HOMES:
        return getattr(importlib.import_module(f"visionlite.datasets.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'visionlite.datasets' has no attribute {name!r}")
