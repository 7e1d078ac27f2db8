"""The tutorial-style PyTorch scripts in tests/scripts run unchanged but for their imports, and agree with
PyTorch's run: same returned values (losses within float32 tolerance, counts exactly) and the same
printed lines, numbers compared with tolerance."""
import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.refs import require

torch = require("torch")
require("torchvision")

SCRIPTS = Path(__file__).parent / "scripts"
NAMES = ["tensors_tutorial", "autograd_tutorial", "quickstart", "data_loading", "classifier", "transfer",
         "dcgan", "vae", "spatial_transformer", "nn_tutorial",
         pytest.param("reference_checkpoint", marks=pytest.mark.slow),  # a resnet18 trained, saved, resumed
         "v2_detection"]


def rewrite_imports(source):
    """What a user does to move a script over: torch.utils.data -> visionlite.data, torchvision ->
    visionlite, torch -> visionlite."""
    source = source.replace("torch.utils.data", "visionlite.data")
    source = re.sub(r"\btorchvision\b", "visionlite", source)
    return re.sub(r"\btorch\b", "visionlite", source)


def run_script(name, source, state_dir):
    """Execute ``source`` as module ``name`` and call its ``main``; return (result, printed text, the
    script's RTOL for float comparisons)."""
    namespace = {"__name__": f"tutorial_{name}", "__file__": str(SCRIPTS / f"{name}.py")}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, str(SCRIPTS / f"{name}.py"), "exec"), namespace)
        result = namespace["main"](str(state_dir))
    return result, out.getvalue(), namespace.get("RTOL", 1e-4)


_NUMBER = re.compile(r"-?\d+\.\d+(?:e-?\d+)?|-?\d+")


def _same_text(ours, theirs, rtol):
    """Printed lines agree: words exactly, numbers within float32 tolerance; the module names in reprs
    (``torch.float32``) are compared with the prefix dropped."""
    ours = ours.replace("visionlite.", "").splitlines()
    theirs = theirs.replace("torch.", "").splitlines()
    assert len(ours) == len(theirs), (ours, theirs)
    for a, b in zip(ours, theirs):
        assert _NUMBER.sub("#", a) == _NUMBER.sub("#", b), (a, b)
        na, nb = [float(x) for x in _NUMBER.findall(a)], [float(x) for x in _NUMBER.findall(b)]
        np.testing.assert_allclose(na, nb, rtol=max(rtol, 2e-3), atol=2e-3, err_msg=f"{a!r} vs {b!r}")


def _compare(ours, theirs, rtol, key=""):
    if isinstance(theirs, dict):
        assert set(ours) == set(theirs), key
        for k in theirs:
            _compare(ours[k], theirs[k], rtol, f"{key}.{k}")
    elif isinstance(theirs, (int, str)) or (isinstance(theirs, (list, tuple)) and theirs
                                            and isinstance(theirs[0], int)):
        assert ours == theirs, key
    else:
        np.testing.assert_allclose(np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64),
                                   rtol=rtol, atol=rtol / 10, err_msg=key)


@pytest.mark.parametrize("name", NAMES)
def test_script_matches_pytorch(name, tmp_path):
    source = (SCRIPTS / f"{name}.py").read_text()
    assert "visionlite" not in source  # the scripts are PyTorch scripts
    theirs, their_text, rtol = run_script(name, source, tmp_path)
    ours, our_text, _ = run_script(name, rewrite_imports(source), tmp_path)
    _compare(ours, theirs, rtol)
    _same_text(our_text, their_text, rtol)


def test_rewrite_imports():
    src = ("import torch\nimport torch.nn as nn\nfrom torch.utils.data import DataLoader\n"
           "from torchvision import models")
    assert rewrite_imports(src) == ("import visionlite\nimport visionlite.nn as nn\n"
                                    "from visionlite.data import DataLoader\nfrom visionlite import models")
