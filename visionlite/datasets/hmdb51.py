"""``HMDB51``: action-recognition clips from ``root/<class>/<video>.avi`` with the official split files."""
import glob
import os

from .folder import find_classes, make_dataset
from .video_utils import VideoClips
from .vision import VisionDataset

__all__ = ["HMDB51"]


class HMDB51(VisionDataset):
    """`HMDB51 <https://serre-lab.clps.brown.edu/resource/hmdb-a-large-human-motion-database/>`_ as clips.

    Args:
        root: the folder of class folders (``root/brush_hair/<video>.avi``, ...), from ``hmdb51_org.rar``.
        annotation_path: the folder of the split files ``<class>_test_split{1,2,3}.txt`` (from
            ``test_train_splits.rar``), lines ``<video>.avi <tag>`` with tag 1 = train, 2 = test, 0 = unused.
        frames_per_clip: frames in a clip; step_between_clips: frames between two clips' starts.
        frame_rate: resample every video to this rate first (default: each video's own).
        fold: 1, 2 or 3; train: the fold's train videos (True) or test videos (False).
        transform: callable on the video tensor.
        output_format: ``"THWC"`` (default) or ``"TCHW"``.

    Items are ``(video, audio, label)``. The archives are RAR files (no download here: extract them with
    ``unrar`` into ``root`` and ``annotation_path``). Decoding needs PyAV:
    ``pip install "visionlite[video]"``.
    """

    data_url = "https://serre-lab.clps.brown.edu/wp-content/uploads/2013/10/hmdb51_org.rar"
    splits = {
        "url": "https://serre-lab.clps.brown.edu/wp-content/uploads/2013/10/test_train_splits.rar",
        "md5": "15e67781e70dcfbdce2d7dbb9b3344b5",
    }
    TRAIN_TAG = 1
    TEST_TAG = 2

    def __init__(self, root, annotation_path, frames_per_clip, step_between_clips=1, frame_rate=None, fold=1,
                 train=True, transform=None, _precomputed_metadata=None, num_workers=1, _video_width=0,
                 _video_height=0, _video_min_dimension=0, _audio_samples=0, output_format="THWC"):
        super().__init__(root)
        if fold not in (1, 2, 3):
            raise ValueError(f"fold should be between 1 and 3, got {fold}")
        self.classes, class_to_idx = find_classes(self.root)
        self.samples = make_dataset(self.root, class_to_idx, ("avi",))
        video_paths = [path for path, _ in self.samples]
        video_clips = VideoClips(video_paths, frames_per_clip, step_between_clips, frame_rate,
                                 _precomputed_metadata, num_workers=num_workers, _video_width=_video_width,
                                 _video_height=_video_height, _video_min_dimension=_video_min_dimension,
                                 _audio_samples=_audio_samples, output_format=output_format)
        self.full_video_clips = video_clips  # metadata stays that of every video, not of the fold's subset
        self.fold = fold
        self.train = train
        self.indices = self._select_fold(video_paths, annotation_path, fold, train)
        self.video_clips = video_clips.subset(self.indices)
        self.transform = transform

    @property
    def metadata(self):
        return self.full_video_clips.metadata

    def _select_fold(self, video_list, annotations_dir, fold, train):
        target_tag = self.TRAIN_TAG if train else self.TEST_TAG
        pattern = os.path.join(glob.escape(os.fspath(annotations_dir)), f"*test_split{fold}.txt")
        split_files = glob.glob(pattern)
        if not split_files:
            raise FileNotFoundError(f"HMDB51: no split file *test_split{fold}.txt in {annotations_dir}; "
                                    f"annotation_path must be the folder extracted from "
                                    f"test_train_splits.rar")
        selected = set()
        for path in split_files:
            with open(path) as fid:
                for number, line in enumerate(fid, 1):
                    if not line.strip():
                        continue
                    fields = line.split()
                    if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
                        raise ValueError(f"{path}, line {number}: expected '<video>.avi <tag>', "
                                         f"got {line.strip()!r}")
                    if int(fields[1]) == target_tag:
                        selected.add(fields[0])
        return [i for i, path in enumerate(video_list) if os.path.basename(path) in selected]

    def __len__(self):
        return self.video_clips.num_clips()

    def __getitem__(self, idx):
        """``(video, audio, label)`` of clip ``idx``."""
        video, audio, _, video_idx = self.video_clips.get_clip(idx)
        _, class_index = self.samples[self.indices[video_idx]]
        if self.transform is not None:
            video = self.transform(video)
        return video, audio, class_index
