"""Stereo-matching datasets as TorchVision's: ``CarlaStereo``, ``Kitti2012Stereo``, ``Kitti2015Stereo``,
``Middlebury2014Stereo``, ``CREStereo``, ``FallingThingsStereo``, ``SceneFlowStereo``, ``SintelStereo``,
``InStereo2k``, ``ETH3DStereo``.

An item is ``(img_left, img_right, disparity)`` — RGB PIL images and a ``(1, H, W)`` numpy disparity of the
left view — or ``(img_left, img_right, disparity, valid_mask)`` with an ``(H, W)`` bool mask for datasets
that ship one (and whenever ``transforms`` produces one). Test splits without ground truth give ``None``
for the disparity (and mask). ``transforms`` takes and returns three pairs:
``(images, disparities, valid_masks)``, each ``(left, right)``.

Disparity formats: PFM (Carla, Middlebury, SceneFlow, ETH3D; absolute values), 16-bit PNG / 256 (KITTI),
8/16-bit PNG / 32 (CREStereo), PNG / 1024 (InStereo2k), RGB-packed PNG ``R * 4 + G / 2**6 + B / 2**14``
(Sintel), and depth PNGs turned into disparity with the camera's focal length (FallingThings). Only
Middlebury 2014 downloads; the others sit behind their authors' pages: each docstring shows the layout.
"""
import json
import os
import random
import shutil
from glob import glob
from pathlib import Path

import numpy as np

from ._flow_io import read_pfm
from ._image import open_image
from .utils import download_and_extract_archive, verify_str_arg
from .vision import VisionDataset

__all__ = ["StereoMatchingDataset", "CarlaStereo", "Kitti2012Stereo", "Kitti2015Stereo",
           "Middlebury2014Stereo", "CREStereo", "FallingThingsStereo", "SceneFlowStereo", "SintelStereo",
           "InStereo2k", "ETH3DStereo"]

_MAX_JSON_BYTES = 1 << 20  # a camera-settings file is a few hundred bytes


def _read_pfm_disparity(path):
    """A PFM disparity ``(1, H, W)`` float32, made positive (some datasets store negative disparities)."""
    return np.abs(read_pfm(path, slice_channels=1))


def _read_png(path, what, dtype=None):
    """A PNG's values as a numpy array (``dtype`` when given), errors naming the file."""
    return np.asarray(open_image(path, what=what), dtype=dtype)


class StereoMatchingDataset(VisionDataset):
    """Base of the stereo datasets: ``_images`` holds (left, right) image paths, ``_disparities``
    (left, right) disparity paths (either may be None); ``_read_disparity`` reads one disparity file."""

    _has_built_in_disparity_mask = False

    def __init__(self, root, transforms=None):
        super().__init__(root=root)
        self.transforms = transforms
        self._images = []
        self._disparities = []

    def _read_img(self, file_path):
        return open_image(file_path, "RGB", what="stereo image")

    def _scan_pairs(self, paths_left_pattern, paths_right_pattern=None):
        """Sorted matches of the two glob patterns, paired in order (right None when it has no pattern)."""
        left_paths = sorted(glob(paths_left_pattern))
        if paths_right_pattern:
            right_paths = sorted(glob(paths_right_pattern))
        else:
            right_paths = [None] * len(left_paths)
        if not left_paths:
            raise FileNotFoundError(f"Could not find any files matching the patterns: {paths_left_pattern}")
        if not right_paths:
            raise FileNotFoundError(f"Could not find any files matching the patterns: {paths_right_pattern}")
        if len(left_paths) != len(right_paths):
            raise ValueError(f"Found {len(left_paths)} left files but {len(right_paths)} right files "
                             f"using:\n left pattern: {paths_left_pattern}\n"
                             f"right pattern: {paths_right_pattern}\n")
        return list(zip(left_paths, right_paths))

    def _read_disparity(self, file_path):
        """``(disparity (1, H, W) or None, valid_mask (H, W) or None)`` for one file (None: no file)."""
        raise NotImplementedError

    def __getitem__(self, index):
        """``(img_left, img_right, disparity)`` or ``(img_left, img_right, disparity, valid_mask)``."""
        left, right = self._images[index]
        imgs = (self._read_img(left), self._read_img(right))
        dsp_left, mask_left = self._read_disparity(self._disparities[index][0])
        dsp_right, mask_right = self._read_disparity(self._disparities[index][1])
        dsp_maps, valid_masks = (dsp_left, dsp_right), (mask_left, mask_right)
        if self.transforms is not None:
            imgs, dsp_maps, valid_masks = self.transforms(imgs, dsp_maps, valid_masks)
        if self._has_built_in_disparity_mask or valid_masks[0] is not None:
            return imgs[0], imgs[1], dsp_maps[0], valid_masks[0]
        return imgs[0], imgs[1], dsp_maps[0]

    def __len__(self):
        return len(self._images)


class CarlaStereo(StereoMatchingDataset):
    """Carla simulator scenes linked from the `CREStereo repository <https://github.com/megvii-research/CREStereo>`_.

    Layout: ``root/carla-highres/trainingF/<scene>/{im0.png, im1.png, disp0GT.pfm, disp1GT.pfm, calib.txt}``.

    Args:
        root: folder holding ``carla-highres``.
        transforms: joint transform of ``(images, disparities, valid_masks)``.

    Items: ``(img_left, img_right, disparity)``.
    """

    def __init__(self, root, transforms=None):
        super().__init__(root, transforms)
        root = Path(root) / "carla-highres" / "trainingF"
        self._images = self._scan_pairs(str(root / "*" / "im0.png"), str(root / "*" / "im1.png"))
        self._disparities = self._scan_pairs(str(root / "*" / "disp0GT.pfm"), str(root / "*" / "disp1GT.pfm"))

    def _read_disparity(self, file_path):
        return _read_pfm_disparity(file_path), None


class _Kitti(StereoMatchingDataset):
    _has_built_in_disparity_mask = True
    _folder = _left = _right = _disp_left = _disp_right = ""

    def __init__(self, root, split="train", transforms=None):
        super().__init__(root, transforms)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        root = Path(root) / self._folder / (split + "ing")
        self._images = self._scan_pairs(str(root / self._left), str(root / self._right))
        if split == "train":
            right = str(root / self._disp_right) if self._disp_right else None
            self._disparities = self._scan_pairs(str(root / self._disp_left), right)
        else:
            self._disparities = [(None, None)] * len(self._images)

    def _read_disparity(self, file_path):
        if file_path is None:  # test split: no ground truth
            return None, None
        # 16-bit PNG holding disparity * 256 (0: no measurement)
        return (_read_png(file_path, "KITTI disparity") / 256.0)[None, :, :], None


class Kitti2012Stereo(_Kitti):
    """KITTI `2012 stereo benchmark <http://www.cvlibs.net/datasets/kitti/eval_stereo_flow.php>`_, RGB.

    Layout: ``root/Kitti2012/{training,testing}/colored_{0,1}/<id>_10.png`` and, for training,
    ``root/Kitti2012/training/disp_noc/<id>.png`` (16-bit, disparity * 256).

    Args:
        root: folder holding ``Kitti2012``.
        split: ``"train"`` (default) or ``"test"`` (no disparities).
        transforms: joint transform of ``(images, disparities, valid_masks)``.

    Items: ``(img_left, img_right, disparity (1, H, W) float64 or None, valid_mask)``; the mask is None
    unless ``transforms`` makes one.
    """

    _folder, _left, _right = "Kitti2012", "colored_0/*_10.png", "colored_1/*_10.png"
    _disp_left = "disp_noc/*.png"


class Kitti2015Stereo(_Kitti):
    """KITTI `2015 stereo benchmark <http://www.cvlibs.net/datasets/kitti/eval_scene_flow.php>`_.

    Layout: ``root/Kitti2015/{training,testing}/image_{2,3}/<name>.png`` and, for training,
    ``root/Kitti2015/training/disp_occ_{0,1}/<name>.png`` (16-bit, disparity * 256).

    Args:
        root: folder holding ``Kitti2015``.
        split: ``"train"`` (default) or ``"test"`` (no disparities).
        transforms: joint transform of ``(images, disparities, valid_masks)``.

    Items: ``(img_left, img_right, disparity (1, H, W) float64 or None, valid_mask)``; the mask is None
    unless ``transforms`` makes one.
    """

    _folder, _left, _right = "Kitti2015", "image_2/*.png", "image_3/*.png"
    _disp_left, _disp_right = "disp_occ_0/*.png", "disp_occ_1/*.png"


class Middlebury2014Stereo(StereoMatchingDataset):
    """The public scenes of `Middlebury 2014 <https://vision.middlebury.edu/stereo/data/scenes2014/>`_.

    Layout: ``root/Middlebury2014/{train,additional}/<Scene>-{perfect,imperfect}/`` with ``im0.png``,
    ``im1.png`` (optionally ``im1E.png``, ``im1L.png``), ``disp0.pfm``, ``disp1.pfm``, ``calib.txt``; and
    ``root/Middlebury2014/test/<Scene>/{im0.png, im1.png, calib.txt}``.

    Args:
        root: folder holding (or receiving) ``Middlebury2014``.
        split: ``"train"`` (default), ``"additional"`` or ``"test"``.
        calibration: ``"perfect"`` (default), ``"imperfect"`` or ``"both"``; must be None for ``"test"``.
        use_ambient_views: draw the right image at random among ``im1.png``, ``im1E.png``, ``im1L.png``
            (those present).
        transforms: joint transform of ``(images, disparities, valid_masks)``.
        download: fetch the split's scene zips (each scene in both calibrations; the test split comes from
            the ``MiddEval3-data-F.zip`` archive). Middlebury publishes no checksums.

    Items: ``(img_left, img_right, disparity (1, H, W) float32, valid_mask (H, W))`` where the mask marks
    finite, positive disparities (infinities become 0); None for both on the test split.
    """

    splits = {
        "train": ["Adirondack", "Jadeplant", "Motorcycle", "Piano", "Pipes", "Playroom", "Playtable",
                  "Recycle", "Shelves", "Vintage"],
        "additional": ["Backpack", "Bicycle1", "Cable", "Classroom1", "Couch", "Flowers", "Mask", "Shopvac",
                       "Sticks", "Storage", "Sword1", "Sword2", "Umbrella"],
        "test": ["Plants", "Classroom2E", "Classroom2", "Australia", "DjembeL", "CrusadeP", "Crusade",
                 "Hoops", "Bicycle2", "Staircase", "Newkuba", "AustraliaP", "Djembe", "Livingroom",
                 "Computer"],
    }
    scenes_url = "https://vision.middlebury.edu/stereo/data/scenes2014/zip"
    test_url = "https://vision.middlebury.edu/stereo/submit3/zip/MiddEval3-data-F.zip"
    _has_built_in_disparity_mask = True

    def __init__(self, root, split="train", calibration="perfect", use_ambient_views=False, transforms=None,
                 download=False):
        super().__init__(root, transforms)
        verify_str_arg(split, "split", valid_values=("train", "test", "additional"))
        self.split = split
        if calibration:
            verify_str_arg(calibration, "calibration", valid_values=("perfect", "imperfect", "both", None))
            if split == "test":
                raise ValueError("Split 'test' has only no calibration settings, please set "
                                 "`calibration=None`.")
        elif split != "test":
            raise ValueError(f"Split '{split}' has calibration settings, however None was provided as an "
                             f"argument.\nSetting calibration to 'perfect' for split '{split}'. Available "
                             f"calibration settings are: 'perfect', 'imperfect', 'both'.")
        if download:
            self._download_dataset(root)
        root = Path(root) / "Middlebury2014"
        if not os.path.exists(root / split):
            raise FileNotFoundError(f"The {split} directory was not found in the provided root directory "
                                    f"({root / split}); pass download=True to fetch it")
        if not any(scene.startswith(s) for scene in os.listdir(root / split) for s in self.splits[split]):
            raise FileNotFoundError(f"Provided root folder does not contain any scenes from the {split} "
                                    f"split.")
        suffixes = {None: [""], "perfect": ["-perfect"], "imperfect": ["-imperfect"],
                    "both": ["-perfect", "-imperfect"]}[calibration]
        for suffix in suffixes:
            scenes = root / split / ("*" + suffix)
            self._images += self._scan_pairs(str(scenes / "im0.png"), str(scenes / "im1.png"))
            if split == "test":
                self._disparities = [(None, None)] * len(self._images)
            else:
                self._disparities += self._scan_pairs(str(scenes / "disp0.pfm"), str(scenes / "disp1.pfm"))
        self.use_ambient_views = use_ambient_views

    def _read_img(self, file_path):
        file_path = Path(file_path)
        if file_path.name == "im1.png" and self.use_ambient_views:
            # the other exposure (E) and lighting (L) of the right view, where present, or the plain one
            views = [file_path.parent / v for v in ("im1E.png", "im1L.png")]
            file_path = random.choice([v for v in views if os.path.exists(v)] + [file_path])
        return super()._read_img(file_path)

    def _read_disparity(self, file_path):
        if file_path is None:  # test split: no ground truth
            return None, None
        disparity = _read_pfm_disparity(file_path)
        disparity[disparity == np.inf] = 0  # unknown disparities are stored as infinity
        return disparity, (disparity > 0).squeeze(0)

    def _download_dataset(self, root):
        root = Path(root) / "Middlebury2014"
        if self.split != "test":
            split_root = root / self.split
            for scene in self.splits[self.split]:
                for calibration in ("perfect", "imperfect"):
                    name = f"{scene}-{calibration}"
                    if not (split_root / name).exists():
                        download_and_extract_archive(f"{self.scenes_url}/{name}.zip", str(split_root),
                                                     filename=f"{name}.zip", remove_finished=True)
            return
        test_root = root / "test"
        os.makedirs(test_root, exist_ok=True)
        if all(s in os.listdir(test_root) for s in self.splits["test"]):
            return
        # The archive unpacks to MiddEval3/{trainingF,testF}; the test scenes move to Middlebury2014/test.
        download_and_extract_archive(self.test_url, str(root), remove_finished=True)
        source = root / "MiddEval3" / "testF"
        if not source.is_dir():
            raise FileNotFoundError(f"{self.test_url} did not unpack to MiddEval3/testF under {root}")
        for scene in sorted(os.listdir(source)):
            if (source / scene).is_dir() and not (test_root / scene).exists():
                shutil.move(str(source / scene), str(test_root / scene))
        shutil.rmtree(root / "MiddEval3")


class CREStereo(StereoMatchingDataset):
    """The synthetic `CREStereo <https://arxiv.org/abs/2203.11483>`_ training set.

    Layout: ``root/CREStereo/{tree,shapenet,reflective,hole}/<name>_{left,right}.jpg`` with
    ``<name>_{left,right}.disp.png`` (disparity * 32).

    Args:
        root: folder holding ``CREStereo``.
        transforms: joint transform of ``(images, disparities, valid_masks)``.

    Items: ``(img_left, img_right, disparity (1, H, W) float32, valid_mask)``; the mask is None unless
    ``transforms`` makes one.
    """

    _has_built_in_disparity_mask = True

    def __init__(self, root, transforms=None):
        super().__init__(root, transforms)
        root = Path(root) / "CREStereo"
        for s in ("shapenet", "reflective", "tree", "hole"):
            self._images += self._scan_pairs(str(root / s / "*_left.jpg"), str(root / s / "*_right.jpg"))
            self._disparities += self._scan_pairs(str(root / s / "*_left.disp.png"),
                                                  str(root / s / "*_right.disp.png"))

    def _read_disparity(self, file_path):
        return _read_png(file_path, "CREStereo disparity", np.float32)[None, :, :] / 32.0, None


class FallingThingsStereo(StereoMatchingDataset):
    """NVIDIA's `Falling Things <https://research.nvidia.com/publication/2018-06_falling-things>`_ stereo.

    Layout: ``root/FallingThings/single/<object>/<scene>/`` and ``root/FallingThings/mixed/<scene>/``, each
    with ``_camera_settings.json`` and ``<name>.{left,right}.jpg``, ``<name>.{left,right}.depth.png``.

    Args:
        root: folder holding ``FallingThings``.
        variant: ``"single"`` (default), ``"mixed"`` or ``"both"``.
        transforms: joint transform of ``(images, disparities, valid_masks)``.

    Items: ``(img_left, img_right, disparity (1, H, W) float32)``, from the depth PNG as
    ``6 * fx * 100 / depth`` (fx from the scene's camera settings; the dataset's readme).
    """

    def __init__(self, root, variant="single", transforms=None):
        super().__init__(root, transforms)
        root = Path(root) / "FallingThings"
        verify_str_arg(variant, "variant", valid_values=("single", "mixed", "both"))
        variants = {"single": ["single"], "mixed": ["mixed"], "both": ["single", "mixed"]}[variant]
        prefix = {"single": Path("*") / "*", "mixed": Path("*")}
        for s in variants:
            folder = root / s / prefix[s]
            self._images += self._scan_pairs(str(folder / "*.left.jpg"), str(folder / "*.right.jpg"))
            self._disparities += self._scan_pairs(str(folder / "*.left.depth.png"),
                                                  str(folder / "*.right.depth.png"))

    def _read_disparity(self, file_path):
        depth = _read_png(file_path, "FallingThings depth map")
        settings = Path(file_path).parent / "_camera_settings.json"
        with open(settings, "rb") as f:
            raw = f.read(_MAX_JSON_BYTES + 1)
        if len(raw) > _MAX_JSON_BYTES:
            raise ValueError(f"{settings} is larger than {_MAX_JSON_BYTES} bytes; a camera-settings file "
                             f"is small")
        try:
            focal = json.loads(raw)["camera_settings"][0]["intrinsic_settings"]["fx"]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise ValueError(f"{settings} does not hold camera_settings[0].intrinsic_settings.fx: "
                             f"{e!r}") from None
        baseline, pixel_constant = 6, 100  # depth = baseline * focal * pixel_constant / disparity
        with np.errstate(divide="ignore"):  # zero depth (no surface) gives an infinite disparity, as upstream
            disparity = (baseline * focal * pixel_constant) / depth.astype(np.float32)
        return disparity[None, :, :], None


class SceneFlowStereo(StereoMatchingDataset):
    """The `Scene Flow <https://lmb.informatik.uni-freiburg.de/resources/datasets/SceneFlowDatasets.en.html>`_
    datasets: FlyingThings3D, Monkaa and Driving.

    Layout: ``root/SceneFlow/<variant>/{frames_cleanpass,frames_finalpass}/<prefix>/{left,right}/*.png`` and
    ``root/SceneFlow/<variant>/disparity/<prefix>/{left,right}/*.pfm``, where ``<prefix>`` is
    ``<scene>`` for Monkaa and ``<split>/<letter>/<sequence>`` (FlyingThings3D) or
    ``<focal>/<direction>/<speed>`` (Driving).

    Args:
        root: folder holding ``SceneFlow``.
        variant: ``"FlyingThings3D"`` (default), ``"Driving"`` or ``"Monkaa"``.
        pass_name: ``"clean"`` (default), ``"final"`` or ``"both"``.
        transforms: joint transform of ``(images, disparities, valid_masks)``.

    Items: ``(img_left, img_right, disparity (1, H, W) float32)``.
    """

    def __init__(self, root, variant="FlyingThings3D", pass_name="clean", transforms=None):
        super().__init__(root, transforms)
        verify_str_arg(variant, "variant", valid_values=("FlyingThings3D", "Driving", "Monkaa"))
        verify_str_arg(pass_name, "pass_name", valid_values=("clean", "final", "both"))
        passes = {"clean": ["frames_cleanpass"], "final": ["frames_finalpass"],
                  "both": ["frames_cleanpass", "frames_finalpass"]}[pass_name]
        root = Path(root) / "SceneFlow" / variant
        prefix = Path("*") if variant == "Monkaa" else Path("*") / "*" / "*"
        for p in passes:
            self._images += self._scan_pairs(str(root / p / prefix / "left" / "*.png"),
                                             str(root / p / prefix / "right" / "*.png"))
            self._disparities += self._scan_pairs(str(root / "disparity" / prefix / "left" / "*.pfm"),
                                                  str(root / "disparity" / prefix / "right" / "*.pfm"))

    def _read_disparity(self, file_path):
        return _read_pfm_disparity(file_path), None


class SintelStereo(StereoMatchingDataset):
    """`MPI Sintel stereo <http://sintel.is.tue.mpg.de/stereo>`_ training set.

    Layout under ``root/Sintel/training``: ``{final,clean}_{left,right}/<scene>/<frame>.png``,
    ``disparities/<scene>/<frame>.png`` (RGB-packed), ``occlusions/<scene>/<frame>.png`` and
    ``outofframe/<scene>/<frame>.png``.

    Args:
        root: folder holding ``Sintel``.
        pass_name: ``"final"`` (default), ``"clean"`` or ``"both"``.
        transforms: joint transform of ``(images, disparities, valid_masks)``.

    Items: ``(img_left, img_right, disparity (1, H, W) float32, valid_mask (H, W))``; the disparity is
    ``R * 4 + G / 2**6 + B / 2**14`` (the dataset's readme), the mask marks pixels neither occluded nor out
    of frame.
    """

    _has_built_in_disparity_mask = True

    def __init__(self, root, pass_name="final", transforms=None):
        super().__init__(root, transforms)
        verify_str_arg(pass_name, "pass_name", valid_values=("final", "clean", "both"))
        root = Path(root) / "Sintel" / "training"
        for p in {"final": ["final"], "clean": ["clean"], "both": ["final", "clean"]}[pass_name]:
            self._images += self._scan_pairs(str(root / f"{p}_left" / "*" / "*.png"),
                                             str(root / f"{p}_right" / "*" / "*.png"))
            self._disparities += self._scan_pairs(str(root / "disparities" / "*" / "*.png"), None)

    def _get_occlussion_mask_paths(self, file_path):
        """The occlusion and out-of-frame masks of a ``training/disparities/<scene>/<frame>.png`` file."""
        path = Path(file_path)
        training = path.parent.parent.parent
        occlusion = str(training / "occlusions" / path.parent.name / path.name)
        outofframe = str(training / "outofframe" / path.parent.name / path.name)
        if not os.path.exists(occlusion):
            raise FileNotFoundError(f"Occlusion mask {occlusion} does not exist")
        if not os.path.exists(outofframe):
            raise FileNotFoundError(f"Out of frame mask {outofframe} does not exist")
        return occlusion, outofframe

    def _read_disparity(self, file_path):
        if file_path is None:
            return None, None
        packed = _read_png(file_path, "Sintel disparity", np.float32)
        if packed.ndim != 3 or packed.shape[-1] != 3:
            raise ValueError(f"Sintel disparity {file_path} should be an RGB PNG, got shape {packed.shape}")
        r, g, b = np.split(packed, 3, axis=-1)
        disparity = np.transpose(r * 4 + g / (2**6) + b / (2**14), (2, 0, 1))
        occlusion, outofframe = self._get_occlussion_mask_paths(file_path)
        visible = _read_png(occlusion, "Sintel occlusion mask") == 0
        in_frame = _read_png(outofframe, "Sintel out-of-frame mask") == 0
        return disparity, np.logical_and(in_frame, visible)


class InStereo2k(StereoMatchingDataset):
    """`InStereo2K <https://github.com/YuhuaXu/StereoDataset>`_ indoor stereo pairs.

    Layout: ``root/InStereo2k/{train,test}/<scene>/{left.png, right.png, left_disp.png, right_disp.png}``
    (disparity * 1024).

    Args:
        root: folder holding ``InStereo2k``.
        split: ``"train"`` (default) or ``"test"``.
        transforms: joint transform of ``(images, disparities, valid_masks)``.

    Items: ``(img_left, img_right, disparity (1, H, W) float32)``.
    """

    def __init__(self, root, split="train", transforms=None):
        super().__init__(root, transforms)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        root = Path(root) / "InStereo2k" / split
        self._images = self._scan_pairs(str(root / "*" / "left.png"), str(root / "*" / "right.png"))
        self._disparities = self._scan_pairs(str(root / "*" / "left_disp.png"),
                                             str(root / "*" / "right_disp.png"))

    def _read_disparity(self, file_path):
        return _read_png(file_path, "InStereo2k disparity", np.float32)[None, :, :] / 1024.0, None


class ETH3DStereo(StereoMatchingDataset):
    """`ETH3D low-res two-view <https://www.eth3d.net/datasets>`_ stereo.

    Layout: ``root/ETH3D/two_view_training/<scene>/{im0.png, im1.png, calib.txt, ...}``,
    ``root/ETH3D/two_view_test/<scene>/...`` and ``root/ETH3D/two_view_training_gt/<scene>/{disp0GT.pfm,
    mask0nocc.png}``.

    Args:
        root: folder holding ``ETH3D``.
        split: ``"train"`` (default) or ``"test"`` (no disparities).
        transforms: joint transform of ``(images, disparities, valid_masks)``.

    Items: ``(img_left, img_right, disparity (1, H, W) float32, valid_mask (H, W))``, the mask from
    ``mask0nocc.png`` (non-occluded pixels); None for both on the test split.
    """

    _has_built_in_disparity_mask = True

    def __init__(self, root, split="train", transforms=None):
        super().__init__(root, transforms)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        root = Path(root) / "ETH3D"
        images = root / ("two_view_training" if split == "train" else "two_view_test")
        self._images = self._scan_pairs(str(images / "*" / "im0.png"), str(images / "*" / "im1.png"))
        if split == "test":
            self._disparities = [(None, None)] * len(self._images)
        else:
            gt = root / "two_view_training_gt"
            self._disparities = self._scan_pairs(str(gt / "*" / "disp0GT.pfm"), None)

    def _read_disparity(self, file_path):
        if file_path is None:
            return None, None
        mask = _read_png(Path(file_path).parent / "mask0nocc.png", "ETH3D mask").astype(bool)
        return _read_pfm_disparity(file_path), mask
