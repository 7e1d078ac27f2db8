"""Fault cases for the modules that landed with video io, flow files, the new datasets, ONNX export, fx
feature extraction, fine-tuned checkpoints and the model summary: each bad input must end in an error of
the right type whose message names the thing and the fix, with nothing half-written left behind.
Hostile servers are tests/helpers/fault_server.py on 127.0.0.1; references come from torch/TorchVision."""
import hashlib
import io
import os
import pickle
import re
import struct
import sys
import tarfile
import warnings

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.fault_server import FaultServer
from tests.helpers.refs import require
from visionlite import download as dl
from visionlite import nn


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(dl, "BACKOFF_BASE", 0.001)


def _files(folder):
    return sorted(os.path.relpath(os.path.join(d, n), folder)
                  for d, dirs, files in os.walk(folder) for n in dirs + files)


# -------------------------------------------------------------------------------------------- video io
@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    pytest.importorskip("av")
    from visionlite.io import write_video

    frames = (np.random.default_rng(0).random((6, 32, 48, 3)) * 255).astype(np.uint8)
    path = tmp_path_factory.mktemp("clip") / "ok.mp4"
    write_video(str(path), frames, 5)
    return frames, path.read_bytes()


def test_read_video_of_missing_empty_and_non_video_files(tmp_path, clip):
    from visionlite.io import VideoReader, read_video, read_video_timestamps

    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        read_video(str(tmp_path / "nope.mp4"), pts_unit="sec")
    with pytest.raises(IsADirectoryError, match="not a video file"):
        read_video(str(tmp_path), pts_unit="sec")
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_bytes(b"plain text, not a video\n" * 50)
    _, data = clip
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 3 // 4])  # moov (the index) is at the end: lost
    for name in ("empty.mp4", "text.mp4", "cut.mp4"):
        path = str(tmp_path / name)
        for read in (lambda p: read_video(p, pts_unit="sec"), read_video_timestamps, VideoReader):
            with pytest.raises(ValueError, match=f"cannot read video {path}: FFmpeg cannot parse it"):
                read(path)
    with pytest.raises(ValueError, match="in-memory video"):
        VideoReader(b"\x00\x01garbage")
    with pytest.raises(ValueError, match="output_format should be either 'THWC' or 'TCHW', got 3"):
        read_video(path, output_format=3)


def test_truncated_mkv_keeps_the_frames_before_the_cut(tmp_path, clip):
    # Matroska writes its header first: a file cut short keeps the frames before the cut, no crash
    from visionlite.io import read_video, write_video

    frames, _ = clip
    whole = tmp_path / "fs.mkv"
    write_video(str(whole), frames, 5)
    data = whole.read_bytes()
    cut = tmp_path / "fs_cut.mkv"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = read_video(str(whole), pts_unit="sec")[0]
        part = read_video(str(cut), pts_unit="sec")[0]
    assert full.shape[0] == len(frames)
    assert part.shape[0] < len(frames) and tuple(part.shape[1:]) == (32, 48, 3)
    from visionlite.io import VideoReader

    with VideoReader(str(cut)) as reader:  # frame by frame: stops at the cut, no error mid-iteration
        assert [tuple(f["data"].shape) for f in reader] == [(3, 32, 48)] * part.shape[0]


def test_read_video_stops_at_the_decoded_bytes_budget(tmp_path, clip, monkeypatch):
    # a file claiming (or holding) more frames than memory allows: refused at the budget, not after
    from visionlite.io import read_video, video

    _, data = clip
    path = tmp_path / "ok.mp4"
    path.write_bytes(data)
    monkeypatch.setattr(video, "MAX_DECODED_BYTES", 2 * 32 * 48 * 3)
    with pytest.raises(MemoryError, match="MAX_DECODED_BYTES = 9216 bytes; read a part with start_pts"):
        read_video(str(path), pts_unit="sec")


@pytest.mark.parametrize("size", ["W100000 H100000", "W16000 H16000"])
def test_huge_claimed_frame_size_is_not_allocated(tmp_path, size):
    # a 250-byte YUV4MPEG file whose header claims 16000x16000 (384 MB a frame) or more
    pytest.importorskip("av")
    import resource

    from visionlite.io import read_video

    path = tmp_path / "huge.y4m"
    path.write_bytes(f"YUV4MPEG2 {size} F25:1 Ip A1:1 C420jpeg\nFRAME\n".encode() + bytes(200))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            frames = read_video(str(path), pts_unit="sec")[0]
        except ValueError as e:  # FFmpeg refuses the header: the error names the file
            assert f"cannot read video {path}" in str(e)
        else:
            assert frames.shape[0] == 0  # no frame decodes from 200 bytes
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 150, f"peak memory grew by {grown_mb:.0f} MiB"


def test_write_video_bad_arrays_and_arguments(tmp_path, clip):
    from visionlite.io import write_video

    frames, _ = clip
    bad = [
        (dict(video_array=frames[..., :2]), ValueError, r"must be \[T, H, W, 3\].*\(6, 32, 48, 2\)"),
        (dict(video_array=frames.transpose(0, 3, 1, 2)), ValueError, r"\(6, 3, 32, 48\)"),
        (dict(video_array=frames[:0]), ValueError, "no frames"),
        (dict(video_array="abc"), ValueError, r"got shape \(\)"),
        (dict(fps=0), ValueError, "fps must be a positive number"),
        (dict(fps=-3), ValueError, "fps must be a positive number"),
        (dict(video_codec="no_such_codec"), ValueError, "no encoder named 'no_such_codec'"),
        (dict(video_array=frames[:, :31, :47]), ValueError, "needs an even height and width, got 31x47"),
        (dict(audio_array=np.zeros(100, np.float32), audio_fps=8000, audio_codec="aac"), ValueError,
         r"audio_array must be \[channels, samples\]"),
        (dict(audio_array=np.zeros((1, 100), np.float32)), ValueError, "needs audio_fps"),
    ]
    for i, (change, kind, message) in enumerate(bad):
        kwargs = dict(filename=str(tmp_path / f"v{i}.mp4"), video_array=frames, fps=5) | change
        with pytest.raises(kind, match=message):
            write_video(**kwargs)
    with pytest.raises(ValueError, match="no container for the extension '.xyz'"):
        write_video(str(tmp_path / "v.xyz"), frames, 5)
    with pytest.raises(ValueError, match="no container for the extension ''"):
        write_video(str(tmp_path / "v"), frames, 5)
    assert _files(tmp_path) == []  # no partial or temporary file


def test_write_video_warns_on_unit_range_floats(tmp_path, clip):
    from visionlite.io import write_video

    frames, _ = clip
    with pytest.warns(UserWarning, match="floats in \\[0, 1\\].*Multiply by 255"):
        write_video(str(tmp_path / "f.mp4"), frames.astype(np.float32) / 255, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_video(str(tmp_path / "g.mp4"), frames.astype(np.float32), 5)  # 0..255 floats: as TorchVision


def test_write_video_to_a_missing_or_unwritable_folder(tmp_path, clip):
    from visionlite.io import write_video

    frames, _ = clip
    (tmp_path / "a_file").write_bytes(b"x")
    for target in (tmp_path / "missing" / "v.mp4", tmp_path / "a_file" / "v.mp4"):
        with pytest.raises(FileNotFoundError, match=f"cannot write {target}: the folder .* does not exist"):
            write_video(str(target), frames, 5)
    assert _files(tmp_path) == ["a_file"]


def test_write_video_failing_midway_keeps_the_old_file(tmp_path, clip, monkeypatch):
    import av

    from visionlite.io import write_video

    frames, data = clip
    target = tmp_path / "v.mp4"
    target.write_bytes(data)
    calls = []
    real = av.VideoFrame.from_ndarray

    def fail_on_the_fourth_frame(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt  # a user's Ctrl-C while encoding
        return real(*args, **kwargs)

    monkeypatch.setattr(av.VideoFrame, "from_ndarray", fail_on_the_fourth_frame)
    with pytest.raises(KeyboardInterrupt):
        write_video(str(target), frames[::-1].copy(), 5)
    assert target.read_bytes() == data  # the previous video, whole
    assert _files(tmp_path) == ["v.mp4"]  # and no temporary file


# ------------------------------------------------------------------------------------- flow / PFM files
def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("data, message", [
    (b"PIEH" + struct.pack("<ii", 2**30, 2**30), "header says 1073741824x1073741824"),
    (b"PIEH" + struct.pack("<ii", -5, 3), "header says -5x3"),
    (b"PIEH" + struct.pack("<ii", 4, 4) + bytes(20), r"needs 140 bytes, the file has 32 \(truncated\?\)"),
    (b"PIE", "does not start with b'PIEH'"),
    (b"", "does not start with b'PIEH'"),
])
def test_flo_headers_are_checked_before_allocating(tmp_path, data, message):
    from visionlite.datasets import _flow_io

    path = _write(tmp_path, "f.flo", data)
    with pytest.raises(ValueError, match=message) as info:
        _flow_io.read_flo(path)
    assert path in str(info.value)


@pytest.mark.parametrize("data, message", [
    (b"PF\n99999999 99999999\n-1.0\n", "header says 99999999x99999999"),
    (b"Pf\n2 2\nnan\n" + bytes(16), "the scale is nan"),
    (b"Pf\n2 2\ninf\n" + bytes(16), "the scale is inf"),
    (b"Pf\n2 2\n-1e400\n" + bytes(16), "the scale is -inf"),
    (b"Pf\n2 2\n0\n" + bytes(16), "the scale is 0.0"),
    (b"PF\n4 4\n-1.0\n" + bytes(16), "needs 192 bytes of data, the file has 16"),
    (b"PF\nab cd\n-1.0\n", "second line must be '<width> <height>'"),
    (b"PF\n" + b"1" * 10**6, "second line must be '<width> <height>'"),  # one endless line: read bounded
    (b"PF\n4 4\n", "third line must be a number"),
    (b"", "the first line is b'', not PF or Pf"),
    (bytes(range(256)) * 4, "not PF or Pf"),
])
def test_pfm_headers_are_checked_before_allocating(tmp_path, data, message):
    from visionlite.datasets import _flow_io

    path = _write(tmp_path, "d.pfm", data)
    with pytest.raises(ValueError, match=message) as info:
        _flow_io.read_pfm(path)
    assert path in str(info.value)


def test_pfm_and_flo_round_trip_as_torchvision_reads_them(tmp_path):
    # the checks refuse damage only: well-formed files still read as TorchVision's readers do
    require("torchvision")
    from torchvision.datasets import _optical_flow as tv_flow

    from visionlite.datasets import _flow_io

    flow = np.random.default_rng(1).standard_normal((2, 5, 7)).astype(np.float32)
    _flow_io.write_flo(tmp_path / "a.flo", flow)
    _flow_io.write_pfm(tmp_path / "a.pfm", flow, little_endian=False)
    for name, ours, theirs in (("a.flo", _flow_io.read_flo, tv_flow._read_flo),
                               ("a.pfm", _flow_io.read_pfm, tv_flow._read_pfm)):
        np.testing.assert_array_equal(ours(tmp_path / name), theirs(tmp_path / name))


def test_16bit_png_flow_damage_names_the_file(tmp_path):
    from visionlite.datasets import _flow_io

    path = _write(tmp_path, "f.png", b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ValueError, match=f"cannot read the 16-bit flow PNG {path}: .*truncated or corrupt"):
        _flow_io.read_16bit_png_flow(path)
    with pytest.raises(ValueError, match="no such file"):
        _flow_io.read_16bit_png_flow(tmp_path / "missing.png")


# ---------------------------------------------------------------------------- datasets: download + extract
def _tar(entries):
    """A .tar.gz of ``(name, data, kind)``: kind "f" a file, "sym"/"hard" a link to ``data``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data, kind in entries:
            info = tarfile.TarInfo(name)
            if kind == "f":
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname = data
                tar.addfile(info)
    return buf.getvalue()


def _jpeg():
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(buf, "JPEG")
    return buf.getvalue()


_DTD_OK = [("dtd/images/banded/banded_0001.jpg", None, "f"),
           ("dtd/labels/train1.txt", b"banded/banded_0001.jpg\n", "f")]


def _dtd_entries(*extra):
    return [(n, _jpeg() if d is None else d, k) for n, d, k in _DTD_OK] + list(extra)


@pytest.fixture
def server():
    with FaultServer() as s:
        yield s


@pytest.mark.parametrize("case, error, message", [
    ("traversal", "UnsafeArchiveError", "entry '../../evil.txt' has a '..' path component"),
    ("absolute", "UnsafeArchiveError", "is an absolute path"),
    ("symlink", "UnsafeArchiveError", "is a symlink pointing outside the extraction folder"),
    ("relative_symlink", "UnsafeArchiveError", "is a symlink pointing outside the extraction folder"),
    ("hardlink", "UnsafeArchiveError", "is a hard link pointing outside the extraction folder"),
    ("bomb", "ArchiveTooLargeError", "decompression bomb"),
    ("truncated", "CorruptArchiveError", "is truncated or corrupt .*delete it and download it again"),
    ("garbage", "CorruptArchiveError", "is truncated or corrupt"),
])
def test_dataset_archive_attacks_through_download(server, tmp_path, monkeypatch, case, error, message):
    from visionlite import datasets
    from visionlite.datasets import utils as dsu

    outside = tmp_path / "outside"
    extra = {"traversal": [("../../evil.txt", b"evil", "f")],
             "absolute": [(str(outside / "evil.txt"), b"evil", "f")],
             "symlink": [("dtd/images/link", "/etc/passwd", "sym")],
             "relative_symlink": [("dtd/link", "../../../etc", "sym")],
             "hardlink": [("dtd/hl", "/etc/passwd", "hard")],
             "bomb": [("dtd/zeros.bin", bytes(8 << 20), "f")]}.get(case, [])
    data = _tar(_dtd_entries(*extra))
    if case == "truncated":
        data = data[:-200]
    elif case == "garbage":
        data = b"<not a tar archive>" * 100
    monkeypatch.setattr(datasets.DTD, "_URL", server.serve(f"{case}/dtd-r1.0.1.tar.gz", data))
    monkeypatch.setattr(datasets.DTD, "_MD5", hashlib.md5(data).hexdigest())
    root = tmp_path / "root"
    with pytest.raises(getattr(dsu, error), match=message) as info:
        datasets.DTD(root, download=True)
    assert "dtd-r1.0.1.tar.gz" in str(info.value)  # names the archive
    # nothing extracted (the verified archive stays for inspection); nothing outside the root
    assert _files(root) == ["dtd", "dtd/dtd-r1.0.1.tar.gz"]
    assert not outside.exists() and not (tmp_path / "evil.txt").exists()


def test_dataset_download_md5_mismatch_and_html_page(server, tmp_path, monkeypatch):
    from visionlite import datasets

    data = _tar(_dtd_entries())
    monkeypatch.setattr(datasets.DTD, "_URL", server.serve("md5/dtd-r1.0.1.tar.gz", data))
    monkeypatch.setattr(datasets.DTD, "_MD5", "0" * 32)
    with pytest.raises(dl.HashMismatchError, match="does not match its expected md5 hash.*it was deleted"):
        datasets.DTD(tmp_path / "a", download=True)
    assert _files(tmp_path / "a") == ["dtd"]
    # a login or quota page served in place of the archive
    monkeypatch.setattr(datasets.DTD, "_URL", server.serve("html/dtd-r1.0.1.tar.gz", mode="html"))
    with pytest.raises(dl.DownloadError, match="returned an HTML page instead of the file"):
        datasets.DTD(tmp_path / "b", download=True)
    assert _files(tmp_path / "b") == ["dtd"]
    # the good archive then works, and the dataset pickles for DataLoader workers
    monkeypatch.setattr(datasets.DTD, "_URL", server.serve("ok/dtd-r1.0.1.tar.gz", data))
    monkeypatch.setattr(datasets.DTD, "_MD5", hashlib.md5(data).hexdigest())
    ds = datasets.DTD(tmp_path / "b", download=True)
    clone = pickle.loads(pickle.dumps(ds))
    assert len(clone) == len(ds) == 1 and clone[0][1] == ds[0][1] == 0
    assert np.array_equal(np.asarray(clone[0][0]), np.asarray(ds[0][0]))


def test_google_drive_quota_page_names_the_manual_route(server, tmp_path, monkeypatch):
    from visionlite import datasets

    server.serve("drive", mode="html")
    monkeypatch.setattr(datasets.CelebA, "_GDRIVE_URL", server.url("drive") + "?id={}")
    with pytest.raises(RuntimeError, match="could not be fetched from Google Drive.*HTML page.*by hand"):
        datasets.CelebA(tmp_path, download=True)
    assert _files(tmp_path) == ["celeba"]  # no HTML saved under an archive's name


def test_damaged_split_list_names_the_file(tmp_path):
    from visionlite import datasets

    labels = tmp_path / "dtd" / "dtd" / "labels"
    labels.mkdir(parents=True)
    (tmp_path / "dtd" / "dtd" / "images").mkdir()
    with pytest.raises(RuntimeError, match=r"DTD not found.*train1\.txt"):
        datasets.DTD(tmp_path)  # the split's list is missing
    (labels / "train1.txt").write_text("banded/banded_0001.jpg\nno_slash_here\n")
    with pytest.raises(ValueError, match="train1.txt line 'no_slash_here' is not '<class>/<image>.jpg'"):
        datasets.DTD(tmp_path)


@pytest.mark.parametrize("name, kwargs, argument", [
    ("DTD", {"split": "trian"}, "split"), ("Food101", {"split": "val"}, "split"),
    ("Flowers102", {"split": "valid"}, "split"), ("GTSRB", {"split": "tst"}, "split"),
    ("StanfordCars", {"split": "x"}, "split"), ("FGVCAircraft", {"split": "x"}, "split"),
    ("Country211", {"split": "x"}, "split"), ("CelebA", {"target_type": "atr"}, "target_type"),
    ("Cityscapes", {"mode": "x"}, "mode"), ("WIDERFace", {"split": "x"}, "split"),
    ("SBDataset", {"image_set": "x"}, "image_set"), ("PCAM", {"split": "x"}, "split"),
    ("Places365", {"split": "x"}, "split"), ("INaturalist", {"version": "2099"}, "version"),
    ("LFWPairs", {"image_set": "x"}, "image_set"), ("FER2013", {"split": "x"}, "split"),
    ("Imagenette", {"size": "x"}, "size"), ("STL10", {"split": "x"}, "split"),
    ("RenderedSST2", {"split": "x"}, "split"), ("OxfordIIITPet", {"target_types": "x"}, "target_types"),
    ("MovingMNIST", {"split": "x"}, "split"), ("QMNIST", {"what": "x"}, "what"),
    ("CLEVRClassification", {"split": "x"}, "split"), ("Caltech101", {"target_type": "x"}, "target_type"),
    ("ImageNet", {"split": "x"}, "split"), ("FlyingChairs", {"split": "x"}, "split"),
    ("Sintel", {"pass_name": "x"}, "pass_name"), ("FlyingThings3D", {"camera": "x"}, "camera"),
    ("Kitti2012Stereo", {"split": "x"}, "split"), ("SceneFlowStereo", {"variant": "x"}, "variant"),
])
def test_wrong_argument_values_are_named_as_torchvision_names_them(tmp_path, name, kwargs, argument):
    # verify_str_arg's message, the same text as TorchVision's, with every valid value
    from visionlite import datasets

    value = next(iter(kwargs.values()))
    with pytest.raises(ValueError, match=f"Unknown value '{value}' for argument {argument}"
                                         r"( if mode is '\w+')?\. Valid values are \{'"):
        getattr(datasets, name)(tmp_path, **kwargs)
    # refused before writing anything (Caltech101 makes its empty folder first, as TorchVision's does)
    assert not [f for f in _files(tmp_path) if (tmp_path / f).is_file()]


@pytest.mark.parametrize("module, name, extra", [("lmdb", "LSUN", "visionlite[lmdb]"),
                                                 ("h5py", "PCAM", "visionlite[hdf5]")])
def test_missing_optional_package_names_the_extra(tmp_path, monkeypatch, module, name, extra):
    from visionlite import datasets

    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    if name == "LSUN":
        (tmp_path / "bedroom_train_lmdb").mkdir()
        (tmp_path / "bedroom_train_lmdb" / "data.mdb").write_bytes(b"x")
        make = lambda: datasets.LSUN(tmp_path, classes=["bedroom_train"])  # noqa: E731
    else:
        (tmp_path / "pcam").mkdir()
        for part in ("x", "y"):
            (tmp_path / "pcam" / f"camelyonpatch_level_2_split_train_{part}.h5").write_bytes(b"x")
        make = lambda: len(datasets.PCAM(tmp_path))  # noqa: E731
    with pytest.raises(RuntimeError, match=re.escape(f'not installed: pip install "{extra}"')):
        make()


# ------------------------------------------------------------------------- fine-tuned checkpoints + CLI
@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    from PIL import Image

    path = tmp_path_factory.mktemp("img") / "cat.png"
    Image.new("RGB", (40, 30), (10, 120, 200)).save(path)
    return path


def _classify(*args):
    import contextlib

    from visionlite.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(["classify", *map(str, args)])
    return code, err.getvalue()


def test_finetuned_checkpoint_faults(tmp_path, image_file):
    from visionlite.models import load_finetuned, squeezenet1_1

    weights = squeezenet1_1(num_classes=3).state_dict()
    good = {"model": weights, "model_name": "squeezenet1_1", "classes": ["a", "b", "c"]}
    cases = {
        "corrupt.pt": (b"PK\x03\x04" + b"\x00" * 64, ValueError, "cannot read it .*truncated or corrupt"),
        "plain.pt": ({"conv.weight": vl.zeros(3)}, ValueError,
                     "is not a scripts/finetune.py checkpoint: it lacks model, model_name, classes .*"
                     "build the model and call load_state_dict"),
        "wrong_classes.pt": (good | {"classes": ["a", "b"]}, ValueError,
                             "(?s)do not fit a squeezenet1_1 with 2 classes .*size mismatch"),
        "classes_int.pt": (good | {"classes": 3}, ValueError, "'classes' must be a non-empty list"),
        "weights_none.pt": (good | {"model": None}, ValueError, "'model' must be the model's state dict"),
        "transform.pt": (good | {"transform": {"crop_sz": 3}}, ValueError,
                         r"unknown ImageClassification arguments \['crop_sz'\]"),
        "unknown_model.pt": (good | {"model_name": "resnet1888"}, ValueError, "Unknown model 'resnet1888'"),
    }
    for name, (content, kind, message) in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            vl.save(content, path)
        with pytest.raises(kind, match=message):
            load_finetuned(path)
        code, err = _classify(image_file, "--checkpoint", path)
        assert code == 2 and name in err and "Traceback" not in err, err
    with pytest.raises(FileNotFoundError, match="missing.pt: no such file"):
        load_finetuned(tmp_path / "missing.pt")
    code, err = _classify(image_file, "--checkpoint", tmp_path / "missing.pt")
    assert code == 2 and "missing.pt: no such file" in err
    vl.save(good, tmp_path / "good.pt")  # the control: a whole checkpoint classifies
    assert _classify(image_file, "--checkpoint", tmp_path / "good.pt")[0] == 0


# ------------------------------------------------------------------------------ fx / feature extraction
class _Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        y = self.conv(x)
        if y.sum() > 0:  # data-dependent control flow
            return y
        return -y


class _Looping(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        for _ in range(x.shape[0]):  # a traced size used as a Python int
            x = x + 1
        return self.conv(x)


def test_unknown_return_node_lists_close_matches():
    from visionlite.models import resnet18
    from visionlite.models.feature_extraction import create_feature_extractor

    model = resnet18()
    with pytest.raises(ValueError, match=r"'layer1.0.conv' is not present in model \(train mode\).*"
                                         r"e\.g\. \['layer1\.0\.conv[12]', 'layer1\.0\.conv[12]'"):
        create_feature_extractor(model, return_nodes=["layer1.0.conv"])
    with pytest.raises(ValueError, match=r"'layr4' is not present .*e\.g\. \['layer4'"):
        create_feature_extractor(model, return_nodes={"layr4": "out"})
    with pytest.raises(TypeError, match="return_nodes must be a list of node names or a dict"):
        create_feature_extractor(model, return_nodes=3)


@pytest.mark.parametrize("cls, what, line", [
    (_Branchy, "cannot be used as inputs to control flow", "if y.sum() > 0:"),
    (_Looping, "cannot be used as a Python int", "for _ in range(x.shape[0]):"),
])
def test_data_dependent_control_flow_names_the_line(cls, what, line):
    from visionlite import fx
    from visionlite.models.feature_extraction import create_feature_extractor, get_graph_node_names

    where = re.escape(f"(at {__file__}:") + r"\d+" + re.escape(f", in forward: {line}")
    for trace in (lambda m: create_feature_extractor(m, return_nodes=["conv"]), get_graph_node_names,
                  fx.symbolic_trace):
        with pytest.raises(fx.TraceError, match=f"{what}.*{where}"):
            trace(cls())
    # torch.fx refuses the same branch (its message lacks the line)
    torch = require("torch")

    class TorchBranchy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 3, 1)

        def forward(self, x):
            y = self.conv(x)
            return y if y.sum() > 0 else -y

    with pytest.raises(torch.fx.proxy.TraceError, match="cannot be used as inputs to control flow"):
        torch.fx.symbolic_trace(TorchBranchy())


# ------------------------------------------------------------------------------------------- summary
class _Raiser(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Sequential(nn.Conv2d(3, 3, 1), _Boom())

    def forward(self, x):
        return self.inner(x)


class _Boom(nn.Module):
    def forward(self, x):
        raise KeyError("boom inside")


def test_summary_model_that_raises_names_the_layer_and_cleans_up():
    from visionlite.utils import summary

    model = _Raiser()
    expected = re.escape("summary: _Raiser failed in layer 'inner.1' (_Boom) on input(s) of shape "
                         "[[1, 3, 8, 8]]: ")
    with pytest.raises(RuntimeError, match=expected + "KeyError: 'boom inside'") as info:
        summary(model, (1, 3, 8, 8), verbose=0)
    assert isinstance(info.value.__cause__, KeyError)  # the model's own error, chained
    for m in model.modules():  # no hook left behind: the model runs as before
        assert not m._forward_hooks and not m._forward_pre_hooks
    assert model.training
    assert summary(nn.Conv2d(3, 4, 3), (1, 3, 8, 8), verbose=0).total_params == 4 * 3 * 9 + 4


@pytest.mark.parametrize("kwargs, message", [
    (dict(input_size="1,3,32,32"), "input_size must be a shape of ints"),
    (dict(input_size=(1, 3, 32.5, 32)), "input_size must be a shape of ints"),
    (dict(input_size=[(1, 3, 8, 8), "x"]), "input_size must be a shape of ints"),
    (dict(input_size=()), "input_size must be a shape of ints"),
    (dict(input_size=(1, 3, -2, 32)), r"input_size \(1, 3, -2, 32\) has a size <= 0"),
    (dict(input_size=(1, 3, 8, 8), dtypes=[vl.float32, vl.float32]), "2 dtypes for 1 input sizes"),
    (dict(input_size=(1, 3, 8, 8), depth=-1), "depth must be an int >= 0"),
    (dict(input_size=(1, 3, 8, 8), col_names=("output_sise",)), r"unknown col_names \['output_sise'\]"),
    (dict(), "pass input_size"),
])
def test_summary_argument_typos(kwargs, message):
    from visionlite.utils import summary

    with pytest.raises(ValueError, match=message):
        summary(nn.Conv2d(3, 4, 3), verbose=0, **kwargs)
    with pytest.raises(TypeError, match="unexpected keyword argument 'input_sizes'"):
        summary(nn.Conv2d(3, 4, 3), input_sizes=(1, 3, 8, 8))


# ------------------------------------------------------------------------ 3-D layers, RAFT, video models
def _same_error(ours, theirs, kind):
    """Both raise ``kind``; returns the two messages."""
    with pytest.raises(kind) as mine:
        ours()
    with pytest.raises(kind) as ref:
        theirs()
    return str(mine.value), str(ref.value)


@pytest.mark.parametrize("layer, args, shape", [
    ("Conv3d", (3, 4, 3), (8, 8, 8)), ("ConvTranspose3d", (3, 4, 3), (3, 8, 8)),
    ("MaxPool3d", (2,), (8, 8, 8)), ("AvgPool3d", (2,), (8, 8)), ("AdaptiveAvgPool3d", (2,), (8, 8)),
    ("AdaptiveMaxPool3d", (2,), (8, 8)), ("BatchNorm3d", (3,), (1, 3, 8, 8)),
])
def test_3d_layers_wrong_rank_as_torch(layer, args, shape):
    torch = require("torch")
    kind = ValueError if layer == "BatchNorm3d" else RuntimeError
    ours, theirs = _same_error(lambda: getattr(nn, layer)(*args)(vl.zeros(*shape)),
                               lambda: getattr(torch.nn, layer)(*args)(torch.zeros(*shape)), kind)
    assert "5D" in ours and "5D" in theirs
    assert str(list(shape)) in ours or f"{len(shape)}D input" in ours  # names what it got


def test_3d_conv_channel_and_size_errors_as_torch():
    torch = require("torch")
    ours, theirs = _same_error(lambda: nn.Conv3d(3, 4, 3)(vl.zeros(1, 2, 8, 8, 8)),
                               lambda: torch.nn.Conv3d(3, 4, 3)(torch.zeros(1, 2, 8, 8, 8)), RuntimeError)
    assert "3 channels" in ours and "got 2 channels" in ours and "2 channels" in theirs
    ours, theirs = _same_error(lambda: nn.Conv3d(3, 4, 3)(vl.zeros(1, 3, 2, 8, 8)),
                               lambda: torch.nn.Conv3d(3, 4, 3)(torch.zeros(1, 3, 2, 8, 8)), RuntimeError)
    assert "(2 x 8 x 8)" in ours and "(3 x 3 x 3)" in ours and "(2 x 8 x 8)" in theirs
    ours, theirs = _same_error(
        lambda: vl.nn.functional.interpolate(vl.zeros(1, 3, 8, 8), scale_factor=2, mode="trilinear"),
        lambda: torch.nn.functional.interpolate(torch.zeros(1, 3, 8, 8), scale_factor=2, mode="trilinear"),
        NotImplementedError)
    assert ours.lower() == theirs.lower().replace("got", "interpolate: got")


def test_raft_input_checks_as_torchvision():
    torch = require("torch")
    tv = require("torchvision")
    from visionlite.models.optical_flow import raft_small

    ours, theirs = raft_small().eval(), tv.models.optical_flow.raft_small().eval()
    for a, b in (((1, 3, 60, 60), (1, 3, 60, 60)), ((1, 3, 63, 64), (1, 3, 63, 64)),
                 ((1, 3, 64, 64), (1, 3, 64, 72)), ((3, 64, 64), (3, 64, 64))):
        with vl.no_grad(), torch.no_grad():
            mine, ref = _same_error(lambda: ours(vl.rand(*a), vl.rand(*b), num_flow_updates=1),  # noqa: B023
                                    lambda: theirs(torch.rand(*a), torch.rand(*b), num_flow_updates=1),  # noqa: B023
                                    ValueError)
        assert mine == ref.replace("torch.Size([64, 72])", "(64, 72)"), (mine, ref)


def test_video_model_wrong_clip_shape_as_torchvision():
    torch = require("torch")
    tv = require("torchvision")
    from visionlite.models.video import r3d_18

    ours, theirs = r3d_18().eval(), tv.models.video.r3d_18().eval()
    with vl.no_grad(), torch.no_grad():
        # [T, C, H, W] frames in place of a [N, C, T, H, W] clip: the stem names the channels
        mine, ref = _same_error(lambda: ours(vl.rand(1, 4, 3, 16, 16)),
                                lambda: theirs(torch.rand(1, 4, 3, 16, 16)), RuntimeError)
        assert "expected input with 3 channels" in mine and "got 4 channels" in mine and "4 channels" in ref
        mine, ref = _same_error(lambda: ours(vl.rand(3, 4, 16, 16)), lambda: theirs(torch.rand(3, 4, 16, 16)),
                                ValueError)  # unbatched: the first BatchNorm3d refuses 4-D
        assert "expected 5D input (got 4D input" in mine and "expected 5D input (got 4D input)" in ref


# ----------------------------------------------------------------------------------------- ONNX export
class _Double(vl.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad * 2


class _Custom(nn.Module):
    def forward(self, x):
        return _Double.apply(x) + 1


def _nested(inner):
    return nn.Sequential(nn.Conv2d(3, 3, 1), nn.Sequential(nn.ReLU(), inner))


def test_onnx_unsupported_op_names_the_op_and_the_module(tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    from visionlite.onnx import ExportError, _ops, export

    x = vl.randn(2, 3, 8, 8)
    monkeypatch.delitem(_ops.CONVERTERS, "Relu")
    with pytest.raises(ExportError, match=r"the op Relu\w* \(core/ops\) has no ONNX converter yet; it was "
                                          r"reached in 1\.0 \(ReLU\) with an input of shape \[2, 3, 8, 8\]"):
        export(_nested(nn.Identity()), (x,), tmp_path / "m.onnx")
    monkeypatch.undo()
    with pytest.raises(ExportError, match=r"cannot record \(a custom autograd Function.*\(the op \w+ in 1\.1 "
                                          r"\(_Custom\)\)"):
        export(_nested(_Custom()), (x,), tmp_path / "m.onnx")
    assert _files(tmp_path) == []


class _Returns(nn.Module):
    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, x):
        return self.value if not callable(self.value) else self.value(x)


@pytest.mark.parametrize("value, name", [(3, "int"), (None, "NoneType"), ("x", "str"),
                                         (lambda x: (x * 2, [x + 1, 7]), "int")])
def test_onnx_non_tensor_outputs(tmp_path, value, name):
    pytest.importorskip("onnx")
    from visionlite.onnx import ExportError, export

    with pytest.raises(ExportError, match=f"the model returned a {name}; export supports Tensors and tuples"):
        export(_Returns(value), (vl.randn(1, 3),), tmp_path / "m.onnx")
    assert _files(tmp_path) == []


def test_onnx_export_to_bad_paths_leaves_nothing(tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    from visionlite.onnx import ExportError, _ops, export

    model, x = nn.Sequential(nn.Conv2d(3, 3, 1), nn.ReLU()), vl.randn(1, 3, 4, 4)
    (tmp_path / "a_file").write_bytes(b"x")
    for target in (tmp_path / "missing" / "m.onnx", tmp_path / "a_file" / "m.onnx"):
        with pytest.raises(FileNotFoundError, match=f"cannot save {target}: the folder .* does not exist"):
            export(model, (x,), target)
    # a failed export keeps the previous file whole and leaves no temporary one
    export(model, (x,), tmp_path / "m.onnx")
    before = (tmp_path / "m.onnx").read_bytes()
    monkeypatch.delitem(_ops.CONVERTERS, "Relu")
    with pytest.raises(ExportError):
        export(model, (x,), tmp_path / "m.onnx")
    assert (tmp_path / "m.onnx").read_bytes() == before
    assert _files(tmp_path) == ["a_file", "m.onnx"]


def test_onnx_export_of_a_training_model_is_eval_and_restores_the_mode(tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from visionlite.onnx import export

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5), nn.ReLU())
    with vl.no_grad():
        model[1].running_mean.copy_(vl.randn(4))
    model.train()
    x = vl.randn(2, 3, 8, 8)
    proto = export(model, (x,), tmp_path / "m.onnx", input_names=["x"])
    assert model.training and all(m.training for m in model.modules())  # mode given back
    onnx.checker.check_model(proto)
    got = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"x": x.numpy()})[0]
    with vl.no_grad():
        want = model.eval()(x).numpy()  # eval: running statistics, no dropout
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    torch = require("torch")
    with pytest.raises(NotImplementedError, match="only eval-mode graphs are exported"):
        export(model, (x,), tmp_path / "t.onnx", training=torch.onnx.TrainingMode.TRAINING)
    assert not (tmp_path / "t.onnx").exists()


def test_onnx_missing_package_names_the_extra(monkeypatch):
    from visionlite.onnx import export

    monkeypatch.setitem(sys.modules, "onnx", None)
    message = re.escape('needs the onnx package: pip install "visionlite[onnx]"')
    with pytest.raises(ImportError, match=message):
        export(nn.Linear(2, 2), (vl.randn(1, 2),))


def test_export_cli_checks_the_output_folder_before_fetching_weights(tmp_path, monkeypatch):
    import contextlib

    from visionlite.cli import main

    def no_network(*args, **kwargs):
        raise AssertionError("the weights were fetched before the output path was checked")

    monkeypatch.setattr(dl, "download", no_network)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["export", "squeezenet1_1", str(tmp_path / "missing" / "m.onnx")])
    assert code != 0 and "the folder" in err.getvalue() and "does not exist" in err.getvalue()
    assert "Traceback" not in err.getvalue() and _files(tmp_path) == []


def test_video_dataset_with_a_damaged_video_or_missing_split_file(tmp_path, clip):
    # as TorchVision 0.29 (TorchCodec raises on an unreadable file): an error naming that file
    from visionlite import datasets
    from visionlite.io import write_video

    frames, _ = clip
    videos, lists = tmp_path / "videos" / "ApplyEyeMakeup", tmp_path / "lists"
    videos.mkdir(parents=True)
    lists.mkdir()
    write_video(str(videos / "v_ApplyEyeMakeup_g01_c01.avi"), frames, 5, video_codec="mpeg4")
    with pytest.raises(FileNotFoundError, match=r"UCF101 split file .*trainlist01\.txt not found"):
        datasets.UCF101(tmp_path / "videos", lists, frames_per_clip=2, num_workers=0)
    (lists / "trainlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 1\n")
    assert len(datasets.UCF101(tmp_path / "videos", lists, frames_per_clip=2, step_between_clips=2,
                               num_workers=0)) == 3
    (videos / "v_ApplyEyeMakeup_g02_c01.avi").write_bytes(b"not a video" * 20)
    with pytest.raises(ValueError, match=r"cannot read video .*v_ApplyEyeMakeup_g02_c01\.avi: FFmpeg cannot"):
        datasets.UCF101(tmp_path / "videos", lists, frames_per_clip=2, num_workers=0)


def test_video_reader_bad_seeks_streams_and_closed_use(tmp_path, clip):
    from visionlite.io import VideoReader

    _, data = clip
    path = tmp_path / "ok.mp4"
    path.write_bytes(data)
    reader = VideoReader(str(path))
    with pytest.raises(ValueError, match="time_s is NaN"):
        reader.seek(float("nan"))
    with pytest.raises(TypeError, match="time_s should be a number of seconds, got str"):
        reader.seek("1s")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyAV's "accurate seek is not implemented" (as TorchVision)
        for far in (1e30, float("inf"), -5):  # past either end: the last/first key frame, no overflow
            reader.seek(far)
    with pytest.raises(ValueError, match="should be 0 or more, got -1"):
        reader.set_current_stream("video:-1")
    with pytest.raises(ValueError, match="the file has 1 video stream"):
        reader.set_current_stream("video:3")
    reader.close()
    for use in (lambda: next(reader), lambda: reader.seek(0), reader.get_metadata,
                lambda: reader.set_current_stream("video")):
        with pytest.raises(ValueError, match="VideoReader: the file is closed"):
            use()
    with pytest.raises(ValueError, match="1-D uint8 tensor"):
        VideoReader(vl.zeros(3, 4))
    with pytest.raises(TypeError, match="src should be a path, bytes or a 1-D uint8 Tensor, got int"):
        VideoReader(5)


def test_read_video_bad_times(tmp_path, clip):
    from visionlite.io import read_video

    frames, data = clip
    path = tmp_path / "ok.mp4"
    path.write_bytes(data)
    for kwargs, kind, message in [
        (dict(start_pts=float("nan")), ValueError, "start_pts is NaN"),
        (dict(end_pts=float("nan")), ValueError, "end_pts is NaN"),
        (dict(start_pts="1"), TypeError, r"start_pts should be a number \(seconds\), got str"),
        (dict(start_pts=float("inf")), ValueError, "start_pts should be finite"),
        (dict(start_pts=2.0, end_pts=1.0), ValueError, "end_pts should be larger than start_pts"),
        (dict(pts_unit="ms"), ValueError, "pts_unit should be 'pts' or 'sec'"),
    ]:
        with pytest.raises(kind, match=message):
            read_video(str(path), **{"pts_unit": "sec", **kwargs})
    # far past the end: no overflow, at most the last frame (kept as the frame covering the start)
    assert read_video(str(path), start_pts=1e30, pts_unit="sec")[0].shape[0] <= 1
    whole = read_video(str(path), start_pts=vl.tensor(0.0), pts_unit="sec")[0]  # a 0-d tensor is its item
    assert whole.shape[0] == len(frames)


# ------------------------------------------------------------------------------------- MATLAB files
def test_mat_decompression_bomb_is_refused_and_damage_named(tmp_path, monkeypatch):
    scipy_io = pytest.importorskip("scipy.io")
    from visionlite.datasets import _matlab

    path = tmp_path / "bomb.mat"
    scipy_io.savemat(path, {"zeros": np.zeros((1024, 1024), np.float64), "y": np.arange(3.0)},
                     do_compression=True)  # 8 MiB of zeros in a few KB
    assert path.stat().st_size < 100_000
    got = _matlab.load_mat(path)  # within the default bounds: read as scipy reads it
    ref = scipy_io.loadmat(path)
    np.testing.assert_array_equal(got["zeros"], ref["zeros"])
    np.testing.assert_array_equal(got["y"], ref["y"])
    monkeypatch.setattr(_matlab, "_INFLATE_FLOOR", 2**20)  # as a much larger bomb meets the real floor
    with pytest.raises(ValueError, match=r"inflates past .*MAX_INFLATE_RATIO = 100 times the file's size\): "
                                         "a decompression bomb") as info:
        _matlab.load_mat(path)
    assert str(path) in str(info.value)
    monkeypatch.undo()
    data = path.read_bytes()
    cut = tmp_path / "cut.mat"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=f"{re.escape(str(cut))} is not a readable MATLAB 5 file"):
        _matlab.load_mat(cut)


def test_usps_bz2_bomb_is_refused(tmp_path, monkeypatch):
    import bz2

    from visionlite import datasets
    from visionlite.datasets import usps

    line = "1 " + " ".join(f"{i + 1}:-1" for i in range(256)) + "\n"
    (tmp_path / "usps.bz2").write_bytes(bz2.compress((line * 20).encode()))
    assert len(datasets.USPS(tmp_path)) == 20  # a well-formed file reads
    monkeypatch.setattr(usps, "MAX_TEXT_BYTES", len(line) * 10)  # as a real bomb meets the real bound
    with pytest.raises(RuntimeError, match=r"usps\.bz2 decompresses to more than .*MAX_TEXT_BYTES.*"
                                           "decompression bomb; delete it and download it again"):
        datasets.USPS(tmp_path)


@pytest.mark.parametrize("attack", ["local_file_url", "youtube_id_path"])
def test_kinetics_lists_from_outside_cannot_reach_local_paths(server, tmp_path, monkeypatch, attack):
    from visionlite import datasets

    secret = tmp_path / "secret_000000_000010.mp4"  # what a crafted list or CSV would try to reach
    secret.write_bytes(b"private")
    root = tmp_path / "kinetics"
    tar_url = server.serve("part0.tar.gz", _tar([("clip.txt", b"x", "f")]))
    if attack == "local_file_url":
        listing = f"{tar_url}\nfile://{tmp_path}/secret.tar.gz\n".encode()
        csv_rows = "label,youtube_id,time_start,time_end,split\n"
    else:
        listing = f"{tar_url}\n".encode()
        csv_rows = "label,youtube_id,time_start,time_end,split\nabseiling,../../secret,0,10,train\n"
    monkeypatch.setattr(datasets.Kinetics, "_TAR_URLS", {"400": server.serve("k400_train_path.txt", listing)})
    monkeypatch.setattr(datasets.Kinetics, "_ANNOTATION_URLS",
                        {"400": server.serve("train.csv", csv_rows.encode())})
    message = "is not an http\\(s\\) address" if attack == "local_file_url" else "cannot name a video file"
    with pytest.raises(ValueError, match=message):
        datasets.Kinetics(root, frames_per_clip=2, split="train", download=True, num_workers=0)
    assert secret.read_bytes() == b"private"  # neither copied nor moved
    assert not any("secret" in f for f in _files(root))
