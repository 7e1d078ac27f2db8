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
