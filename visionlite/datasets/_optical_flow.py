"""Optical-flow datasets as TorchVision's: ``Sintel``, ``KittiFlow``, ``FlyingChairs``, ``FlyingThings3D``,
``HD1K``.

Each item is ``(img1, img2, flow)`` — PIL images and a ``(2, H, W)`` float32 numpy flow — or, for datasets
whose flow files carry a valid mask (KITTI, HD1K), ``(img1, img2, flow, valid_flow_mask)`` with an
``(H, W)`` bool mask. Test splits have no flow: ``flow`` (and the mask) are ``None``. ``transforms`` takes
and returns all four ``(img1, img2, flow, valid_flow_mask)``. None of these datasets downloads: the
archives are behind the authors' pages, and each class's docstring shows where to place the files.
"""
import itertools
import os
from glob import glob
from pathlib import Path

import numpy as np

from visionlite.data import ConcatDataset

from ._flow_io import _read_flo, _read_pfm, read_16bit_png_flow
from .folder import default_loader
from .utils import verify_str_arg
from .vision import VisionDataset

__all__ = ["FlowDataset", "Sintel", "KittiFlow", "FlyingChairs", "FlyingThings3D", "HD1K", "_read_flo",
           "_read_pfm", "_read_16bits_png_with_flow_and_valid_mask"]

_read_16bits_png_with_flow_and_valid_mask = read_16bit_png_flow  # TorchVision's name for the KITTI reader


def _sorted_glob(pattern):
    return sorted(glob(str(pattern)))


def _layout_error(name, root, example):
    return FileNotFoundError(f"Could not find the {name} files under {root}. Please make sure the directory "
                             f"structure is correct: expected e.g. {example} (see the class docstring).")


class FlowDataset(VisionDataset):
    """Base of the flow datasets: pairs of image paths in ``_image_list``, flow paths in ``_flow_list``."""

    _has_builtin_flow_mask = False

    def __init__(self, root, transforms=None, loader=default_loader):
        super().__init__(root=root)
        self.transforms = transforms
        self._flow_list = []
        self._image_list = []
        self._loader = loader

    def _read_img(self, file_name):
        return self._loader(file_name)

    def _read_flow(self, file_name):
        raise NotImplementedError

    def __getitem__(self, index):
        """``(img1, img2, flow)``, or ``(img1, img2, flow, valid_flow_mask)`` where a mask exists."""
        pair = self._image_list[index]
        img1, img2 = self._read_img(pair[0]), self._read_img(pair[1])
        flow = valid_flow_mask = None
        if self._flow_list:  # empty for the test splits
            flow = self._read_flow(self._flow_list[index])
            if self._has_builtin_flow_mask:
                flow, valid_flow_mask = flow
        if self.transforms is not None:
            img1, img2, flow, valid_flow_mask = self.transforms(img1, img2, flow, valid_flow_mask)
        if self._has_builtin_flow_mask or valid_flow_mask is not None:
            return img1, img2, flow, valid_flow_mask
        return img1, img2, flow

    def __len__(self):
        return len(self._image_list)

    def _check_pairs(self, root):
        """Every image pair needs its flow file: a partly extracted archive would mispair images and flows."""
        if self._flow_list and len(self._flow_list) != len(self._image_list):
            raise ValueError(f"{type(self).__name__} under {root}: {len(self._image_list)} image pairs but "
                             f"{len(self._flow_list)} flow files; is a folder incompletely extracted?")

    def __rmul__(self, v):
        """``3 * dataset``: the dataset repeated, as used to weight datasets in a training mix."""
        return ConcatDataset([self] * v)


class Sintel(FlowDataset):
    """`Sintel <http://sintel.is.tue.mpg.de/>`_ optical flow.

    Layout: ``root/Sintel/{training,test}/{clean,final}/<scene>/frame_XXXX.png`` and
    ``root/Sintel/training/flow/<scene>/frame_XXXX.flo``.

    Args:
        root: the folder holding ``Sintel``.
        split: ``"train"`` (default) or ``"test"`` (no flow).
        pass_name: ``"clean"`` (default), ``"final"`` or ``"both"``.
        transforms: callable on ``(img1, img2, flow, valid_flow_mask)``.
        loader: reads one image path (PIL RGB by default; ``visionlite.io.decode_image`` also works).
    """

    def __init__(self, root, split="train", pass_name="clean", transforms=None, loader=default_loader):
        super().__init__(root=root, transforms=transforms, loader=loader)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        verify_str_arg(pass_name, "pass_name", valid_values=("clean", "final", "both"))
        passes = ["clean", "final"] if pass_name == "both" else [pass_name]
        base = Path(root) / "Sintel"
        split_dir = "training" if split == "train" else "test"  # the archive's folder names
        for name in passes:
            image_root = base / split_dir / name
            if not image_root.is_dir():
                raise _layout_error("Sintel", root, image_root / "<scene>" / "frame_0001.png")
            # os.listdir order, as TorchVision (scenes are not sorted there either)
            for scene in os.listdir(image_root):
                images = _sorted_glob(image_root / scene / "*.png")
                self._image_list += [[a, b] for a, b in zip(images, images[1:])]
                if split == "train":
                    self._flow_list += _sorted_glob(base / "training" / "flow" / scene / "*.flo")
        self._check_pairs(root)

    def _read_flow(self, file_name):
        return _read_flo(file_name)


class KittiFlow(FlowDataset):
    """`KITTI 2015 <http://www.cvlibs.net/datasets/kitti/eval_scene_flow.php?benchmark=flow>`__ optical flow.

    Layout: ``root/KittiFlow/{training,testing}/image_2/XXXXXX_{10,11}.png`` and
    ``root/KittiFlow/training/flow_occ/XXXXXX_10.png`` (16-bit PNG flow with a valid mask).
    Items are ``(img1, img2, flow, valid_flow_mask)``; flow and mask are None for ``split="test"``.
    """

    _has_builtin_flow_mask = True

    def __init__(self, root, split="train", transforms=None, loader=default_loader):
        super().__init__(root=root, transforms=transforms, loader=loader)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        base = Path(root) / "KittiFlow" / (split + "ing")
        images1 = _sorted_glob(base / "image_2" / "*_10.png")
        images2 = _sorted_glob(base / "image_2" / "*_11.png")
        if not images1 or not images2:
            raise _layout_error("Kitti flow images", root, base / "image_2" / "000000_10.png")
        self._image_list = [[a, b] for a, b in zip(images1, images2)]
        if split == "train":
            self._flow_list = _sorted_glob(base / "flow_occ" / "*_10.png")
        self._check_pairs(root)

    def _read_flow(self, file_name):
        return read_16bit_png_flow(file_name)


class FlyingChairs(FlowDataset):
    """`FlyingChairs <https://lmb.informatik.uni-freiburg.de/resources/datasets/FlyingChairs.en.html>`_ flow.

    Layout: ``root/FlyingChairs/data/XXXXX_{img1,img2}.ppm``, ``XXXXX_flow.flo`` and
    ``root/FlyingChairs/FlyingChairs_train_val.txt`` (one line per pair: 1 = train, 2 = val), downloaded
    separately from the dataset page.
    """

    def __init__(self, root, split="train", transforms=None):
        super().__init__(root=root, transforms=transforms)
        verify_str_arg(split, "split", valid_values=("train", "val"))
        base = Path(root) / "FlyingChairs"
        images = _sorted_glob(base / "data" / "*.ppm")
        flows = _sorted_glob(base / "data" / "*.flo")
        split_file = base / "FlyingChairs_train_val.txt"
        if not split_file.exists():
            raise FileNotFoundError(f"The FlyingChairs_train_val.txt file was not found at {split_file} - "
                                    f"please download it from the dataset page (see docstring).")
        split_list = np.loadtxt(str(split_file), dtype=np.int32, ndmin=1)
        if len(split_list) < len(flows) or len(images) < 2 * len(flows):
            raise ValueError(f"FlyingChairs under {base}: {len(flows)} flows need {len(flows)} lines in "
                             f"{split_file.name} (has {len(split_list)}) and {2 * len(flows)} images "
                             f"(found {len(images)})")
        wanted = 1 if split == "train" else 2
        for i, flow in enumerate(flows):
            if split_list[i] == wanted:
                self._flow_list.append(flow)
                self._image_list.append([images[2 * i], images[2 * i + 1]])

    def _read_flow(self, file_name):
        return _read_flo(file_name)


class FlyingThings3D(FlowDataset):
    """`FlyingThings3D <https://lmb.informatik.uni-freiburg.de/resources/datasets/SceneFlowDatasets.en.html>`_.

    Layout: ``root/FlyingThings3D/frames_{cleanpass,finalpass}/{TRAIN,TEST}/<A,B,C>/<seq>/{left,right}/*.png``
    and ``root/FlyingThings3D/optical_flow/{TRAIN,TEST}/<A,B,C>/<seq>/{into_future,into_past}/{left,right}/``
    ``*.pfm``.

    Args:
        split: ``"train"`` or ``"test"``; pass_name: ``"clean"``, ``"final"`` or ``"both"``;
        camera: ``"left"``, ``"right"`` or ``"both"``. Both flow directions are used: into_future pairs
        (frame i, i+1) and into_past pairs (frame i+1, i).
    """

    def __init__(self, root, split="train", pass_name="clean", camera="left", transforms=None,
                 loader=default_loader):
        super().__init__(root=root, transforms=transforms, loader=loader)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        split = split.upper()
        verify_str_arg(pass_name, "pass_name", valid_values=("clean", "final", "both"))
        passes = {"clean": ["frames_cleanpass"], "final": ["frames_finalpass"],
                  "both": ["frames_cleanpass", "frames_finalpass"]}[pass_name]
        verify_str_arg(camera, "camera", valid_values=("left", "right", "both"))
        cameras = ["left", "right"] if camera == "both" else [camera]
        base = Path(root) / "FlyingThings3D"
        for pass_dir, cam, direction in itertools.product(passes, cameras, ("into_future", "into_past")):
            image_dirs = sorted(Path(d) / cam for d in _sorted_glob(base / pass_dir / split / "*/*"))
            flow_seqs = _sorted_glob(base / "optical_flow" / split / "*/*")
            flow_dirs = sorted(Path(d) / direction / cam for d in flow_seqs)
            if not image_dirs or not flow_dirs:
                raise _layout_error("FlyingThings3D flow images", root,
                                    base / pass_dir / split / "A" / "0000" / cam / "0006.png")
            for image_dir, flow_dir in zip(image_dirs, flow_dirs):
                images = _sorted_glob(image_dir / "*.png")
                flows = _sorted_glob(flow_dir / "*.pfm")
                if len(images) < len(flows):
                    raise ValueError(f"FlyingThings3D: {len(flows)} flows in {flow_dir} but only "
                                     f"{len(images)} images in {image_dir}")
                for i in range(len(flows) - 1):
                    if direction == "into_future":
                        self._image_list.append([images[i], images[i + 1]])
                        self._flow_list.append(flows[i])
                    else:
                        self._image_list.append([images[i + 1], images[i]])
                        self._flow_list.append(flows[i + 1])

    def _read_flow(self, file_name):
        return _read_pfm(file_name)


class HD1K(FlowDataset):
    """`HD1K <http://hci-benchmark.iwr.uni-heidelberg.de/>`__ optical flow.

    Layout: ``root/hd1k/hd1k_input/image_2/NNNNNN_MMMM.png``,
    ``root/hd1k/hd1k_flow_gt/flow_occ/NNNNNN_MMMM.png``
    (sequences 0-35) and ``root/hd1k/hd1k_challenge/image_2/*{10,11}.png`` for the test split.
    Items are ``(img1, img2, flow, valid_flow_mask)``.
    """

    _has_builtin_flow_mask = True

    def __init__(self, root, split="train", transforms=None, loader=default_loader):
        super().__init__(root=root, transforms=transforms, loader=loader)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        base = Path(root) / "hd1k"
        if split == "train":
            for seq in range(36):
                flows = _sorted_glob(base / "hd1k_flow_gt" / "flow_occ" / f"{seq:06d}_*.png")
                images = _sorted_glob(base / "hd1k_input" / "image_2" / f"{seq:06d}_*.png")
                if len(images) < len(flows):
                    raise ValueError(f"HD1K sequence {seq:06d}: {len(flows)} flows but only {len(images)} "
                                     f"images under {base}")
                for i in range(len(flows) - 1):
                    self._flow_list.append(flows[i])
                    self._image_list.append([images[i], images[i + 1]])
        else:
            images1 = _sorted_glob(base / "hd1k_challenge" / "image_2" / "*10.png")
            images2 = _sorted_glob(base / "hd1k_challenge" / "image_2" / "*11.png")
            self._image_list = [[a, b] for a, b in zip(images1, images2)]
        if not self._image_list:
            raise _layout_error("HD1K images", root, base / "hd1k_input" / "image_2" / "000000_0000.png")

    def _read_flow(self, file_name):
        return read_16bit_png_flow(file_name)
