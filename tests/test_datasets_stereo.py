"""Stereo-matching datasets: tiny fixtures in each official layout (real PNG/JPEG/PFM files), loaded by
visionlite and by TorchVision's classes on the same files and compared item by item; Middlebury 2014's
download from a 127.0.0.1 server; joint transforms; damaged and missing files."""
import json

import numpy as np
import pytest
from PIL import Image

from tests.helpers.dataset_fixtures import assert_same_dataset, assert_same_item, write, zip_bytes
from tests.helpers.refs import require
from visionlite import datasets
from visionlite.datasets._flow_io import write_pfm

# --------------------------------------------------------------------------- fixture writers
W, H = 7, 5


def _rgb(path, rng, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(path, format=fmt)


def _gray(path, values):
    """An 8-bit (uint8 values) or 16-bit (uint16 values) single-channel PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(values).save(path)


def _u16(rng, high=2**16):
    return rng.integers(0, high, (H, W), dtype=np.uint16)


def _pfm(path, rng, negative=False, with_inf=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    d = rng.uniform(0.5, 60, (1, H, W)).astype(np.float32)
    if negative:
        d = -d
    if with_inf:
        d[0, 0, :3] = np.inf
    write_pfm(path, d, little_endian=bool(rng.integers(0, 2)))


def make_carla(root, rng):
    for scene in ("scene_a", "scene_b", "scene_c"):
        folder = root / "carla-highres" / "trainingF" / scene
        _rgb(folder / "im0.png", rng)
        _rgb(folder / "im1.png", rng)
        _pfm(folder / "disp0GT.pfm", rng, negative=True)
        _pfm(folder / "disp1GT.pfm", rng, negative=True)
        write(folder / "calib.txt", "cam0=[1 0 0; 0 1 0; 0 0 1]\n")


def make_kitti2012(root, rng):
    for split in ("training", "testing"):
        for i in range(3):
            _rgb(root / "Kitti2012" / split / "colored_0" / f"{i:06d}_10.png", rng)
            _rgb(root / "Kitti2012" / split / "colored_1" / f"{i:06d}_10.png", rng)
            # the _11 frames of the flow benchmark sit in the same folders and must be ignored
            _rgb(root / "Kitti2012" / split / "colored_0" / f"{i:06d}_11.png", rng)
            if split == "training":
                _gray(root / "Kitti2012" / split / "disp_noc" / f"{i:06d}.png", _u16(rng))


def make_kitti2015(root, rng):
    for split in ("training", "testing"):
        for i in range(2):
            for cam in ("image_2", "image_3"):
                _rgb(root / "Kitti2015" / split / cam / f"{i:06d}_10.png", rng)
            if split == "training":
                for d in ("disp_occ_0", "disp_occ_1"):
                    _gray(root / "Kitti2015" / split / d / f"{i:06d}_10.png", _u16(rng))


MIDDLEBURY_TRAIN = ["Adirondack", "Jadeplant"]


def _middlebury_scene(folder, rng, test=False):
    _rgb(folder / "im0.png", rng)
    _rgb(folder / "im1.png", rng)
    write(folder / "calib.txt", "cam0=[3997.684 0 1176.728; 0 3997.684 1011.728; 0 0 1]\nndisp=290\n")
    if not test:
        _rgb(folder / "im1E.png", rng)
        _rgb(folder / "im1L.png", rng)
        _pfm(folder / "disp0.pfm", rng, with_inf=True)
        _pfm(folder / "disp1.pfm", rng, with_inf=True)


def make_middlebury(root, rng):
    for scene in MIDDLEBURY_TRAIN:
        for calibration in ("perfect", "imperfect"):
            _middlebury_scene(root / "Middlebury2014" / "train" / f"{scene}-{calibration}", rng)
    _middlebury_scene(root / "Middlebury2014" / "additional" / "Backpack-perfect", rng)
    for scene in ("Australia", "Plants"):
        _middlebury_scene(root / "Middlebury2014" / "test" / scene, rng, test=True)


def make_crestereo(root, rng):
    for s, n in (("tree", 2), ("shapenet", 1), ("reflective", 1), ("hole", 2)):
        for i in range(n):
            for side in ("left", "right"):
                _rgb(root / "CREStereo" / s / f"{i:04d}_{side}.jpg", rng, fmt="JPEG")
                _gray(root / "CREStereo" / s / f"{i:04d}_{side}.disp.png", _u16(rng, 256 * 32))


def make_falling_things(root, rng):
    folders = [root / "FallingThings" / "single" / "002_master_chef_can_16k" / "kitchen_0",
               root / "FallingThings" / "single" / "003_cracker_box_16k" / "temple_1",
               root / "FallingThings" / "mixed" / "kitchen_2"]
    for k, folder in enumerate(folders):
        intrinsics = {"fx": 768.1605 + k, "fy": 768.1605, "cx": 480, "cy": 270}
        settings = {"camera_settings": [{"name": "left", "intrinsic_settings": intrinsics}]}
        write(folder / "_camera_settings.json", json.dumps(settings))
        write(folder / "_object_settings.json", "{}")
        for i in range(2):
            for side in ("left", "right"):
                _rgb(folder / f"{i:06d}.{side}.jpg", rng, fmt="JPEG")
                depth = _u16(rng)
                depth[0, 0] = 0  # no surface: infinite disparity, as TorchVision computes it
                _gray(folder / f"{i:06d}.{side}.depth.png", depth)


def make_sceneflow(root, rng):
    layouts = {"FlyingThings3D": ["TRAIN/A/0000", "TEST/B/0001"],
               "Driving": ["15mm_focallength/scene_forwards/fast"],
               "Monkaa": ["a_rain_of_stones_x2", "eating_x2"]}
    for variant, prefixes in layouts.items():
        base = root / "SceneFlow" / variant
        for prefix in prefixes:
            for i in range(2):
                for p in ("frames_cleanpass", "frames_finalpass"):
                    for side in ("left", "right"):
                        _rgb(base / p / prefix / side / f"{i:04d}.png", rng)
                for side in ("left", "right"):
                    _pfm(base / "disparity" / prefix / side / f"{i:04d}.pfm", rng, negative=bool(i))


def make_sintel(root, rng):
    base = root / "Sintel" / "training"
    for scene, n in (("alley_1", 2), ("bamboo_2", 1)):
        for i in range(1, n + 1):
            name = f"frame_{i:04d}.png"
            for p in ("final_left", "final_right", "clean_left", "clean_right"):
                _rgb(base / p / scene / name, rng)
            _rgb(base / "disparities" / scene / name, rng)
            _gray(base / "occlusions" / scene / name, (rng.integers(0, 2, (H, W)) * 255).astype(np.uint8))
            _gray(base / "outofframe" / scene / name, (rng.integers(0, 2, (H, W)) * 255).astype(np.uint8))


def make_instereo2k(root, rng):
    for split, scenes in (("train", ("part1/000000", "part1/000001")), ("test", ("000010",))):
        for scene in scenes:
            # the official train folders nest one level deeper (part*/<scene>); TorchVision globs one level
            folder = root / "InStereo2k" / split / scene.split("/")[-1]
            _rgb(folder / "left.png", rng)
            _rgb(folder / "right.png", rng)
            _gray(folder / "left_disp.png", _u16(rng))
            _gray(folder / "right_disp.png", _u16(rng))


def make_eth3d(root, rng):
    for split, scenes in (("two_view_training", ("delivery_area_1l", "electro_1l")),
                          ("two_view_test", ("lakeside_1l",))):
        for scene in scenes:
            folder = root / "ETH3D" / split / scene
            _rgb(folder / "im0.png", rng)
            _rgb(folder / "im1.png", rng)
            write(folder / "calib.txt", "cam0=[1 0 0; 0 1 0; 0 0 1]\n")
            if split == "two_view_training":
                gt = root / "ETH3D" / "two_view_training_gt" / scene
                _pfm(gt / "disp0GT.pfm", rng, with_inf=False)
                _gray(gt / "mask0nocc.png", (rng.integers(0, 2, (H, W)) * 255).astype(np.uint8))


MAKERS = {"CarlaStereo": make_carla, "Kitti2012Stereo": make_kitti2012, "Kitti2015Stereo": make_kitti2015,
          "Middlebury2014Stereo": make_middlebury, "CREStereo": make_crestereo,
          "FallingThingsStereo": make_falling_things, "SceneFlowStereo": make_sceneflow,
          "SintelStereo": make_sintel, "InStereo2k": make_instereo2k, "ETH3DStereo": make_eth3d}

CASES = [
    ("CarlaStereo", {}),
    ("Kitti2012Stereo", {}), ("Kitti2012Stereo", {"split": "test"}),
    ("Kitti2015Stereo", {}), ("Kitti2015Stereo", {"split": "test"}),
    ("Middlebury2014Stereo", {}), ("Middlebury2014Stereo", {"calibration": "both"}),
    ("Middlebury2014Stereo", {"calibration": "imperfect"}),
    ("Middlebury2014Stereo", {"split": "additional"}),
    ("Middlebury2014Stereo", {"split": "test", "calibration": None}),
    ("CREStereo", {}),
    ("FallingThingsStereo", {}), ("FallingThingsStereo", {"variant": "mixed"}),
    ("FallingThingsStereo", {"variant": "both"}),
    ("SceneFlowStereo", {}), ("SceneFlowStereo", {"pass_name": "both"}),
    ("SceneFlowStereo", {"variant": "Driving", "pass_name": "final"}),
    ("SceneFlowStereo", {"variant": "Monkaa"}),
    ("SintelStereo", {}), ("SintelStereo", {"pass_name": "both"}),
    ("InStereo2k", {}), ("InStereo2k", {"split": "test"}),
    ("ETH3DStereo", {}), ("ETH3DStereo", {"split": "test"}),
]


@pytest.fixture(scope="module")
def stereo_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("stereo")
    rng = np.random.default_rng(0)
    for make in MAKERS.values():
        make(root, rng)
    return root


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # TorchVision's FallingThings, zero depth
@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{'-'.join(map(str, k.values())) or 'default'}"
                                                    for n, k in CASES])
def test_same_items_as_torchvision(stereo_root, name, kwargs):
    tvd = require("torchvision.datasets")
    ours = getattr(datasets, name)(stereo_root, **kwargs)
    theirs = getattr(tvd, name)(stereo_root, **kwargs)
    assert_same_dataset(ours, theirs)
    item = ours[0]
    assert isinstance(item[0], Image.Image) and item[0].mode == "RGB"
    if item[2] is not None:
        assert item[2].ndim == 3 and item[2].shape[0] == 1 and item[2].shape[1:] == (H, W)
        assert np.isfinite(item[2]).any() and (item[2][np.isfinite(item[2])] >= 0).all()
    if len(item) == 4 and item[3] is not None:
        assert item[3].dtype == bool and item[3].shape == (H, W)


def test_every_stereo_dataset_is_exported():
    for name in MAKERS:
        assert name in datasets.__all__ and getattr(datasets, name).__name__ == name


def _joint_transform(images, disparities, masks):
    # flips everything left-right and derives a mask where the dataset has none
    flipped = tuple(img.transpose(Image.FLIP_LEFT_RIGHT) for img in images)
    disparities = tuple(None if d is None else np.ascontiguousarray(d[..., ::-1]) for d in disparities)
    masks = tuple((d[0] > 10) if (m is None and d is not None) else m for m, d in zip(masks, disparities))
    return flipped, disparities, masks


@pytest.mark.parametrize("name", ["CarlaStereo", "SintelStereo", "InStereo2k"])
def test_joint_transforms_as_torchvision(stereo_root, name):
    tvd = require("torchvision.datasets")
    ours = getattr(datasets, name)(stereo_root, transforms=_joint_transform)
    theirs = getattr(tvd, name)(stereo_root, transforms=_joint_transform)
    for i in range(len(theirs)):
        a, b = ours[i], theirs[i]
        assert len(a) == len(b) == 4  # the transform's mask makes 4-tuples
        assert_same_item(a, b)


def test_middlebury_ambient_views_pick_a_right_view(stereo_root):
    ds = datasets.Middlebury2014Stereo(stereo_root, use_ambient_views=True)
    folder = stereo_root / "Middlebury2014" / "train" / "Adirondack-perfect"
    views = [np.asarray(Image.open(folder / v).convert("RGB")) for v in ("im1.png", "im1E.png", "im1L.png")]
    seen = set()
    for _ in range(30):
        right = np.asarray(ds[0][1])
        matches = [k for k, v in enumerate(views) if np.array_equal(v, right)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert seen == {0, 1, 2}


def test_middlebury_argument_errors(stereo_root):
    with pytest.raises(ValueError, match="calibration=None"):
        datasets.Middlebury2014Stereo(stereo_root, split="test")
    with pytest.raises(ValueError, match="calibration settings"):
        datasets.Middlebury2014Stereo(stereo_root, calibration=None)
    with pytest.raises(ValueError, match="calibration"):
        datasets.Middlebury2014Stereo(stereo_root, calibration="sharp")
    with pytest.raises(FileNotFoundError, match="download=True"):
        datasets.Middlebury2014Stereo(stereo_root / "nowhere")


def test_middlebury_downloads_from_a_local_server(local_http_server, tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    src = tmp_path / "src"
    for scene in MIDDLEBURY_TRAIN:
        for calibration in ("perfect", "imperfect"):
            name = f"{scene}-{calibration}"
            _middlebury_scene(src / name, rng)
            local_http_server.add_file(f"scenes2014/zip/{name}.zip", zip_bytes(src, [name]))
    for scene in ("Australia", "Plants"):
        _middlebury_scene(src / "MiddEval3" / "testF" / scene, rng, test=True)
    _middlebury_scene(src / "MiddEval3" / "trainingF" / "Adirondack", rng)
    local_http_server.add_file("submit3/zip/MiddEval3-data-F.zip", zip_bytes(src, ["MiddEval3"]))
    cls = datasets.Middlebury2014Stereo
    monkeypatch.setitem(cls.splits, "train", MIDDLEBURY_TRAIN)
    monkeypatch.setattr(cls, "scenes_url", local_http_server.url("scenes2014/zip"))
    monkeypatch.setattr(cls, "test_url", local_http_server.url("submit3/zip/MiddEval3-data-F.zip"))
    root = tmp_path / "data"

    train = cls(root, calibration="both", download=True)
    assert len(train) == 4
    assert not list((root / "Middlebury2014" / "train").glob("*.zip"))  # archives removed after extraction
    left, right, disparity, mask = train[0]
    expected = np.asarray(Image.open(src / "Adirondack-perfect" / "im0.png"))
    np.testing.assert_array_equal(np.asarray(left), expected)
    assert mask.shape == (H, W) and not mask[0, :3].any()  # infinite disparities are invalid
    test = cls(root, split="test", calibration=None, download=True)
    assert len(test) == 2 and test[1][2] is None
    assert not (root / "Middlebury2014" / "MiddEval3").exists()
    # a second construction finds everything in place and downloads nothing
    before = local_http_server.total_gets()
    cls(root, calibration="both", download=True)
    assert local_http_server.total_gets() == before


def test_damaged_and_missing_files_name_the_file(tmp_path):
    rng = np.random.default_rng(1)
    make_carla(tmp_path, rng)
    scene = tmp_path / "carla-highres" / "trainingF" / "scene_b"
    (scene / "disp0GT.pfm").write_bytes(b"PF\n7 5\n-1.0\n" + b"\0" * 12)  # truncated data
    ds = datasets.CarlaStereo(tmp_path)
    with pytest.raises(ValueError, match="disp0GT.pfm"):
        ds[1]
    (scene / "im1.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(OSError, match="im1.png"):
        ds[1]
    (scene / "im1.png").unlink()
    with pytest.raises(ValueError, match="3 left files but 2 right files"):
        datasets.CarlaStereo(tmp_path)
    with pytest.raises(FileNotFoundError, match="matching the patterns"):
        datasets.ETH3DStereo(tmp_path)
    with pytest.raises(ValueError, match="split"):
        datasets.Kitti2015Stereo(tmp_path, split="val")


def test_falling_things_bad_camera_settings(tmp_path):
    rng = np.random.default_rng(2)
    make_falling_things(tmp_path, rng)
    settings = tmp_path / "FallingThings" / "mixed" / "kitchen_2" / "_camera_settings.json"
    settings.write_text('{"camera_settings": []}')
    ds = datasets.FallingThingsStereo(tmp_path, variant="mixed")
    with pytest.raises(ValueError, match="_camera_settings.json.*fx"):
        ds[0]


def test_sintel_missing_occlusion_mask(tmp_path):
    rng = np.random.default_rng(3)
    make_sintel(tmp_path, rng)
    (tmp_path / "Sintel" / "training" / "occlusions" / "bamboo_2" / "frame_0001.png").unlink()
    ds = datasets.SintelStereo(tmp_path)
    with pytest.raises(FileNotFoundError, match="Occlusion mask .*frame_0001.png"):
        ds[2]
