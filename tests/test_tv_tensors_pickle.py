"""tv_tensors keep their kind and metadata through pickle (DataLoader workers send samples that way), as
TorchVision's do."""
import pickle

import numpy as np
import pytest

from tests.helpers.refs import require
from visionlite import tv_tensors

tvt = require("torchvision.tv_tensors")

KINDS = [("Image", lambda m: m.Image(np.zeros((3, 4, 5), np.uint8)), ()),
         ("Video", lambda m: m.Video(np.zeros((2, 3, 4, 5), np.float32)), ()),
         ("Mask", lambda m: m.Mask(np.ones((4, 5), np.uint8)), ()),
         ("BoundingBoxes", lambda m: m.BoundingBoxes([[1, 2, 3, 4]], format="CXCYWH", canvas_size=(10, 12)),
          ("format", "canvas_size")),
         ("KeyPoints", lambda m: m.KeyPoints([[1.0, 2.0]], canvas_size=(5, 6)), ("canvas_size",))]


@pytest.mark.parametrize("name,make,attrs", KINDS, ids=[k[0] for k in KINDS])
def test_pickle_keeps_kind_and_metadata(name, make, attrs):
    ours, theirs = make(tv_tensors), make(tvt)
    ours2, theirs2 = pickle.loads(pickle.dumps(ours)), pickle.loads(pickle.dumps(theirs))
    assert type(ours2).__name__ == type(theirs2).__name__ == name
    assert type(ours2) is type(ours)
    for attr in attrs:
        assert str(getattr(ours2, attr)).split(".")[-1] == str(getattr(theirs2, attr)).split(".")[-1]
    np.testing.assert_array_equal(ours2.numpy(), theirs2.numpy())
    assert ours2.dtype == ours.dtype
