"""``Kinetics`` (400/600/700): action-recognition clips from ``root/<split>/<class>/<video>``."""
import csv
import os
import urllib.parse
from functools import partial

from .folder import find_classes, make_dataset
from .utils import check_integrity, download_and_extract_archive, download_url, verify_str_arg
from .video_utils import VideoClips
from .vision import VisionDataset

__all__ = ["Kinetics"]


def _dl_wrap(tarpath, videopath, line):
    download_and_extract_archive(line, tarpath, videopath)


class Kinetics(VisionDataset):
    """`Kinetics <https://www.deepmind.com/open-source/kinetics>`_-400/600/700 as fixed-length clips.

    Each video is cut into every clip of ``frames_per_clip`` frames, ``step_between_clips`` apart (clips that
    would run past a video's end are dropped): for videos of 10 and 15 frames with ``frames_per_clip=5`` and
    ``step_between_clips=5`` the dataset has 2 + 3 = 5 items.

    Args:
        root: the folder holding ``<split>/<class>/<video>.mp4`` (``split`` is appended).
        frames_per_clip: frames in a clip.
        num_classes: ``"400"`` (default), ``"600"`` or ``"700"``.
        split: ``"train"`` (default), ``"val"`` or ``"test"``.
        frame_rate: resample every video to this rate first (default: each video's own).
        step_between_clips: frames between the starts of two clips.
        transform: callable on the video tensor.
        extensions: video file extensions (default ``("avi", "mp4")``).
        download: fetch the split's file list and video archives from the official addresses and sort the
            videos into class folders with the annotations CSV (skipped if ``root/<split>`` exists).
        num_download_workers: processes downloading archives.
        num_workers: processes scanning videos for ``VideoClips``.
        output_format: ``"TCHW"`` (default) or ``"THWC"``.

    Items are ``(video, audio, label)``: uint8 video ``[T, C, H, W]`` (or ``[T, H, W, C]``), float32 audio
    ``[K, L]`` and the class index. Decoding needs PyAV: ``pip install "visionlite[video]"``.
    """

    _TAR_URLS = {
        "400": "https://s3.amazonaws.com/kinetics/400/{split}/k400_{split}_path.txt",
        "600": "https://s3.amazonaws.com/kinetics/600/{split}/k600_{split}_path.txt",
        "700": "https://s3.amazonaws.com/kinetics/700_2020/{split}/k700_2020_{split}_path.txt",
    }
    _ANNOTATION_URLS = {
        "400": "https://s3.amazonaws.com/kinetics/400/annotations/{split}.csv",
        "600": "https://s3.amazonaws.com/kinetics/600/annotations/{split}.csv",
        "700": "https://s3.amazonaws.com/kinetics/700_2020/annotations/{split}.csv",
    }

    def __init__(self, root, frames_per_clip, num_classes="400", split="train", frame_rate=None,
                 step_between_clips=1, transform=None, extensions=("avi", "mp4"), download=False,
                 num_download_workers=1, num_workers=1, _precomputed_metadata=None, _video_width=0,
                 _video_height=0, _video_min_dimension=0, _audio_samples=0, _audio_channels=0, _legacy=False,
                 output_format="TCHW"):
        self.num_classes = verify_str_arg(num_classes, arg="num_classes", valid_values=["400", "600", "700"])
        self.extensions = extensions
        self.num_download_workers = num_download_workers
        self.root = root
        self._legacy = _legacy
        if _legacy:  # the old layout: classes directly under root
            self.split_folder = root
            self.split = "unknown"
            output_format = "THWC"
            if download:
                raise ValueError("Cannot download the videos using legacy_structure.")
        else:
            self.split_folder = os.path.join(root, split)
            self.split = verify_str_arg(split, arg="split", valid_values=["train", "val", "test"])
        if download:
            self.download_and_process_videos()
        super().__init__(self.root)
        self.classes, class_to_idx = find_classes(self.split_folder)
        self.samples = make_dataset(self.split_folder, class_to_idx, extensions, is_valid_file=None)
        video_list = [x[0] for x in self.samples]
        self.video_clips = VideoClips(video_list, frames_per_clip, step_between_clips, frame_rate,
                                      _precomputed_metadata, num_workers=num_workers,
                                      _video_width=_video_width, _video_height=_video_height,
                                      _video_min_dimension=_video_min_dimension,
                                      _audio_samples=_audio_samples, _audio_channels=_audio_channels,
                                      output_format=output_format)
        self.transform = transform

    def download_and_process_videos(self):
        """Download the split's video archives into ``root/<split>`` and sort them into class folders."""
        self._download_videos()
        self._make_ds_structure()

    def _download_videos(self):
        if os.path.exists(self.split_folder):
            return  # already there: never fetch the whole split again
        tar_path = os.path.join(self.root, "tars")
        file_list_path = os.path.join(self.root, "files")
        split_url = self._TAR_URLS[self.num_classes].format(split=self.split)
        list_name = os.path.basename(urllib.parse.urlparse(split_url).path)
        split_url_filepath = os.path.join(file_list_path, list_name)
        if not check_integrity(split_url_filepath):
            download_url(split_url, file_list_path)
        with open(split_url_filepath) as file:
            urls = [urllib.parse.quote(line, safe="/,:") for line in file.read().splitlines() if line.strip()]
        for url in urls:  # the list comes from outside: only web addresses, never local files
            if urllib.parse.urlparse(url).scheme not in ("http", "https"):
                raise ValueError(f"{split_url_filepath}: {url!r} is not an http(s) address; the file list is "
                                 f"damaged or not Kinetics': delete it and download it again")
        if self.num_download_workers == 1:
            for url in urls:
                download_and_extract_archive(url, tar_path, self.split_folder)
        else:
            from multiprocessing import Pool

            with Pool(self.num_download_workers) as pool:
                pool.map(partial(_dl_wrap, tar_path, self.split_folder), urls)

    def _make_ds_structure(self):
        """Move ``<split>/<ytid>_<start>_<end>.mp4`` into ``<split>/<label>/`` as the annotations CSV says."""
        annotation_path = os.path.join(self.root, "annotations")
        annotations = os.path.join(annotation_path, f"{self.split}.csv")
        if not check_integrity(annotations):
            download_url(self._ANNOTATION_URLS[self.num_classes].format(split=self.split), annotation_path)
        with open(annotations, newline="") as csvfile:
            for row in csv.DictReader(csvfile):
                ytid = row["youtube_id"]
                if not ytid or "/" in ytid or "\\" in ytid or ytid.startswith("."):
                    raise ValueError(f"{annotations}: youtube_id {ytid!r} cannot name a video file")
                name = f"{ytid}_{int(row['time_start']):06}_{int(row['time_end']):06}.mp4"
                label = row["label"].replace(" ", "_").replace("'", "").replace("(", "").replace(")", "")
                if not label or label in (".", "..") or "/" in label or "\\" in label:
                    raise ValueError(f"{annotations}: label {row['label']!r} cannot name a class folder")
                os.makedirs(os.path.join(self.split_folder, label), exist_ok=True)
                downloaded = os.path.join(self.split_folder, name)
                if os.path.isfile(downloaded):
                    os.replace(downloaded, os.path.join(self.split_folder, label, name))

    @property
    def metadata(self):
        return self.video_clips.metadata

    def __len__(self):
        return self.video_clips.num_clips()

    def __getitem__(self, idx):
        """``(video, audio, label)`` of clip ``idx``."""
        video, audio, info, video_idx = self.video_clips.get_clip(idx)
        label = self.samples[video_idx][1]
        if self.transform is not None:
            video = self.transform(video)
        return video, audio, label
