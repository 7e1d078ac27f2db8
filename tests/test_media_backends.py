"""TorchVision's top-level backend switches exist and answer as TorchVision's do."""
import pytest

import visionlite
from tests.helpers.refs import require

tv = require("torchvision")


def test_backend_getters_and_setters():
    assert visionlite.get_image_backend() == tv.get_image_backend() == "PIL"
    assert visionlite.get_video_backend() == tv.get_video_backend() == "pyav"
    visionlite.set_video_backend("video_reader")  # the video-API tutorial's first call
    tv.set_video_backend("video_reader")
    assert visionlite.get_video_backend() == tv.get_video_backend()
    with pytest.raises(ValueError, match="Options"):
        visionlite.set_video_backend("opencv")
    try:
        visionlite.set_image_backend("accimage")
        assert visionlite.get_image_backend() == "accimage"
    finally:
        visionlite.set_image_backend("PIL")
    with pytest.raises(ValueError, match="PIL"):
        visionlite.set_image_backend("cv2")
    with pytest.raises(ValueError, match="PIL"):
        tv.set_image_backend("cv2")
