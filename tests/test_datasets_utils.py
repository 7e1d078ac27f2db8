"""visionlite.datasets.utils: TorchVision's download helpers against a local HTTP server, archive
extraction, and the refusal of archives whose entries would escape the extraction folder."""
import gzip
import hashlib
import io
import lzma
import os
import tarfile
import zipfile

import pytest

from visionlite import download as dl
from visionlite.datasets import utils
from visionlite.datasets.utils import UnsafeArchiveError
from visionlite.download import DownloadError, HashMismatchError

PAYLOAD = b"0123456789abcdef" * 64
MD5 = hashlib.md5(PAYLOAD).hexdigest()


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(dl, "BACKOFF_BASE", 0.001)


# ------------------------------------------------------------------------------------------ checksums

def test_md5_helpers(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(PAYLOAD)
    assert utils.calculate_md5(path) == MD5
    assert utils.calculate_md5(path, chunk_size=7) == MD5
    assert utils.check_md5(path, MD5) and utils.check_md5(path, MD5.upper())
    assert not utils.check_md5(path, "0" * 32)
    assert utils.check_integrity(path) and utils.check_integrity(path, MD5)
    assert not utils.check_integrity(path, "0" * 32)
    assert not utils.check_integrity(tmp_path / "missing.bin")


# ------------------------------------------------------------------------------------------ downloads

def test_download_url_then_reuse(local_http_server, tmp_path):
    local_http_server.add_file("train.bin", PAYLOAD)
    root = tmp_path / "root"
    path = utils.download_url(local_http_server.url("train.bin"), root, md5=MD5)
    assert path == str(root / "train.bin") and (root / "train.bin").read_bytes() == PAYLOAD
    utils.download_url(local_http_server.url("train.bin"), root, md5=MD5)
    utils.download_url(local_http_server.url("train.bin"), root, filename="train.bin")
    assert local_http_server.gets("train.bin") == 1


def test_corrupt_file_deleted_and_fetched_once(local_http_server, tmp_path, caplog):
    local_http_server.add_file("train.bin", PAYLOAD)
    (tmp_path / "train.bin").write_bytes(b"half a file")
    utils.download_url(local_http_server.url("train.bin"), tmp_path, md5=MD5)
    assert (tmp_path / "train.bin").read_bytes() == PAYLOAD
    assert local_http_server.gets("train.bin") == 1
    assert any("does not match" in r.getMessage() for r in caplog.records)


def test_bad_checksum_on_server_fails_once_not_in_a_loop(local_http_server, tmp_path):
    local_http_server.add_file("train.bin", PAYLOAD)
    (tmp_path / "train.bin").write_bytes(b"stale")
    url = local_http_server.url("train.bin")
    with pytest.raises(HashMismatchError) as info:
        utils.download_url(url, tmp_path, md5="0" * 32)
    assert url in str(info.value) and "md5" in str(info.value)
    assert local_http_server.gets("train.bin") == 1
    assert not (tmp_path / "train.bin").exists()


def test_download_with_mirrors(local_http_server, tmp_path):
    local_http_server.add_file("b/train.bin", PAYLOAD)
    urls = [local_http_server.url("a/train.bin"), local_http_server.url("b/train.bin")]
    path = utils.download_with_mirrors(urls, tmp_path, "train.bin", md5=MD5)
    assert open(path, "rb").read() == PAYLOAD
    assert local_http_server.gets("a/train.bin") == 1 and local_http_server.gets("b/train.bin") == 1


def test_persistent_server_error_names_url(local_http_server, tmp_path):
    local_http_server.add_file("train.bin", PAYLOAD)
    local_http_server.behave("train.bin", fail_first=100)
    url = local_http_server.url("train.bin")
    with pytest.raises(DownloadError, match="HTTP 500") as info:
        utils.download_url(url, tmp_path)
    assert url in str(info.value)


def test_html_interstitial_reported(local_http_server, tmp_path):
    local_http_server.behave("train.bin", html=True)
    with pytest.raises(DownloadError, match="HTML page"):
        utils.download_url(local_http_server.url("train.bin"), tmp_path, md5=MD5)
    assert not (tmp_path / "train.bin").exists()


# ----------------------------------------------------------------------------------------- archives

def _tar_bytes(entries, mode="w"):
    """A tar archive from ``(TarInfo, data or None)`` pairs."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _entry(name, data=None, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info, data


GOOD_TAR = [_entry("data", kind=tarfile.DIRTYPE), _entry("data/a.txt", b"alpha"),
            _entry("data/sub/b.txt", b"beta"), _entry("data/link", kind=tarfile.SYMTYPE, linkname="a.txt")]


@pytest.mark.parametrize("suffix,mode", [(".tar", "w"), (".tar.gz", "w:gz"), (".tgz", "w:gz"),
                                         (".tar.xz", "w:xz"), (".tar.bz2", "w:bz2")])
def test_extract_tar_variants(tmp_path, suffix, mode):
    archive = tmp_path / f"set{suffix}"
    archive.write_bytes(_tar_bytes(GOOD_TAR, mode))
    out = utils.extract_archive(archive, tmp_path / "out")
    assert out == str(tmp_path / "out")
    assert (tmp_path / "out/data/a.txt").read_bytes() == b"alpha"
    assert (tmp_path / "out/data/sub/b.txt").read_bytes() == b"beta"
    assert (tmp_path / "out/data/link").read_bytes() == b"alpha"


def test_extract_zip_and_single_files(tmp_path):
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("set/a.txt", b"alpha")
    assert utils.extract_archive(archive, tmp_path / "z", remove_finished=True) == str(tmp_path / "z")
    assert (tmp_path / "z/set/a.txt").read_bytes() == b"alpha" and not archive.exists()

    gz = tmp_path / "labels.idx1-ubyte.gz"
    gz.write_bytes(gzip.compress(PAYLOAD))
    out = utils.extract_archive(gz)
    assert out == str(tmp_path / "labels.idx1-ubyte") and open(out, "rb").read() == PAYLOAD
    xz = tmp_path / "notes.txt.xz"
    xz.write_bytes(lzma.compress(b"notes"))
    assert open(utils.extract_archive(xz, tmp_path / "x"), "rb").read() == b"notes"
    with pytest.raises(RuntimeError, match="Cannot tell how to extract"):
        utils.extract_archive(tmp_path / "file.rar")


def test_download_and_extract_archive(local_http_server, tmp_path):
    data = _tar_bytes(GOOD_TAR, "w:gz")
    local_http_server.add_file("set.tar.gz", data)
    utils.download_and_extract_archive(local_http_server.url("set.tar.gz"), tmp_path / "dl",
                                       extract_root=tmp_path / "ex", md5=hashlib.md5(data).hexdigest(),
                                       remove_finished=True)
    assert (tmp_path / "ex/data/a.txt").read_bytes() == b"alpha"
    assert not (tmp_path / "dl/set.tar.gz").exists()


def _snapshot(folder):
    return sorted(os.path.relpath(os.path.join(d, n), folder)
                  for d, dirs, files in os.walk(folder) for n in dirs + files)


@pytest.mark.parametrize("entries,bad_entry", [
    ([_entry("ok.txt", b"ok"), _entry("../evil.txt", b"evil")], "../evil.txt"),
    ([_entry("a/../../evil.txt", b"evil")], "a/../../evil.txt"),
    ([_entry("/ABSOLUTE/evil.txt", b"evil")], "/ABSOLUTE/evil.txt"),
    ([_entry("etc", kind=tarfile.SYMTYPE, linkname="/etc")], "etc"),
    ([_entry("d/up", kind=tarfile.SYMTYPE, linkname="../../outside")], "d/up"),
    ([_entry("hard", kind=tarfile.LNKTYPE, linkname="../outside.txt")], "hard"),
    ([_entry("fifo", kind=tarfile.FIFOTYPE)], "fifo"),
    ([_entry("null", kind=tarfile.CHRTYPE)], "null"),
    ([_entry("disk", kind=tarfile.BLKTYPE)], "disk"),
])
def test_malicious_tar_refused_before_writing(tmp_path, entries, bad_entry):
    work = tmp_path / "work"
    work.mkdir()
    archive = work / "evil.tar"
    archive.write_bytes(_tar_bytes(entries))
    before = _snapshot(tmp_path)
    with pytest.raises(UnsafeArchiveError) as info:
        utils.extract_archive(archive, work / "root")
    assert repr(bad_entry) in str(info.value)
    assert _snapshot(tmp_path) == before  # not even the harmless entries were written


def test_symlink_chain_escape_refused(tmp_path):
    # Each link looks harmless on its own text ("d/l -> .." stays inside), but the second one, made
    # inside the first, would point above the root. Only a check against the disk catches it.
    work = tmp_path / "work"
    work.mkdir()
    archive = work / "chain.tar"
    archive.write_bytes(_tar_bytes([
        _entry("d", kind=tarfile.DIRTYPE), _entry("d/l", kind=tarfile.SYMTYPE, linkname=".."),
        _entry("d/l/esc", kind=tarfile.SYMTYPE, linkname=".."), _entry("d/l/esc/evil.txt", b"evil")]))
    with pytest.raises(UnsafeArchiveError, match="d/l/esc"):
        utils.extract_archive(archive, work / "root")
    assert not (work / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()
    assert not os.path.lexists(work / "esc")


def test_link_to_outside_folder_writes_nothing_there(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    archive = work / "through.tar"
    archive.write_bytes(_tar_bytes([_entry("out", kind=tarfile.SYMTYPE, linkname=str(outside)),
                                    _entry("out/evil.txt", b"evil")]))
    with pytest.raises(UnsafeArchiveError, match="'out'"):
        utils.extract_archive(archive, work / "root")
    assert os.listdir(outside) == []


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/abs/evil.txt", "..\\evil.txt",
                                  "C:/evil.txt"])
def test_malicious_zip_refused(tmp_path, name):
    work = tmp_path / "work"
    work.mkdir()
    archive = work / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("fine.txt", b"fine")
        zf.writestr(zipfile.ZipInfo(name), b"evil")
    before = _snapshot(tmp_path)
    with pytest.raises(UnsafeArchiveError) as info:
        utils.extract_archive(archive, work / "root")
    assert repr(name) in str(info.value)
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("entry, why", [
    (_entry("/abs/evil.txt", b"evil"), "is an absolute path"),
    (_entry("a/../../evil.txt", b"evil"), "has a '..' path component"),
    (_entry("fifo", kind=tarfile.FIFOTYPE), "is a special file"),
    (_entry("up", kind=tarfile.SYMTYPE, linkname="../x"), "is a symlink pointing outside"),
    (_entry("hard", kind=tarfile.LNKTYPE, linkname="/x"), "is a hard link pointing outside"),
])
def test_unsafe_entry_messages_read_well(tmp_path, entry, why):
    archive = tmp_path / "evil.tar"
    archive.write_bytes(_tar_bytes([entry]))
    with pytest.raises(UnsafeArchiveError, match=f"entry '{entry[0].name}' {why}"):
        utils.extract_archive(archive, tmp_path / "root")


# ------------------------------------------------------------------------------------------ messages

def test_verify_str_arg():
    assert utils.verify_str_arg("train", "split", ("train", "test")) == "train"
    assert utils.verify_str_arg("anything") == "anything"
    with pytest.raises(ValueError) as info:
        utils.verify_str_arg("val", "split", ("train", "test"))
    assert str(info.value) == "Unknown value 'val' for argument split. Valid values are {'train', 'test'}."
    with pytest.raises(ValueError) as info:
        utils.verify_str_arg(3, "split")
    assert str(info.value) == "Expected type str for argument split, but got type <class 'int'>."
    with pytest.raises(ValueError) as info:
        utils.verify_str_arg(None)
    assert str(info.value) == "Expected type str, but got type <class 'NoneType'>."
    with pytest.raises(ValueError) as info:
        utils.verify_str_arg("x", "mode", ["a", "b"], custom_msg="{value} is not one of {valid_values}")
    assert str(info.value) == "x is not one of 'a', 'b'"


def test_not_found_message():
    message = utils.not_found_message("MNIST", "/data", ["MNIST/raw/train-images-idx3-ubyte"])
    assert message == ("MNIST not found under /data; pass download=True to fetch it, or place the files at "
                       "/data/MNIST/raw/train-images-idx3-ubyte.")
