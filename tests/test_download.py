"""visionlite.download against a real local HTTP server: caching, hashes, retries, resume, HTML pages,
mirrors, locking across processes, and the error messages."""
import hashlib
import logging
import multiprocessing
import os
import socket
import tempfile

import pytest

from visionlite import download as dl
from visionlite.download import DownloadError, HashMismatchError, download, hash_file, verify_file

DATA = bytes(range(256)) * 40  # 10 KiB, several read chunks
SHA = hashlib.sha256(DATA).hexdigest()
MD5 = hashlib.md5(DATA).hexdigest()


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(dl, "BACKOFF_BASE", 0.001)


@pytest.fixture
def served(local_http_server):
    local_http_server.add_file("data.bin", DATA)
    return local_http_server


def closed_port_url(name="data.bin"):
    # Bind then close: nothing listens on the port afterwards, so connecting is refused at once.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


def leftovers(folder):
    return [n for n in os.listdir(folder) if n.endswith(".part")]


def test_hash_helpers(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(DATA)
    assert hash_file(path) == SHA
    assert hash_file(path, "md5") == MD5
    assert verify_file(path, sha256=SHA, md5=MD5)
    assert verify_file(path, hash_prefix=SHA[:8])
    assert not verify_file(path, hash_prefix="00000000" if not SHA.startswith("00000000") else "11111111")
    assert not verify_file(tmp_path / "missing")


def test_download_then_reuse_without_request(served, tmp_path):
    dst = tmp_path / "out" / "data.bin"
    assert download(served.url("data.bin"), dst, sha256=SHA, progress=False) == str(dst)
    assert dst.read_bytes() == DATA
    assert served.gets("data.bin") == 1
    download(served.url("data.bin"), dst, sha256=SHA, progress=False)
    assert served.gets("data.bin") == 1
    assert leftovers(dst.parent) == []


def test_overwrite_fetches_again(served, tmp_path):
    dst = tmp_path / "data.bin"
    download(served.url("data.bin"), dst, progress=False)
    download(served.url("data.bin"), dst, progress=False, overwrite=True)
    assert served.gets("data.bin") == 2


def test_md5_checked(served, tmp_path):
    dst = tmp_path / "data.bin"
    download(served.url("data.bin"), dst, md5=MD5, progress=False)
    assert dst.read_bytes() == DATA


def test_hash_mismatch_deletes_file_and_names_url(served, tmp_path):
    dst = tmp_path / "data.bin"
    url = served.url("data.bin")
    with pytest.raises(HashMismatchError) as info:
        download(url, dst, sha256="0" * 64, progress=False)
    assert url in str(info.value) and "sha256" in str(info.value)
    assert not dst.exists()
    assert leftovers(tmp_path) == []


def test_corrupt_existing_file_replaced(served, tmp_path):
    dst = tmp_path / "data.bin"
    dst.write_bytes(b"garbage")
    download(served.url("data.bin"), dst, sha256=SHA, progress=False)
    assert dst.read_bytes() == DATA
    assert served.gets("data.bin") == 1


def test_truncated_transfer_resumes_with_range(served, tmp_path):
    served.behave("data.bin", drop_after=3000)
    dst = tmp_path / "data.bin"
    download(served.url("data.bin"), dst, sha256=SHA, progress=False)
    assert dst.read_bytes() == DATA
    assert served.range_headers("data.bin") == [None, "bytes=3000-"]


def test_truncated_transfer_restarts_when_range_ignored(served, tmp_path):
    served.behave("data.bin", drop_after=3000, ignore_range=True)
    dst = tmp_path / "data.bin"
    download(served.url("data.bin"), dst, sha256=SHA, progress=False)
    assert dst.read_bytes() == DATA
    assert served.gets("data.bin") == 2


def test_server_error_retried_then_succeeds(served, tmp_path):
    served.behave("data.bin", fail_first=2)
    dst = tmp_path / "data.bin"
    download(served.url("data.bin"), dst, sha256=SHA, progress=False, tries=3)
    assert dst.read_bytes() == DATA
    assert served.gets("data.bin") == 3


def test_persistent_server_error_names_url(served, tmp_path):
    served.behave("data.bin", fail_first=100, fail_status=503)
    url = served.url("data.bin")
    with pytest.raises(DownloadError) as info:
        download(url, tmp_path / "data.bin", progress=False, tries=3)
    message = str(info.value)
    assert url in message and "503" in message and "3 attempts" in message
    assert served.gets("data.bin") == 3
    assert not (tmp_path / "data.bin").exists()


def test_not_found_is_not_retried(served, tmp_path):
    url = served.url("missing.bin")
    with pytest.raises(DownloadError, match="404") as info:
        download(url, tmp_path / "missing.bin", progress=False)
    assert url in str(info.value)
    assert served.gets("missing.bin") == 1


def test_unreachable_server(tmp_path):
    url = closed_port_url()
    with pytest.raises(DownloadError) as info:
        download(url, tmp_path / "data.bin", progress=False, tries=2)
    message = str(info.value)
    assert url in message and "Connection refused" in message and "proxy" in message
    assert "Max retries" not in message  # requests' pool wrapping is trimmed to the cause
    assert not (tmp_path / "data.bin").exists()


def test_ssl_error_explains_ca_bundle(served, tmp_path):
    # Speaking TLS to a plain-HTTP server fails the handshake, which requests reports as an SSLError.
    url = served.url("data.bin").replace("http://", "https://")
    with pytest.raises(DownloadError) as info:
        download(url, tmp_path / "data.bin", progress=False)
    message = str(info.value)
    assert url in message and "REQUESTS_CA_BUNDLE" in message and "CURL_CA_BUNDLE" in message


def test_html_page_detected_by_content_type(served, tmp_path):
    served.behave("data.bin", html=True)
    url = served.url("data.bin")
    with pytest.raises(DownloadError, match="HTML page") as info:
        download(url, tmp_path / "data.bin", progress=False)
    assert url in str(info.value)
    assert not (tmp_path / "data.bin").exists()
    assert served.gets("data.bin") == 1


def test_html_page_detected_by_body(served, tmp_path):
    served.behave("data.bin", html=True, html_content_type="application/octet-stream")
    with pytest.raises(DownloadError, match="HTML page"):
        download(served.url("data.bin"), tmp_path / "data.bin", progress=False)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("body", [
    b"<html><body>quota</body></html>", b"\xef\xbb\xbf  <!DOCTYPE HTML PUBLIC>\n<p>x</p>",
    b"\n<HEAD><title>Sign in</title></HEAD>", b"<body>Error 403</body>", b"<title>Not allowed</title>",
    b"<!-- generated -->\n<!-- again --> <html lang='en'>", b"<?xml version='1.0'?>\n<html>x</html>",
    b"\t<!--\n multi-line comment -->\n\n<head>\n"])
def test_html_page_detected_by_its_start(local_http_server, tmp_path, body):
    local_http_server.add_file("data.bin", body)
    with pytest.raises(DownloadError, match="HTML page"):
        download(local_http_server.url("data.bin"), tmp_path / "data.bin", progress=False)
    assert not (tmp_path / "data.bin").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("body", [b"<svg xmlns='x'/>", b"<header>not a page</header>", b"<!-- x -->{}",
                                  b"<htmlish/>", b"  plain text mentioning <html> later"])
def test_markup_that_is_not_an_html_page_is_kept(local_http_server, tmp_path, body):
    local_http_server.add_file("data.bin", body)
    dst = download(local_http_server.url("data.bin"), tmp_path / "d", progress=False)
    assert open(dst, "rb").read() == body


def test_html_allowed_when_expected(served, tmp_path):
    served.behave("page.html", html=True)
    dst = download(served.url("page.html"), tmp_path / "page.html", progress=False, expect_html=True)
    assert open(dst, "rb").read().startswith(b"<!DOCTYPE html>")


def test_mirrors_tried_in_turn(served, tmp_path):
    urls = [closed_port_url(), served.url("gone/data.bin"), served.url("data.bin")]
    dst = tmp_path / "data.bin"
    download(urls, dst, sha256=SHA, progress=False, tries=1)
    assert dst.read_bytes() == DATA
    assert served.gets("gone/data.bin") == 1


def test_all_mirrors_failing_lists_each(served, tmp_path):
    urls = [served.url("a.bin"), served.url("b.bin")]
    with pytest.raises(DownloadError) as info:
        download(urls, tmp_path / "x.bin", progress=False)
    assert all(u in str(info.value) for u in urls)


def test_file_url_copied_and_verified(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(DATA)
    dst = download(src.as_uri(), tmp_path / "out" / "data.bin", sha256=SHA, progress=False)
    assert open(dst, "rb").read() == DATA
    with pytest.raises(DownloadError, match="not found"):
        download((tmp_path / "nope.bin").as_uri(), tmp_path / "out" / "nope.bin", progress=False)


def test_status_goes_to_logging_not_stdout(served, tmp_path, caplog, capsys):
    with caplog.at_level(logging.INFO, logger="visionlite.download"):
        download(served.url("data.bin"), tmp_path / "data.bin", progress=True)
    assert any("Downloading" in r.getMessage() for r in caplog.records)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # no bar either: stderr is not a terminal here


def test_destination_folder_holds_only_the_file(served, tmp_path):
    dst = tmp_path / "out" / "data.bin"
    download(served.url("data.bin"), dst, sha256=SHA, progress=False)
    assert os.listdir(dst.parent) == ["data.bin"]  # the lock lives elsewhere
    lock = dl._lock_path(str(dst))
    assert os.path.dirname(lock) == os.path.join(tempfile.gettempdir(), dl._LOCK_FOLDER)
    assert dl._lock_path(str(tmp_path / "out" / "." / "data.bin")) == lock  # one lock per real path
    assert dl._lock_path(str(tmp_path / "out" / "other.bin")) != lock


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permission bits")
def test_lock_folder_writable_by_others_is_refused(served, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    folder = tmp_path / "tmp" / dl._LOCK_FOLDER
    folder.mkdir(parents=True)
    folder.chmod(0o777)  # another user could plant a link at a lock path there
    with pytest.raises(DownloadError, match="TMPDIR") as info:
        download(served.url("data.bin"), tmp_path / "data.bin", progress=False)
    assert str(folder) in str(info.value)
    folder.chmod(0o700)
    download(served.url("data.bin"), tmp_path / "data.bin", progress=False)


def _fetch_in_child(url, dst, sha, barrier):
    # Runs in a spawned process: line up with the sibling so both ask for the file at the same moment.
    barrier.wait(timeout=30)
    download(url, dst, sha256=sha, progress=False)


def test_two_processes_download_once(served, tmp_path):
    served.behave("data.bin", delay=0.5)  # keep the first download in flight while the second arrives
    dst = str(tmp_path / "shared" / "data.bin")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_fetch_in_child, args=(served.url("data.bin"), dst, SHA, barrier))
             for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert served.gets("data.bin") == 1
    assert open(dst, "rb").read() == DATA
    assert os.listdir(os.path.dirname(dst)) == ["data.bin"]
