"""Package layout: PyTorch's import forms work, each name has one home, and importing is light."""
import json
import subprocess
import sys

import visionlite as vl


def test_torch_style_import_forms_point_at_one_home():
    import visionlite.autograd as autograd
    import visionlite.core.nn as core_nn
    import visionlite.nn as nn
    import visionlite.nn.functional as F
    from visionlite.core.data import DataLoader as CoreDataLoader
    from visionlite.data import DataLoader

    assert nn is core_nn and vl.nn is core_nn
    assert F is core_nn.functional
    assert DataLoader is CoreDataLoader
    assert autograd is vl.core.autograd
    assert vl.Tensor is vl.core.Tensor


def test_import_visionlite_stays_light():
    heavy = ("PIL", "requests", "cupy", "torch", "tqdm", "filelock", "safetensors", "ml_dtypes", "mpi4py")
    lazy = ("visionlite.models", "visionlite.datasets", "visionlite.transforms", "visionlite.core.nn")
    code = ("import sys, json, visionlite\n"
            f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r} "
            f"or m.startswith({lazy!r}))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_pytorch_and_torchvision_module_paths_alias_their_homes():
    import visionlite.transforms.v2.tv_tensors as v2_tv_tensors
    import visionlite.tv_tensors as tv_tensors
    from visionlite.data import DataLoader
    from visionlite.utils.data import DataLoader as UtilsDataLoader

    assert UtilsDataLoader is DataLoader
    assert tv_tensors is v2_tv_tensors
    assert callable(vl.utils.make_grid)
