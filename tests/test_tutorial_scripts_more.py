"""More tutorial-style user scripts (optical flow, video classification, feature extraction, ONNX export,
datasets through a DataLoader, a 3-D training step), run as a user moves them over: only the imports
change (``import torch`` -> ``import visionlite as torch``, ``from torchvision.x import`` ->
``from visionlite.x import``). Each runs under PyTorch/TorchVision first and then under visionlite on the
same local files: videos written by the test, random checkpoints ``torch.save``-d and served from
127.0.0.1 in place of the official weights, dataset archives in their official layouts."""
import hashlib
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.refs import require
from tests.test_tutorial_scripts import _compare, _same_text, run_script

torch = require("torch")
tv = require("torchvision")

SCRIPTS = Path(__file__).parent / "scripts"


def rewrite_imports(source):
    """Only the import lines change: the module names a script uses stay ``torch``/``torchvision``."""
    def line(match):
        text = match.group(0)
        text = re.sub(r"^(\s*)import (torch|torchvision)\s*$", r"\1import visionlite as \2", text)
        if "visionlite" in text:
            return text
        return re.sub(r"\b(torchvision|torch)(?=[. ])", "visionlite", text)
    return re.sub(r"^\s*(?:import|from) (?:torch|torchvision)\b.*$", line, source, flags=re.M)


def test_rewrite_imports():
    src = ("import torch\nimport torchvision\nimport torch.nn as nn\n"
           "from torch.utils.data import DataLoader\n"
           "from torchvision.models.optical_flow import raft_small\nx = torch.ones(1)\n")
    assert rewrite_imports(src) == (
        "import visionlite as torch\nimport visionlite as torchvision\nimport visionlite.nn as nn\n"
        "from visionlite.utils.data import DataLoader\n"
        "from visionlite.models.optical_flow import raft_small\n"
        "x = torch.ones(1)\n")


@pytest.fixture
def homes(monkeypatch, tmp_path):
    """Both libraries' caches in the test's folder, so served files are fetched fresh."""
    from visionlite import hub
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("VISIONLITE_HOME", str(tmp_path / "vl_home"))
    monkeypatch.setattr(hub, "_hub_dir", None)
    monkeypatch.delenv("VISIONLITE_OFFLINE", raising=False)
    monkeypatch.delenv("VISIONLITE_WEIGHTS_MIRROR", raising=False)
    return tmp_path


def serve_weights(server, monkeypatch, tmp_path, builder, enum_name, member, module):
    """Serve a random ``builder()`` checkpoint (torch.save'd) in place of ``enum_name.member`` for both
    TorchVision and visionlite (``module`` is the models subpackage, e.g. ``optical_flow``)."""
    import importlib
    tv_mod = importlib.import_module(f"torchvision.models.{module}" if module else "torchvision.models")
    vl_mod = importlib.import_module(f"visionlite.models.{module}" if module else "visionlite.models")
    torch.manual_seed(0)
    model = getattr(tv_mod, builder)()
    path = tmp_path / f"{builder}.pth"
    torch.save(model.state_dict(), path)
    data = path.read_bytes()
    name = f"{builder}-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    server.add_file(name, data)
    for mod in (tv_mod, vl_mod):
        value = getattr(getattr(mod, enum_name), member).value
        monkeypatch.setattr(value, "url", server.url(name))
        if hasattr(value, "sha256"):
            monkeypatch.setattr(value, "sha256", None)  # the official file's pinned hash is not this file's
    return data


def torch_read_video(filename, start_pts=0, end_pts=None, pts_unit="pts", output_format="THWC"):
    """TorchVision 0.29 dropped ``io.read_video``; the PyTorch run gets the same decode from PyAV
    (every frame as RGB24, as the removed function did for a whole file)."""
    av = require("av")
    with av.open(str(filename)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        fps = float(stream.average_rate)
    video = torch.from_numpy(np.stack(frames))
    if output_format == "TCHW":
        video = video.permute(0, 3, 1, 2)
    return video, torch.empty((1, 0)), {"video_fps": fps}


def write_test_video(path, frames=12, height=48, width=64, seed=0):
    """A short moving-pattern clip written with visionlite.io.write_video (H.264)."""
    from visionlite.io import write_video
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (height + frames * 2, width + frames * 3, 3), dtype=np.uint8)
    base = np.asarray(base, dtype=np.float32)
    # Smooth the noise so the codec keeps it and the motion is visible to an optical-flow model.
    for axis in (0, 1):
        base = (base + np.roll(base, 1, axis) + np.roll(base, -1, axis)) / 3
    video = np.stack([base[2 * t:2 * t + height, 3 * t:3 * t + width] for t in range(frames)])
    video = video.astype(np.uint8)
    write_video(str(path), video, fps=8)
    return path


def run_both(name, state_dir, monkeypatch, loose=(), ours_first=False, **env):
    """Run script ``name`` under PyTorch then visionlite; compare returns and printed text. The keys in
    ``loose`` are uint8 images made from float results: they may differ by one level where a value sits
    on a rounding edge."""
    source = (SCRIPTS / f"{name}.py").read_text()
    assert "visionlite" not in source
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    if ours_first:  # visionlite downloads; TorchVision then finds the files in place
        ours, our_text, _ = run_script(name, rewrite_imports(source), state_dir)
    with monkeypatch.context() as m:
        import types

        import torchvision.io
        m.setattr(torchvision.io, "read_video", torch_read_video, raising=False)
        video_module = types.ModuleType("torchvision.io.video")
        video_module.read_video = torch_read_video
        m.setitem(sys.modules, "torchvision.io.video", video_module)
        m.setattr(torchvision.io, "video", video_module, raising=False)
        theirs, their_text, rtol = run_script(name, source, state_dir)
    if not ours_first:
        ours, our_text, _ = run_script(name, rewrite_imports(source), state_dir)
    # torch.hub announces each download on stdout; visionlite's progress goes elsewhere.
    their_text = "".join(line for line in their_text.splitlines(True) if not line.startswith("Downloading: "))
    for key in loose:
        a, b = np.asarray(ours.pop(key), np.float64), np.asarray(theirs.pop(key), np.float64)
        assert a.shape == b.shape, key
        assert np.abs(a - b).max() <= 1 and np.mean(a != b) < 1e-3, key
    _compare(ours, theirs, rtol)
    _same_text(our_text, their_text, rtol)
    return ours, theirs


def test_optical_flow_raft(local_http_server, homes, monkeypatch):
    tmp = homes
    write_test_video(tmp / "basketball.mp4", height=48, width=64)
    serve_weights(local_http_server, monkeypatch, tmp, "raft_large", "Raft_Large_Weights", "C_T_SKHT_V2",
                  "optical_flow")
    run_both("optical_flow", tmp, monkeypatch, loose=["flow_images", "pil_images"])


def test_video_classification_r3d(local_http_server, homes, monkeypatch):
    tmp = homes
    write_test_video(tmp / "clip.mp4", frames=10, height=48, width=64)
    serve_weights(local_http_server, monkeypatch, tmp, "r3d_18", "R3D_18_Weights", "KINETICS400_V1", "video")
    run_both("video_classification", tmp, monkeypatch)


def test_feature_extraction_docs(tmp_path, monkeypatch):
    run_both("feature_extraction", tmp_path, monkeypatch)


def test_onnx_export_tutorial(tmp_path, monkeypatch):
    require("onnx")
    require("onnxruntime")
    run_both("onnx_super_resolution", tmp_path, monkeypatch)


def serve_datasets(server, monkeypatch, tmp_path):
    """Food101, OxfordIIITPet and Kitti in their official archive layouts on ``server``, with both
    libraries' dataset classes pointed at them."""
    import json

    from tests.helpers.dataset_files import image_bytes, md5, pack, write_files
    tvd = require("torchvision.datasets")
    from visionlite import datasets as vld

    meta = {"train": {}, "test": {}}
    files = {}
    for c, cls in enumerate(["waffles", "apple_pie", "ramen"]):
        for i in range(4):
            files[f"food-101/images/{cls}/{1000 + i}.jpg"] = image_bytes(10 * c + i, (20, 18), fmt="JPEG")
            meta["train" if i < 3 else "test"].setdefault(cls, []).append(f"{cls}/{1000 + i}")
    files.update({f"food-101/meta/{split}.json": json.dumps(content) for split, content in meta.items()})
    food = pack(write_files(tmp_path / "food_src", files), tmp_path / "food-101.tar.gz")
    server.add_file("food-101.tar.gz", food)
    for cls in (tvd.Food101, vld.Food101):
        monkeypatch.setattr(cls, "_URL", server.url("food-101.tar.gz"))
        monkeypatch.setattr(cls, "_MD5", md5(food))

    names = [("Abyssinian_1", 1, 1), ("great_pyrenees_3", 2, 2), ("Abyssinian_7", 1, 1),
             ("yorkshire_terrier_2", 3, 2)]
    images = write_files(tmp_path / "pets_images", {f"images/{n}.jpg": image_bytes(i, (20, 14), fmt="JPEG")
                                                    for i, (n, _, _) in enumerate(names)})
    lines = [f"{n} {c} {s} {i + 1}" for i, (n, c, s) in enumerate(names)]
    anns = write_files(tmp_path / "pets_anns", {
        "annotations/trainval.txt": "\n".join(lines[:3]) + "\n", "annotations/test.txt": lines[3] + "\n",
        **{f"annotations/trimaps/{n}.png": image_bytes(20 + i, (20, 14), mode="L")
           for i, (n, _, _) in enumerate(names)}})
    resources = []
    for folder, name in ((images, "images.tar.gz"), (anns, "annotations.tar.gz")):
        data = pack(folder, tmp_path / name)
        server.add_file(f"pets/{name}", data)
        resources.append((server.url(f"pets/{name}"), md5(data)))
    for cls in (tvd.OxfordIIITPet, vld.OxfordIIITPet):
        monkeypatch.setattr(cls, "_RESOURCES", tuple(resources))

    kitti_lines = ["Pedestrian 0.00 0 -0.20 2.40 3.00 10.73 20.92 1.89 0.48 1.20 1.84 1.47 8.41 0.01",
                   "Car 0.88 3 -0.69 12.00 4.37 30.31 25.00 1.60 1.57 3.23 -2.70 1.74 3.68 -1.29",
                   "Cyclist 0.00 0 -0.20 20.40 1.00 38.73 10.92 1.89 0.48 1.20 1.84 1.47 8.41 0.01"]
    kimg = write_files(tmp_path / "kitti_img", {f"training/image_2/{i:06d}.png": image_bytes(i, (40, 30))
                                                for i in range(3)})
    klbl = write_files(tmp_path / "kitti_lbl", {f"training/label_2/{i:06d}.txt": "\n".join(kitti_lines[i:])
                                                + "\n" for i in range(3)})
    for name, src in (("data_object_image_2.zip", kimg), ("data_object_label_2.zip", klbl)):
        server.add_file(f"kitti/{name}", pack(src, tmp_path / name))
    for cls in (tvd.Kitti, vld.Kitti):
        monkeypatch.setattr(cls, "data_url", server.url("kitti/"))


def test_datasets_dataloader_workers_and_v2_detection(local_http_server, homes, monkeypatch):
    serve_datasets(local_http_server, monkeypatch, homes)
    run_both("datasets_usage", homes, monkeypatch)
    for name in ("food-101", "oxford-iiit-pet", "Kitti"):  # each library downloaded for itself
        assert (homes / "data" / "visionlite" / name).is_dir(), name


def test_video_training_step(tmp_path, monkeypatch):
    run_both("video_training", tmp_path, monkeypatch)


def test_onnx_dynamo_export_tutorial(tmp_path):
    """PyTorch's side needs onnxscript (absent here), so this one runs under visionlite only: the
    tutorial's own assert_close calls compare ONNX Runtime's outputs with the model's."""
    require("onnx")
    require("onnxruntime")
    source = rewrite_imports((SCRIPTS / "onnx_dynamo_export.py").read_text())
    result, text, _ = run_script("onnx_dynamo_export", source, tmp_path)
    assert "PyTorch and ONNX Runtime output matched!" in text
    assert result["ort"].shape == (1, 10) and np.isfinite(result["ort"]).all()
    np.testing.assert_allclose(result["direct"], result["ort"], rtol=1e-6)


def serve_more_datasets(server, monkeypatch, tmp_path):
    """CelebA and WIDERFace (their Google Drive files), Flowers102 and STL10 on ``server`` for visionlite;
    TorchVision reads what visionlite downloaded (the file lists and checksums are patched on both)."""
    from tests.helpers.dataset_files import md5, pack
    from tests.test_datasets_array_files import stl10_files
    from tests.test_datasets_classification_b import _celeba_files
    from visionlite import datasets as vld
    tvd = require("torchvision.datasets")
    sio = require("scipy.io")

    files = _celeba_files(tmp_path / "celeba")
    file_list = []
    for file_id, _, name in vld.CelebA.file_list:
        server.add_file(f"gdrive/{file_id}", files[name])
        file_list.append((file_id, md5(files[name]), name))
    monkeypatch.setattr(vld.CelebA, "_GDRIVE_URL", server.url("gdrive/{}"))
    for cls in (vld.CelebA, tvd.CelebA):
        monkeypatch.setattr(cls, "file_list", file_list)

    from tests.helpers.dataset_files import image_bytes, write_files
    src = write_files(tmp_path / "flowers", {f"jpg/image_{i:05d}.jpg": image_bytes(i, (15, 13), fmt="JPEG")
                                             for i in range(1, 10)})
    sio.savemat(src / "imagelabels.mat", {"labels": np.array([[5, 1, 102, 5, 7, 1, 3, 3, 2]], np.uint8)})
    ids = {"trnid": [[1, 4, 7, 2]], "valid": [[5, 8]], "tstid": [[9, 3, 6]]}
    sio.savemat(src / "setid.mat", {k: np.array(v, np.uint16) for k, v in ids.items()})
    tgz = pack(src / "jpg", tmp_path / "102flowers.tgz", arcroot="jpg")
    served = {}
    for name, blob in [("102flowers.tgz", tgz), ("imagelabels.mat", (src / "imagelabels.mat").read_bytes()),
                       ("setid.mat", (src / "setid.mat").read_bytes())]:
        server.add_file(f"flowers/{name}", blob)
        served[name] = md5(blob)
    monkeypatch.setattr(vld.Flowers102, "_download_url_prefix", server.url("flowers/"))
    file_dict = {k: (name, served[name]) for k, (name, _) in vld.Flowers102._file_dict.items()}
    for cls in (vld.Flowers102, tvd.Flowers102):
        monkeypatch.setattr(cls, "_file_dict", file_dict)

    stl = stl10_files(np.random.default_rng(3), tmp_path / "stl_src")
    blob = pack(tmp_path / "stl_src", tmp_path / "stl10_binary.tar.gz")
    server.add_file("stl10_binary.tar.gz", blob)
    checks = {name: md5((stl / name).read_bytes()) for name in
              ("train_X.bin", "train_y.bin", "unlabeled_X.bin", "test_X.bin", "test_y.bin")}
    for cls in (vld.STL10, tvd.STL10):
        monkeypatch.setattr(cls, "train_list", [[n, checks[n]] for n in ("train_X.bin", "train_y.bin",
                                                                          "unlabeled_X.bin")])
        monkeypatch.setattr(cls, "test_list", [[n, checks[n]] for n in ("test_X.bin", "test_y.bin")])
    monkeypatch.setattr(vld.STL10, "url", server.url("stl10_binary.tar.gz"))
    monkeypatch.setattr(vld.STL10, "tgz_md5", md5(blob))

    from tests.test_datasets_scenes import widerface_sources
    zips = widerface_sources(tmp_path / "wider", np.random.default_rng(2))
    file_list = []
    for file_id, _, name in vld.WIDERFace.FILE_LIST:
        server.add_file(f"drive/{file_id}", zips[name])
        file_list.append((file_id, md5(zips[name]), name))
    server.add_file("wider_face_split.zip", zips["wider_face_split.zip"])
    for cls in (vld.WIDERFace, tvd.WIDERFace):
        monkeypatch.setattr(cls, "FILE_LIST", file_list)
    monkeypatch.setattr(vld.WIDERFace, "_DRIVE_URL", server.url("drive/{}"))
    monkeypatch.setattr(vld.WIDERFace, "ANNOTATIONS_FILE", (server.url("wider_face_split.zip"),
                                                            md5(zips["wider_face_split.zip"]),
                                                            "wider_face_split.zip"))


def test_more_datasets_through_worker_loaders(local_http_server, homes, monkeypatch):
    serve_more_datasets(local_http_server, monkeypatch, homes)
    run_both("datasets_more", homes, monkeypatch, ours_first=True)


def _module_chains(source):
    """``(alias, dotted name)`` for each attribute chain in ``source`` rooted at an imported torch or
    torchvision module (``import torch.nn as nn`` roots ``nn.*`` at ``torch.nn``)."""
    import ast
    TOP = ("torch", "torchvision")
    tree = ast.parse(source)
    roots = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in TOP:
                    roots[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in TOP:
            for a in node.names:
                roots[a.asname or a.name] = f"{node.module}.{a.name}"
    chains = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            parts, cur = [], node
            while isinstance(cur, ast.Attribute):
                parts.append(cur.attr)
                cur = cur.value
            if isinstance(cur, ast.Name) and cur.id in roots:
                chains.add(".".join([roots[cur.id], *reversed(parts)]))
    return chains


def test_every_torch_name_the_scripts_use_resolves():
    """Each ``torch.x.y`` / ``torchvision.x.y`` the scripts reach through an imported module name exists
    in visionlite under the same path (what ``import visionlite as torch`` needs), and is importable
    where the script imports it."""
    import importlib
    chains = set()
    for path in sorted(SCRIPTS.glob("*.py")):
        chains |= _module_chains(path.read_text())
    missing = []
    for chain in sorted(chains):
        parts = chain.replace("torchvision", "visionlite", 1).replace("torch", "visionlite", 1).split(".")
        obj = importlib.import_module(parts[0])
        for i, part in enumerate(parts[1:], 1):
            if not hasattr(obj, part):
                try:
                    obj = importlib.import_module(".".join(parts[:i + 1]))
                    continue
                except ImportError:
                    missing.append(chain)
                    break
            obj = getattr(obj, part)
    assert not missing, missing
    assert len(chains) > 100
