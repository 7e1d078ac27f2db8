"""Shared fixtures: the ``device`` fixture runs a test on cpu and, where cupy sees a GPU, on cuda.

Under CI (``CI=true``) a test or module skipped because a reference (torch, torchvision, scipy) cannot
be imported is reported as failed: import references with ``tests.helpers.refs.require``; the hooks
below catch a plain ``pytest.importorskip`` of a reference too.
"""
import re

import pytest

import visionlite as vl
from tests.helpers.refs import under_ci

_REFERENCE_SKIP = re.compile(r"(could not import|reference) '(torch|torchvision|scipy)\b")


def _fail_reference_skip(report):
    if not (report.skipped and under_ci()):
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    if _REFERENCE_SKIP.search(str(reason)):
        report.outcome = "failed"
        report.longrepr = f"CI=true: a missing reference is an error, not a skip: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_reference_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_reference_skip(outcome.get_result())


def _devices():
    devs = ["cpu"]
    devs.append(pytest.param("cuda", marks=pytest.mark.skipif(not vl.cuda_available(),
                                                              reason="cuda: cupy or a GPU is not available")))
    return devs


@pytest.fixture(params=_devices())
def device(request):
    return request.param


@pytest.fixture(params=[pytest.param("cuda", marks=pytest.mark.skipif(
    not vl.cuda_available(), reason="cuda: cupy or a GPU is not available (a GPU-vs-CPU comparison)"))])
def gpu(request):
    """``"cuda"`` where cupy sees a GPU; elsewhere the test is skipped, visibly (comparing the CPU with
    itself would pass without checking anything)."""
    return request.param


@pytest.fixture
def local_http_server(tmp_path):
    """A real HTTP server on 127.0.0.1 serving ``tmp_path/served`` (see tests/helpers/http_server.py)."""
    from tests.helpers.http_server import LocalHTTPServer

    server = LocalHTTPServer(tmp_path / "served").start()
    yield server
    server.stop()


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    """Runs a test with visionlite on one thread and on two (the op pool's split paths), restoring the
    count afterwards."""
    before = vl.get_num_threads()
    vl.set_num_threads(request.param)
    yield request.param
    vl.set_num_threads(before)
