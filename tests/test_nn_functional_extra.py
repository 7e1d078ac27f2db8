"""Less common torch.nn.functional functions against PyTorch (forward and backward) and float64 gradchecks:
pad's keyword names, normalize, cosine_similarity, pairwise_distance, pixel_(un)shuffle, unfold/fold,
affine_grid, grid_sample, and nn.init.sparse_."""
import numpy as np
import pytest

import visionlite as vl
import visionlite.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def test_pad_takes_torchs_keyword_names():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    got = F.pad(input=vl.tensor(x), pad=(1, 2), mode="constant", value=-1.0)
    want = TF.pad(input=torch.tensor(x), pad=(1, 2), mode="constant", value=-1.0)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(F.pad(vl.tensor(x), (1, 1), "replicate").numpy(),
                                  TF.pad(torch.tensor(x), (1, 1), "replicate").numpy())
