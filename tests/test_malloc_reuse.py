"""glibc keeps freed array memory for the next arrays once visionlite loads (core/ops/_malloc.py): churning
through 1 MB arrays faults no new pages, while with the tuning switched off, or when the user configured
malloc through its own variables, glibc's defaults (and the user's settings) stay in force."""

import os
import subprocess
import sys

import pytest

from visionlite.core.ops import _malloc

pytestmark = pytest.mark.skipif(_malloc._glibc() is None, reason="the tuning applies to glibc's malloc only")

_CHILD = """
import resource, numpy as np, visionlite
from visionlite.core.ops import _malloc
def churn():
    for _ in range(20):
        arrays = [np.ones(1 << 18, np.float32) for _ in range(8)]  # 8 x 1 MB, then all freed
        del arrays
churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
churn()
print(_malloc.applied(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _child(**env):
    ours = ("VISIONLITE_MALLOC_TUNING",) + _malloc._USER_SETTINGS
    full = {k: v for k, v in os.environ.items() if k not in ours}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", _CHILD], env=full, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    applied, faults = out.stdout.split()
    return applied == "True", int(faults)


def test_freed_memory_is_reused_without_page_faults():
    applied, faults = _child()
    assert applied
    assert faults < 500  # 160 MB churned: tens of thousands of faults when memory goes back to the OS


@pytest.mark.parametrize("env", [{"VISIONLITE_MALLOC_TUNING": "0"}, {"MALLOC_TRIM_THRESHOLD_": "1000000"}],
                         ids=["switched-off", "user-settings"])
def test_left_alone_when_switched_off_or_configured(env):
    applied, faults = _child(**env)
    assert not applied
    assert faults > 10000  # glibc's defaults (or the user's small trim threshold) give the memory back


def test_applied_in_this_process():
    assert _malloc.applied() == (os.environ.get("VISIONLITE_MALLOC_TUNING") != "0"
                                 and not any(v in os.environ for v in _malloc._USER_SETTINGS))
