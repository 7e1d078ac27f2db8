"""Under CI (``CI=true``) a missing reference fails the run instead of skipping it (issue 10)."""

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from tests.conftest import _fail_reference_skip
from tests.helpers.refs import require

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROBE = '''
import pytest
from tests.helpers.refs import require

def test_via_helper():
    require("scipy.no_such_module")

def test_plain_importorskip():
    pytest.importorskip("scipy.no_such_module")

def test_unrelated_skip():
    pytest.skip("unrelated")
'''

MODULE_LEVEL = '''
from tests.helpers.refs import require

missing = require("scipy.no_such_module")

def test_never_runs():
    pass
'''


@pytest.mark.parametrize("ci", ["", "false", "true", "1"])
def test_require_skips_locally_and_fails_under_ci(monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if ci in ("true", "1") else pytest.skip.Exception
    with pytest.raises(expected, match="no_such_reference_module"):
        require("no_such_reference_module")
    assert require("numpy").__name__ == "numpy"


@pytest.mark.parametrize("ci", ["", "true"])
def test_conftest_turns_reference_skips_into_failures_under_ci(monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    reasons = {"could not import 'torch': No module named 'torch'": bool(ci), "unrelated": False}
    for reason, fails in reasons.items():
        longrepr = ("file.py", 1, f"Skipped: {reason}")
        report = SimpleNamespace(skipped=True, outcome="skipped", longrepr=longrepr)
        _fail_reference_skip(report)
        assert report.outcome == ("failed" if fails else "skipped")


def test_ci_run_without_a_reference_is_red(tmp_path):
    (tmp_path / "test_probe.py").write_text(PROBE)
    (tmp_path / "test_probe_module.py").write_text(MODULE_LEVEL)
    env = dict(os.environ, CI="true")
    cmd = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-p", "tests.conftest",
           "--continue-on-collection-errors", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "FAILED" in out and "test_via_helper" in out and "test_plain_importorskip" in out, out
    assert "ERROR" in out and "test_probe_module.py" in out, out  # the module-level require
    assert "1 skipped" in out, out  # an unrelated skip stays a skip
