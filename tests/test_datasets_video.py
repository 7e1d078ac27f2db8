"""Video datasets (Kinetics, UCF101, HMDB51) and VideoClips on tiny fixtures of real video files in the
official layouts, written with write_video. TorchVision 0.29's classes decode through TorchCodec (not a
reference here), so they get the same videos' metadata (frame indices and fps) and must give the same
samples, folds, clips and resampling; PyAV's own decode is the reference for the metadata and the frames."""
import csv
import io
import pickle
import tarfile

import numpy as np
import pytest

from tests.helpers.refs import require
from visionlite.datasets import HMDB51, UCF101, Kinetics
from visionlite.datasets.video_utils import VideoClips, unfold
from visionlite.io import write_video

av = require("av")

pytestmark = pytest.mark.filterwarnings("ignore:There aren't enough frames")

H, W = 16, 24


def _frames(n, seed):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (H // 4, W // 4, 3)).astype(np.uint8).repeat(4, 0).repeat(4, 1)
    return np.stack([np.roll(base, 2 * t, axis=1) for t in range(n)])


def _write(path, n, fps, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(str(path), _frames(n, seed), fps)


def _decoded(path):
    with av.open(str(path)) as c:
        return np.stack([f.to_rgb().to_ndarray() for f in sorted(c.decode(video=0), key=lambda f: f.pts)])


# (class, name, frames, fps)
KINETICS = [("abseiling", "a1", 10, 10), ("abseiling", "a2", 15, 10), ("air_drumming", "b1", 7, 5),
            ("air_drumming", "b2", 12, 15)]
UCF = [("ApplyEyeMakeup", "v_ApplyEyeMakeup_g01_c01", 9, 10),
       ("ApplyEyeMakeup", "v_ApplyEyeMakeup_g02_c01", 11, 10),
       ("Archery", "v_Archery_g01_c01", 8, 10), ("Archery", "v_Archery_g03_c02", 13, 10)]
HMDB = [("brush_hair", "April_09_brush_hair_u_nm_np1_ba_goo_0", 9, 10),
        ("brush_hair", "Blonde_hair_u_cm_np2_ba_med_1", 10, 10),
        ("cartwheel", "Acrobacias_de_un_fenomeno_cartwheel_f_cm_np1_ba_bad_8", 12, 10),
        ("cartwheel", "Bodenturnen_2004_cartwheel_f_cm_np1_le_med_0", 8, 10)]


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("videos")
    for i, (cls, name, n, fps) in enumerate(KINETICS):
        _write(base / "kinetics" / "train" / cls / f"{name}.mp4", n, fps, i)
    _write(base / "kinetics" / "val" / "abseiling" / "v1.mp4", 6, 10, 9)
    for i, (cls, name, n, fps) in enumerate(UCF):
        _write(base / "ucf" / cls / f"{name}.avi", n, fps, 10 + i)
    ann = base / "ucf_ann"
    ann.mkdir()
    for fold in (1, 2, 3):
        train = [u for j, u in enumerate(UCF) if (j + fold) % 2 == 0]
        test = [u for u in UCF if u not in train]
        (ann / f"trainlist{fold:02d}.txt").write_text(
            "".join(f"{c}/{n}.avi {1 + [u[0] for u in UCF].index(c)}\n" for c, n, _, _ in train))
        (ann / f"testlist{fold:02d}.txt").write_text("".join(f"{c}/{n}.avi\n" for c, n, _, _ in test))
    for i, (cls, name, n, fps) in enumerate(HMDB):
        _write(base / "hmdb" / cls / f"{name}.avi", n, fps, 20 + i)
    splits = base / "hmdb_splits"
    splits.mkdir()
    for fold in (1, 2, 3):
        for cls in ("brush_hair", "cartwheel"):
            lines = [f"{n}.avi {(j + fold) % 3} \n" for j, (c, n, _, _) in enumerate(HMDB) if c == cls]
            (splits / f"{cls}_test_split{fold}.txt").write_text("".join(lines))
    return base


def _torch_metadata(torch, metadata):
    return {"video_paths": list(metadata["video_paths"]),
            "video_pts": [torch.as_tensor(p.numpy()) for p in metadata["video_pts"]],
            "video_fps": list(metadata["video_fps"])}


def _same_clips(ours, ref):
    assert ours.num_clips() == ref.num_clips() and ours.cumulative_sizes == ref.cumulative_sizes
    for a, b in zip(ours.clips, ref.clips):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(ours.resampling_idxs, ref.resampling_idxs):
        if isinstance(b, list):
            assert a == b
        else:
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_metadata_is_each_videos_frames_and_rate(roots):
    paths = [str(roots / "kinetics" / "train" / c / f"{n}.mp4") for c, n, _, _ in KINETICS]
    clips = VideoClips(paths, 5, 3, num_workers=0)
    for path, pts, fps, (_, _, n, rate) in zip(paths, clips.video_pts, clips.video_fps, KINETICS):
        assert len(_decoded(path)) == n
        np.testing.assert_array_equal(pts.numpy(), np.arange(n))
        assert pts.dtype.np == np.int64 and fps == pytest.approx(rate)


@pytest.mark.parametrize("num_frames, step, frame_rate", [(5, 3, None), (4, 1, 5), (3, 2, 7), (20, 1, None)])
def test_clip_indexing_equals_torchvision(roots, num_frames, step, frame_rate):
    torch = require("torch")
    tv_vu = require("torchvision.datasets.video_utils")
    paths = [str(roots / "kinetics" / "train" / c / f"{n}.mp4") for c, n, _, _ in KINETICS]
    ours = VideoClips(paths, num_frames, step, frame_rate, num_workers=0)
    ref = tv_vu.VideoClips(paths, num_frames, step, frame_rate, _precomputed_metadata=_torch_metadata(
        torch, ours.metadata))
    _same_clips(ours, ref)
    for idx in range(ours.num_clips()):
        assert ours.get_clip_location(idx) == ref.get_clip_location(idx)
    if ours.num_clips():
        video, audio, info, video_idx = ours.get_clip(ours.num_clips() - 1)
        video_idx_ref, clip_idx = ref.get_clip_location(ours.num_clips() - 1)
        assert video_idx == video_idx_ref
        decoded = _decoded(paths[video_idx])
        pts = ref.clips[video_idx][clip_idx].numpy()
        want = decoded[pts[0]:pts[-1] + 1]
        resampling = ref.resampling_idxs[video_idx][clip_idx]
        want = want[resampling if isinstance(resampling, slice) else (resampling - resampling[0]).numpy()]
        assert video.dtype.np == np.uint8 and tuple(video.shape) == (num_frames, H, W, 3)
        np.testing.assert_array_equal(video.numpy(), want)
        assert tuple(audio.shape) == (1, 0)  # these videos have no audio
        assert info["video_fps"] == (frame_rate or pytest.approx(ours.video_fps[video_idx]))
    # recomputing for new lengths needs no decoding, and a pickled VideoClips comes back the same
    again = pickle.loads(pickle.dumps(ours))
    _same_clips(again, ref)


def test_clip_audio_is_the_clips_time_span(tmp_path):
    rate, fps = 16000, 10
    audio = np.tile(np.linspace(-0.5, 0.5, 400, dtype=np.float32), (2, 80))  # 2 s, stereo
    path = tmp_path / "with_audio.mp4"
    write_video(str(path), _frames(20, 5), fps, audio_array=audio, audio_fps=rate, audio_codec="aac")
    clips = VideoClips([str(path)], 5, 5, num_workers=0, output_format="TCHW")
    assert len(clips) == 4
    with av.open(str(path)) as c:
        decoded = sorted(c.decode(audio=0), key=lambda f: f.pts)
        first = float(decoded[0].pts * decoded[0].time_base)
        samples = np.concatenate([f.to_ndarray() for f in decoded], 1)
    for idx in (0, 2):
        video, clip_audio, info, video_idx = clips.get_clip(idx)
        assert tuple(video.shape) == (5, 3, H, W) and video_idx == 0 and info == {"video_fps": fps}
        begin = round((idx * 5 / fps - first) * rate)
        assert clip_audio.dtype.np == np.float32 and tuple(clip_audio.shape) == (2, rate * 5 // fps)
        np.testing.assert_array_equal(clip_audio.numpy(), samples[:, begin:begin + rate * 5 // fps])


def test_unfold_equals_torchvision():
    torch = require("torch")
    tv_vu = require("torchvision.datasets.video_utils")
    x = np.arange(11)
    for size, step, dilation in [(3, 1, 1), (4, 3, 1), (3, 2, 2), (12, 1, 1)]:
        ref = tv_vu.unfold(torch.as_tensor(x), size, step, dilation).numpy()
        np.testing.assert_array_equal(unfold(x, size, step, dilation).numpy(), ref)


def test_kinetics_equals_torchvision(roots):
    torch = require("torch")
    tv = require("torchvision.datasets")
    root = str(roots / "kinetics")
    ours = Kinetics(root, frames_per_clip=4, step_between_clips=3, num_workers=0)
    ref = tv.Kinetics(root, frames_per_clip=4, step_between_clips=3,
                      _precomputed_metadata=_torch_metadata(torch, ours.metadata))
    assert ours.classes == ref.classes == ["abseiling", "air_drumming"]
    assert ours.samples == ref.samples and len(ours) == len(ref)
    _same_clips(ours.video_clips, ref.video_clips)
    for idx in (0, len(ours) - 1):
        video, audio, label = ours[idx]
        video_idx, _ = ref.video_clips.get_clip_location(idx)
        assert label == ref.samples[video_idx][1]
        assert tuple(video.shape) == (4, 3, H, W)  # Kinetics defaults to TCHW
    assert len(Kinetics(root, 4, split="val", num_workers=0)) == 3  # 6 frames: clips at 0, 1, 2
    with pytest.raises(ValueError, match="num_classes"):
        Kinetics(root, 4, num_classes="500")


def test_ucf101_folds_equal_torchvision(roots):
    torch = require("torch")
    tv = require("torchvision.datasets")
    root, ann = str(roots / "ucf"), str(roots / "ucf_ann")
    first = UCF101(root, ann, 4, 2, num_workers=0)
    metadata = _torch_metadata(torch, first.metadata)
    for fold in (1, 2):
        for train in (True, False):
            ours = UCF101(root, ann, 4, 2, fold=fold, train=train, _precomputed_metadata=first.metadata)
            ref = tv.UCF101(root, ann, 4, 2, fold=fold, train=train, _precomputed_metadata=metadata)
            assert ours.classes == ref.classes and ours.samples == ref.samples and ours.indices == ref.indices
            assert ours.indices and len(ours) == len(ref)
            _same_clips(ours.video_clips, ref.video_clips)
            video, _, label = ours[len(ours) - 1]
            video_idx, _ = ref.video_clips.get_clip_location(len(ours) - 1)
            assert label == ref.samples[ref.indices[video_idx]][1]
            assert tuple(video.shape) == (4, H, W, 3)
    with pytest.raises(ValueError, match="fold"):
        UCF101(root, ann, 4, fold=4, _precomputed_metadata=first.metadata)
    with pytest.raises(FileNotFoundError, match="trainlist01.txt"):
        UCF101(root, str(roots), 4, _precomputed_metadata=first.metadata)


def test_hmdb51_folds_equal_torchvision(roots):
    torch = require("torch")
    tv = require("torchvision.datasets")
    root, splits = str(roots / "hmdb"), str(roots / "hmdb_splits")
    first = HMDB51(root, splits, 3, 4, num_workers=0)
    metadata = _torch_metadata(torch, first.metadata)
    for fold in (1, 2, 3):
        for train in (True, False):
            ours = HMDB51(root, splits, 3, 4, fold=fold, train=train, _precomputed_metadata=first.metadata,
                          output_format="TCHW")
            ref = tv.HMDB51(root, splits, 3, 4, fold=fold, train=train, _precomputed_metadata=metadata,
                            output_format="TCHW")
            assert ours.classes == ref.classes and ours.samples == ref.samples and ours.indices == ref.indices
            assert len(ours) == len(ref)
            _same_clips(ours.video_clips, ref.video_clips)
            if len(ours):
                video, _, label = ours[0]
                video_idx, _ = ref.video_clips.get_clip_location(0)
                assert label == ref.samples[ref.indices[video_idx]][1] and tuple(video.shape) == (3, 3, H, W)
    with pytest.raises(FileNotFoundError, match="test_split1"):
        HMDB51(root, root, 3, _precomputed_metadata=first.metadata)


def test_kinetics_download(local_http_server, tmp_path, monkeypatch, roots):
    """The split's URL list, each listed archive, and the annotations CSV, served on 127.0.0.1."""
    videos = {"vid0001_000010_000020.mp4": "abseiling", "vid0002_000000_000010.mp4": "playing drums (indoor)"}
    blob = io.BytesIO()
    with tarfile.open(fileobj=blob, mode="w:gz") as tar:
        for name in videos:
            tar.add(str(roots / "kinetics" / "train" / "abseiling" / "a1.mp4"), arcname=name)
    local_http_server.add_file("k/part 0.tar.gz", blob.getvalue())
    url_list = local_http_server.url("k/part 0.tar.gz") + "\n"
    local_http_server.add_file("k/k400_train_path.txt", url_list.encode())
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["label", "youtube_id", "time_start", "time_end", "split"])
    for name, label in videos.items():
        ytid, start, end = name[:-4].rsplit("_", 2)
        writer.writerow([label, ytid, int(start), int(end), "train"])
    local_http_server.add_file("k/annotations/train.csv", rows.getvalue().encode())
    server = local_http_server
    monkeypatch.setattr(Kinetics, "_TAR_URLS", {"400": server.url("k/k400_{split}_path.txt")})
    monkeypatch.setattr(Kinetics, "_ANNOTATION_URLS", {"400": server.url("k/annotations/{split}.csv")})
    ds = Kinetics(str(tmp_path / "k400"), frames_per_clip=5, step_between_clips=5, download=True)  # 1 worker
    assert ds.classes == ["abseiling", "playing_drums_indoor"]
    assert [label for _, label in ds.samples] == [0, 1] and len(ds) == 4
    assert (tmp_path / "k400" / "train" / "abseiling" / "vid0001_000010_000020.mp4").is_file()


def test_damaged_video_is_named(tmp_path):
    (tmp_path / "train" / "yoga").mkdir(parents=True)
    (tmp_path / "train" / "yoga" / "clip.mp4").write_bytes(b"\0\0\0\x18ftypmp42" + b"garbage" * 20)
    with pytest.raises(ValueError, match="clip.mp4"):
        Kinetics(str(tmp_path), frames_per_clip=2, num_workers=0)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        Kinetics(str(tmp_path / "nowhere"), frames_per_clip=2, num_workers=0)
