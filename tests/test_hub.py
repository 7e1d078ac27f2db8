"""visionlite.hub: cache folder, hash checks before loading, cache hits without network, offline mode,
mirrors, and the cache helpers, against a real local HTTP server."""
import hashlib
import os
import socket
import sys
import types
import warnings

import numpy as np
import pytest

from tests.helpers.refs import require
from visionlite import download as dl
from visionlite import hub
from visionlite.download import DownloadError, HashMismatchError

DATA = b"not really a checkpoint, but bytes with a known hash" * 20
SHA = hashlib.sha256(DATA).hexdigest()
NAME = f"tinynet-{SHA[:8]}.pth"


@pytest.fixture(autouse=True)
def clean_hub(monkeypatch, tmp_path):
    """A fresh cache folder and no offline/mirror settings inherited from the machine."""
    monkeypatch.setattr(dl, "BACKOFF_BASE", 0.001)
    monkeypatch.setattr(hub, "_hub_dir", None)
    monkeypatch.setenv("VISIONLITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VISIONLITE_OFFLINE", raising=False)
    monkeypatch.delenv("VISIONLITE_WEIGHTS_MIRROR", raising=False)


@pytest.fixture
def served(local_http_server):
    local_http_server.add_file(f"models/{NAME}", DATA)
    return local_http_server


def checkpoints():
    return os.path.join(hub.get_dir(), "checkpoints")


def closed_port_base():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


# ------------------------------------------------------------------------------------------ cache dir

def test_get_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("VISIONLITE_HOME", str(tmp_path / "vh"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub.get_dir() == str(tmp_path / "vh")
    monkeypatch.delenv("VISIONLITE_HOME")
    assert hub.get_dir() == str(tmp_path / "xdg" / "visionlite")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert hub.get_dir() == str(tmp_path / "user" / ".cache" / "visionlite")
    hub.set_dir(tmp_path / "chosen")
    assert hub.get_dir() == str(tmp_path / "chosen")


def test_hash_prefix_from_name():
    assert hub.hash_prefix_from_name("resnet50-0676ba61.pth") == "0676ba61"
    assert hub.hash_prefix_from_name("https://x/efficientnet_b0_rwightman-7f5810bc.pth") == "7f5810bc"
    assert hub.hash_prefix_from_name("resnet-18.pth") is None  # too short to be a hash
    assert hub.hash_prefix_from_name("weights.pth") is None


# ------------------------------------------------------------------------------ download and caching

def test_first_call_downloads_then_cache_hit_makes_no_request(served):
    url = served.url(f"models/{NAME}")
    path = hub.cached_file(url, progress=False)
    assert path == os.path.join(checkpoints(), NAME)
    assert open(path, "rb").read() == DATA
    assert served.gets(f"models/{NAME}") == 1
    assert hub.cached_file(url, progress=False) == path
    assert served.total_gets() == 1


def test_full_sha256_used_when_given(served):
    url = served.url(f"models/{NAME}")
    with pytest.raises(HashMismatchError):
        hub.cached_file(url, sha256="f" * 64, progress=False)
    assert not os.path.exists(os.path.join(checkpoints(), NAME))
    assert open(hub.cached_file(url, sha256=SHA, progress=False), "rb").read() == DATA


def test_wrong_prefix_in_name_is_refused(served):
    bad = "tinynet-00000000.pth" if not SHA.startswith("00000000") else "tinynet-11111111.pth"
    served.add_file(f"models/{bad}", DATA)
    url = served.url(f"models/{bad}")
    with pytest.raises(HashMismatchError) as info:
        hub.cached_file(url, progress=False)
    assert url in str(info.value)
    assert hub.list_cached() == []


def test_no_hash_available_is_an_error_without_request(served):
    served.add_file("models/plain.pth", DATA)
    with pytest.raises(DownloadError, match="Cannot verify plain.pth"):
        hub.cached_file(served.url("models/plain.pth"), progress=False)
    assert served.total_gets() == 0


def test_file_name_overrides_cache_name(served):
    path = hub.cached_file(served.url(f"models/{NAME}"), file_name="mine.pth", progress=False)
    assert os.path.basename(path) == "mine.pth"  # the hash prefix still comes from the URL's name


def test_corrupt_cached_file_is_replaced(served):
    os.makedirs(checkpoints())
    with open(os.path.join(checkpoints(), NAME), "wb") as f:
        f.write(b"truncated")
    path = hub.cached_file(served.url(f"models/{NAME}"), progress=False)
    assert open(path, "rb").read() == DATA
    assert served.total_gets() == 1


def test_download_url_to_file(served, tmp_path):
    dst = tmp_path / "x.pth"
    hub.download_url_to_file(served.url(f"models/{NAME}"), dst, hash_prefix=SHA[:8], progress=False)
    assert dst.read_bytes() == DATA
    with pytest.raises(HashMismatchError):
        hub.download_url_to_file(served.url(f"models/{NAME}"), tmp_path / "y.pth", hash_prefix="zz")
    assert not (tmp_path / "y.pth").exists()


# ---------------------------------------------------------------------------------------- offline

def test_offline_uses_cache_without_network(served, monkeypatch):
    url = served.url(f"models/{NAME}")
    hub.cached_file(url, progress=False)
    monkeypatch.setenv("VISIONLITE_OFFLINE", "1")
    assert open(hub.cached_file(url, progress=False), "rb").read() == DATA
    assert served.total_gets() == 1


def test_offline_without_cache_explains(served, monkeypatch):
    monkeypatch.setenv("VISIONLITE_OFFLINE", "1")
    url = served.url(f"models/{NAME}")
    with pytest.raises(hub.OfflineError) as info:
        hub.cached_file(url, progress=False)
    message = str(info.value)
    assert NAME in message and url in message and checkpoints() in message
    assert "visionlite download" in message
    assert served.total_gets() == 0
    with pytest.raises(hub.OfflineError):
        hub.download_url_to_file(url, os.path.join(checkpoints(), "x.pth"))
    assert served.total_gets() == 0


# ----------------------------------------------------------------------------------------- mirrors

def test_resolve_url_keeps_file_name(monkeypatch, tmp_path):
    official = "https://download.pytorch.org/models/resnet50-0676ba61.pth"
    assert hub.resolve_url(official) == official
    monkeypatch.setenv("VISIONLITE_WEIGHTS_MIRROR", "https://mirror.example.org/weights/")
    assert hub.resolve_url(official) == "https://mirror.example.org/weights/resnet50-0676ba61.pth"
    monkeypatch.setenv("VISIONLITE_WEIGHTS_MIRROR", str(tmp_path))
    assert hub.resolve_url(official) == (tmp_path / "resnet50-0676ba61.pth").as_uri()
    monkeypatch.setenv("VISIONLITE_WEIGHTS_MIRROR", "ftp://example.org/")
    with pytest.raises(ValueError, match="VISIONLITE_WEIGHTS_MIRROR"):
        hub.resolve_url(official)


def test_http_mirror_replaces_official_host(served, monkeypatch):
    # The official host is a closed port: reaching it at all would fail the test.
    official = f"{closed_port_base()}/models/{NAME}"
    monkeypatch.setenv("VISIONLITE_WEIGHTS_MIRROR", served.base_url + "/models")
    path = hub.cached_file(official, progress=False)
    assert open(path, "rb").read() == DATA
    assert served.gets(f"models/{NAME}") == 1


def test_folder_mirror_copies_and_verifies(monkeypatch, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / NAME).write_bytes(DATA)
    monkeypatch.setenv("VISIONLITE_WEIGHTS_MIRROR", str(mirror))
    monkeypatch.setenv("VISIONLITE_OFFLINE", "1")  # a local folder needs no network
    path = hub.cached_file(f"{closed_port_base()}/models/{NAME}", progress=False)
    assert open(path, "rb").read() == DATA
    bad = "tinynet-00000000.pth" if not SHA.startswith("00000000") else "tinynet-11111111.pth"
    (mirror / bad).write_bytes(DATA)
    with pytest.raises(HashMismatchError):
        hub.cached_file(f"{closed_port_base()}/models/{bad}", progress=False)


# ------------------------------------------------------------------------------------------ loading

@pytest.fixture
def fake_loader(monkeypatch):
    """Stands in for visionlite.core.serialization.load, recording what it is asked to read."""
    calls = []
    module = types.ModuleType("visionlite.core.serialization")
    module.load = lambda path, map_location=None: calls.append((path, map_location)) or {"ok": True}
    monkeypatch.setitem(sys.modules, "visionlite.core.serialization", module)
    return calls


def test_load_verifies_before_deserialising(served, fake_loader):
    bad = "tinynet-00000000.pth" if not SHA.startswith("00000000") else "tinynet-11111111.pth"
    served.add_file(f"models/{bad}", DATA)
    with pytest.raises(HashMismatchError):
        hub.load_state_dict_from_url(served.url(f"models/{bad}"), progress=False)
    assert fake_loader == []
    state = hub.load_state_dict_from_url(served.url(f"models/{NAME}"), map_location="cpu", progress=False)
    assert state == {"ok": True}
    assert fake_loader == [(os.path.join(checkpoints(), NAME), "cpu")]


def test_load_refuses_unsafe_options(served, fake_loader):
    url = served.url(f"models/{NAME}")
    with pytest.raises(ValueError, match="weights_only"):
        hub.load_state_dict_from_url(url, weights_only=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hub.load_state_dict_from_url(url, check_hash=False, progress=False)
    assert any("check_hash=False is ignored" in str(w.message) for w in caught)


def test_load_state_dict_round_trip_from_torch_file(local_http_server, tmp_path):
    torch = require("torch")
    src = tmp_path / "ckpt.pth"
    weight = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    torch.save({"fc.weight": weight, "fc.bias": torch.tensor([0.5, -1.0])}, src)
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    name = f"fc-{sha[:8]}.pth"
    local_http_server.add_file(name, src.read_bytes())
    state = hub.load_state_dict_from_url(local_http_server.url(name), progress=False)
    assert sorted(state) == ["fc.bias", "fc.weight"]
    np.testing.assert_array_equal(_numpy(state["fc.weight"]), weight.numpy())
    np.testing.assert_array_equal(_numpy(state["fc.bias"]), [0.5, -1.0])
    state = hub.load_state_dict_from_url(local_http_server.url(name), sha256=sha, progress=False)
    assert local_http_server.gets(name) == 1


def _numpy(t):
    return t.numpy() if hasattr(t, "numpy") else np.asarray(t)


# ------------------------------------------------------------------------------------ cache helpers

def test_cache_list_verify_clear(served):
    hub.cached_file(served.url(f"models/{NAME}"), progress=False)
    folder = checkpoints()
    with open(os.path.join(folder, "legacy.pth"), "wb") as f:
        f.write(b"x")
    bad = "other-00000000.pth" if not SHA.startswith("00000000") else "other-11111111.pth"
    with open(os.path.join(folder, bad), "wb") as f:
        f.write(DATA)
    listed = hub.list_cached()
    assert [c.name for c in listed] == sorted([NAME, "legacy.pth", bad])  # no .lock files
    assert {c.name: c.size for c in listed}[NAME] == len(DATA)
    status = {c.name: s for c, s in hub.verify_cached()}
    assert status == {NAME: "ok-prefix", "legacy.pth": "unverifiable", bad: "corrupt"}  # 32-bit prefix only
    assert hub.clear_cache(names=[bad]) == [bad]
    assert sorted(hub.clear_cache()) == sorted([NAME, "legacy.pth"])
    assert hub.list_cached() == [] and os.listdir(folder) == []
