"""Shared fixtures: the ``device`` fixture runs a test on cpu and, where cupy sees a GPU, on cuda."""
import pytest

import visionlite as vl


def _devices():
    devs = ["cpu"]
    devs.append(pytest.param("cuda", marks=pytest.mark.skipif(not vl.cuda_available(),
                                                              reason="cuda: cupy or a GPU is not available")))
    return devs


@pytest.fixture(params=_devices())
def device(request):
    return request.param


@pytest.fixture
def local_http_server(tmp_path):
    """A real HTTP server on 127.0.0.1 serving ``tmp_path/served`` (see tests/helpers/http_server.py)."""
    from tests.helpers.http_server import LocalHTTPServer

    server = LocalHTTPServer(tmp_path / "served").start()
    yield server
    server.stop()
