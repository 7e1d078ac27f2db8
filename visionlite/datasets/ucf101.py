"""``UCF101``: action-recognition clips from ``root/<class>/<video>.avi`` with the official fold lists."""
import os

from .folder import find_classes, make_dataset
from .video_utils import VideoClips
from .vision import VisionDataset

__all__ = ["UCF101"]


class UCF101(VisionDataset):
    """`UCF101 <https://www.crcv.ucf.edu/data/UCF101.php>`_ as fixed-length clips, one of its three folds.

    Args:
        root: the folder of class folders (``root/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi``, ...).
        annotation_path: the folder of the official ``trainlist0{1,2,3}.txt`` / ``testlist0{1,2,3}.txt``
            (lines ``<class>/<video>.avi [label]``).
        frames_per_clip: frames in a clip; step_between_clips: frames between two clips' starts.
        frame_rate: resample every video to this rate first (default: each video's own).
        fold: 1, 2 or 3; train: the fold's train list (True) or test list (False).
        transform: callable on the video tensor.
        output_format: ``"THWC"`` (default) or ``"TCHW"``.

    Items are ``(video, audio, label)``. Decoding needs PyAV: ``pip install "visionlite[video]"``.
    """

    def __init__(self, root, annotation_path, frames_per_clip, step_between_clips=1, frame_rate=None, fold=1,
                 train=True, transform=None, _precomputed_metadata=None, num_workers=1, _video_width=0,
                 _video_height=0, _video_min_dimension=0, _audio_samples=0, output_format="THWC"):
        super().__init__(root)
        if not 1 <= fold <= 3:
            raise ValueError(f"fold should be between 1 and 3, got {fold}")
        self.fold = fold
        self.train = train
        self.classes, class_to_idx = find_classes(self.root)
        self.samples = make_dataset(self.root, class_to_idx, ("avi",), is_valid_file=None)
        video_list = [x[0] for x in self.samples]
        video_clips = VideoClips(video_list, frames_per_clip, step_between_clips, frame_rate,
                                 _precomputed_metadata, num_workers=num_workers, _video_width=_video_width,
                                 _video_height=_video_height,
                                 _video_min_dimension=_video_min_dimension, _audio_samples=_audio_samples,
                                 output_format=output_format)
        self.full_video_clips = video_clips  # metadata stays that of every video, not of the fold's subset
        self.indices = self._select_fold(video_list, annotation_path, fold, train)
        self.video_clips = video_clips.subset(self.indices)
        self.transform = transform

    @property
    def metadata(self):
        return self.full_video_clips.metadata

    def _select_fold(self, video_list, annotation_path, fold, train):
        name = f"{'train' if train else 'test'}list{fold:02d}.txt"
        split_file = os.path.join(annotation_path, name)
        if not os.path.isfile(split_file):
            raise FileNotFoundError(f"UCF101 split file {split_file} not found: annotation_path must be the "
                                    f"folder "
                                    f"of the official train/test lists (ucfTrainTestlist), e.g. {name}")
        with open(split_file) as fid:
            selected = {os.path.join(self.root, *line.strip().split(" ")[0].split("/")) for line in fid}
        return [i for i, path in enumerate(video_list) if path in selected]

    def __len__(self):
        return self.video_clips.num_clips()

    def __getitem__(self, idx):
        """``(video, audio, label)`` of clip ``idx``."""
        video, audio, info, video_idx = self.video_clips.get_clip(idx)
        label = self.samples[self.indices[video_idx]][1]
        if self.transform is not None:
            video = self.transform(video)
        return video, audio, label
