"""TorchVision's dataset download helpers (same names and arguments), built on ``visionlite.download``.

Archives are extracted only after every entry has been checked: an entry that would land outside the
extraction folder (absolute path, ``..`` component, link pointing outside) or that is not a plain file,
folder or link (device files, FIFOs) is refused with an error naming it. So is an archive that would
unpack to more than ``max_bytes`` in all, or more than ``max_ratio`` times its own size (a zip, tar or gzip
bomb). Entries are written into a temporary folder beside the target and moved into place once all are
complete, so a full disk or a truncated archive (an error naming the file) leaves no half-written member.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import os
import posixpath
import re
import shutil
import tarfile
import uuid
import zipfile
import zlib
from pathlib import Path
from urllib.parse import urlparse

from visionlite.download import download, hash_file, logger

__all__ = [
    "ArchiveTooLargeError", "CorruptArchiveError", "UnsafeArchiveError", "calculate_md5", "check_integrity",
    "check_md5", "download_and_extract_archive",
    "download_url", "download_with_mirrors", "extract_archive", "not_found_message", "verify_str_arg",
]


class UnsafeArchiveError(ValueError):
    """An archive entry would write outside the extraction folder or create a special file."""


class ArchiveTooLargeError(UnsafeArchiveError):
    """An archive would unpack to more bytes than allowed (``max_bytes``, ``max_ratio``)."""


class CorruptArchiveError(RuntimeError):
    """An archive is truncated or damaged; the message names the file."""


MAX_EXTRACT_BYTES = 200 * 2**30  # default max_bytes of extract_archive: 200 GiB unpacked in all
MAX_EXTRACT_RATIO = 100  # default max_ratio: unpacked bytes per byte of archive (image datasets: about 1-10)
_RATIO_FLOOR = 2**20  # an archive may always unpack to 1 MiB, whatever the ratio


# ------------------------------------------------------------------------------------------ checksums

def calculate_md5(fpath, chunk_size=1024 * 1024):
    """Hex MD5 of the file at ``fpath``."""
    return hash_file(fpath, "md5", chunk_size)


def check_md5(fpath, md5, **kwargs):
    """True when the file's MD5 equals ``md5``."""
    return md5.lower() == calculate_md5(fpath, **kwargs)


def check_integrity(fpath, md5=None):
    """True when ``fpath`` is a file and, if ``md5`` is given, has that MD5."""
    if not os.path.isfile(fpath):
        return False
    return md5 is None or check_md5(fpath, md5)


# ---------------------------------------------------------------------------------------- downloading

def download_with_mirrors(urls, root, filename, md5=None, max_redirect_hops=3, progress=True):
    """Fetch ``filename`` into ``root`` from the first of ``urls`` that works; returns its path.

    A file already there with the right MD5 is reused without any request. One that fails its MD5 check is
    deleted (with a warning) and fetched again, once: if the fresh copy fails too, an error is raised.
    """
    root = os.path.expanduser(os.fspath(root))
    return download(urls, os.path.join(root, filename), md5=md5, max_redirects=max_redirect_hops,
                    progress=progress)


def download_url(url, root, filename=None, md5=None, max_redirect_hops=3):
    """Download ``url`` into folder ``root`` as ``filename`` (default: the URL's name); returns the path.

    Args:
        url: address of the file.
        root: folder to store it in.
        filename: name to save it under.
        md5: expected MD5; checked before use, the file is deleted if it does not match.
        max_redirect_hops: most redirects to follow.
    """
    filename = filename or os.path.basename(urlparse(url).path)
    return download_with_mirrors([url], root, filename, md5=md5, max_redirect_hops=max_redirect_hops)


def download_and_extract_archive(url, download_root, extract_root=None, filename=None, md5=None,
                                 remove_finished=False, *, max_bytes=None, max_ratio=None):
    """Download an archive into ``download_root`` and extract it into ``extract_root`` (default: the same).

    ``remove_finished`` deletes the archive after extraction; ``max_bytes``, ``max_ratio``: as
    :func:`extract_archive`.
    """
    download_root = os.path.expanduser(os.fspath(download_root))
    extract_root = download_root if extract_root is None else extract_root
    filename = filename or os.path.basename(urlparse(url).path)
    archive = download_url(url, download_root, filename, md5)
    logger.info("Extracting %s to %s", archive, extract_root)
    extract_archive(archive, extract_root, remove_finished, max_bytes=max_bytes, max_ratio=max_ratio)


def not_found_message(what, root, expected=()):
    """The message a dataset gives when its files are missing and ``download=False``.

    Args:
        what: what is missing, e.g. ``"MNIST"``.
        root: the dataset root that was searched.
        expected: paths (relative to ``root``) of the files that are missing (or damaged), and only those:
            listing files that are in place would send the reader looking for the wrong thing.
    """
    places = ", ".join(os.path.join(root, p) for p in expected) or str(root)
    return f"{what} not found under {root}; pass download=True to fetch it, or place the files at {places}."


# ---------------------------------------------------------------------------------------- validation

def _quoted_list(values):
    return "'" + "', '".join(str(v) for v in values) + "'"


def verify_str_arg(value, arg=None, valid_values=None, custom_msg=None):
    """Return ``value`` if it is a str and (when ``valid_values`` is given) one of them; else ValueError.

    ``custom_msg`` may use the ``{value}``, ``{arg}`` and ``{valid_values}`` fields.
    """
    if not isinstance(value, str):
        where = "" if arg is None else f" for argument {arg}"
        raise ValueError(f"Expected type str{where}, but got type {type(value)}.")
    if valid_values is None or value in valid_values:
        return value
    template = custom_msg if custom_msg is not None else (
        "Unknown value '{value}' for argument {arg}. Valid values are {{{valid_values}}}.")
    raise ValueError(template.format(value=value, arg=arg, valid_values=_quoted_list(valid_values)))


# ---------------------------------------------------------------------------------------- extraction

_COMPRESSORS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_TAR_ALIASES = {".tgz": ".gz", ".tbz": ".bz2", ".tbz2": ".bz2", ".txz": ".xz"}


def _detect_file_type(path):
    """``(suffix, archive type, compression)`` of ``path`` from its name; archive type is None for a
    single compressed file."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    last = suffixes[-1] if suffixes else ""
    if last in _TAR_ALIASES:
        return last, ".tar", _TAR_ALIASES[last]
    if last in (".tar", ".zip"):
        return last, last, None
    if last in _COMPRESSORS:
        if len(suffixes) > 1 and suffixes[-2] == ".tar":
            return ".tar" + last, ".tar", last
        return last, None, last
    raise RuntimeError(f"Cannot tell how to extract {path}: supported suffixes are .tar, .zip, .tgz, .tbz, "
                       f".tbz2, .txz, and .gz, .bz2, .xz (alone or after .tar).")


def extract_archive(from_path, to_path=None, remove_finished=False, *, max_bytes=None, max_ratio=None):
    """Extract an archive (or decompress a single file) and return the output folder (or file).

    Args:
        from_path: the archive; its type is taken from its suffix.
        to_path: output folder (default: the archive's folder).
        remove_finished: delete the archive afterwards.
        max_bytes: most bytes it may unpack to in all (default ``MAX_EXTRACT_BYTES``, 200 GiB).
        max_ratio: most bytes unpacked per byte of archive (default ``MAX_EXTRACT_RATIO``, 100; an archive
            may always unpack to 1 MiB). Raise either for an archive you trust that is refused.

    Raises:
        UnsafeArchiveError (ArchiveTooLargeError for the size limits) before anything is written;
        CorruptArchiveError naming a truncated or damaged archive.
    """
    from_path = os.fspath(from_path)
    to_path = os.path.dirname(from_path) if to_path is None else os.fspath(to_path)
    suffix, archive_type, compression = _detect_file_type(from_path)
    budget = _Budget(from_path, max_bytes, max_ratio)
    try:
        if archive_type is None:
            out = os.path.join(to_path, os.path.basename(from_path)[: -len(suffix)])
            _decompress(from_path, out, compression, budget)
            result = out
        elif archive_type == ".tar":
            _extract_tar(from_path, to_path, compression, budget)
            result = to_path
        else:
            _extract_zip(from_path, to_path, budget)
            result = to_path
    except (EOFError, tarfile.ReadError, zipfile.BadZipFile, zlib.error, lzma.LZMAError, gzip.BadGzipFile,
            zipfile.LargeZipFile) as err:
        raise CorruptArchiveError(f"{from_path} is truncated or corrupt ({type(err).__name__}: {err}); "
                                  "delete it and download it again") from err
    if remove_finished:
        os.remove(from_path)
    return result


class _Budget:
    """Counts bytes unpacked from ``archive`` and refuses to go past the limits (see extract_archive)."""

    def __init__(self, archive, max_bytes, max_ratio):
        self.archive = archive
        self.max_bytes = MAX_EXTRACT_BYTES if max_bytes is None else max_bytes
        self.max_ratio = MAX_EXTRACT_RATIO if max_ratio is None else max_ratio
        self.limit = min(self.max_bytes, max(self.max_ratio * os.path.getsize(archive), _RATIO_FLOOR))
        self.total = 0

    def add(self, n, entry=None):
        self.total += n
        if self.total <= self.limit:
            return
        where = f" (at entry {entry!r})" if entry else ""
        if self.total > self.max_bytes:
            why = f"more than max_bytes={self.max_bytes:,}"
        else:
            size = os.path.getsize(self.archive)
            why = f"more than max_ratio={self.max_ratio:g} times the archive's {size:,} bytes"
        raise ArchiveTooLargeError(
            f"Refusing to extract {self.archive}: it unpacks to {why}{where}, which looks like a "
            f"decompression bomb. If you trust this archive, pass a larger max_bytes/max_ratio to "
            f"extract_archive.")


class _staging_folder:
    """A hidden temporary folder inside ``to_path`` (same file system, so moves are renames), removed
    with whatever it still holds when the block ends."""

    def __init__(self, to_path, archive):
        self.to_path, self.archive = to_path, archive

    def __enter__(self):
        os.makedirs(self.to_path, exist_ok=True)
        name = f".{os.path.basename(self.archive)}.{os.getpid()}.{uuid.uuid4().hex[:8]}.extracting"
        self.path = os.path.join(self.to_path, name)
        os.mkdir(self.path, 0o700)
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)
        return False


def _move_tree(src, dst):
    """Move everything in folder ``src`` into folder ``dst``: renames, merging into existing real folders;
    an existing file or link in the way is replaced (never followed)."""
    for name in sorted(os.listdir(src)):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        s_dir = os.path.isdir(s) and not os.path.islink(s)
        if s_dir and os.path.isdir(d) and not os.path.islink(d):
            _move_tree(s, d)
            continue
        if os.path.lexists(d) and (s_dir or (os.path.isdir(d) and not os.path.islink(d))):
            if os.path.isdir(d) and not os.path.islink(d):
                shutil.rmtree(d)
            else:
                os.remove(d)
        os.replace(s, d)


def _decompress(from_path, out, compression, budget):
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + f".{os.getpid()}.part"
    try:
        with _COMPRESSORS[compression](from_path, "rb") as src, open(tmp, "wb") as dst:
            for block in iter(lambda: src.read(1 << 20), b""):
                budget.add(len(block), os.path.basename(out))
                dst.write(block)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _name_problem(name):
    """Why an archive member name is unsafe (checked on the text alone), as a predicate; or None."""
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in parts:
        return "has a '..' path component"
    return None


def _check_tar_member(member, archive):
    """Refuse a member whose name, link target or type is unsafe, before anything is written."""
    problem = _name_problem(member.name)
    if problem is None and not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        problem = "is a special file (device or FIFO)"
    if problem is None and member.issym():
        target = member.linkname
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(member.name), target))
        if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
            problem = f"is a symlink pointing outside the extraction folder ({target})"
    if problem is None and member.islnk() and _name_problem(member.linkname):
        problem = f"is a hard link pointing outside the extraction folder ({member.linkname})"
    if problem:
        raise UnsafeArchiveError(f"Refusing to extract {archive}: entry {member.name!r} {problem}.")


def _inside(root, path):
    return os.path.commonpath([root, path]) == root


def _tar_guard(root, archive):
    """A tarfile extraction filter that re-checks each member against what is already on disk.

    The text checks miss escapes through symlinks made by earlier entries (``a -> .``, then ``a/../x``
    style chains); resolving real paths at extraction time catches those. TarFile's own "data" filter
    then runs as a second line of defence where Python has it.
    """
    data_filter = getattr(tarfile, "data_filter", None)

    def guard(member, dest):
        _check_tar_member(member, archive)
        target = os.path.realpath(os.path.join(root, member.name))
        ok = _inside(root, target)
        if ok and member.issym():
            ok = _inside(root, os.path.realpath(os.path.join(os.path.dirname(target), member.linkname)))
        if ok and member.islnk():
            ok = _inside(root, os.path.realpath(os.path.join(root, member.linkname)))
        if not ok:
            raise UnsafeArchiveError(f"Refusing to extract {archive}: entry {member.name!r} resolves to a "
                                     f"path outside {root} (through a link).")
        return data_filter(member, dest) if data_filter else member

    return guard


def _extract_tar(from_path, to_path, compression, budget):
    mode = "r:" + compression[1:] if compression else "r"
    with tarfile.open(from_path, mode) as tar:
        members = []
        for member in tar:  # lazily: a bomb is refused at its first oversized header, not after inflating
            _check_tar_member(member, from_path)
            budget.add(member.size if member.isreg() else 0, member.name)
            members.append(member)
        with _staging_folder(to_path, from_path) as staging:
            root = os.path.realpath(staging)
            guard = _tar_guard(root, from_path)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(root, members=members, filter=guard)
            else:  # Python without extraction filters: apply the same guard member by member
                for member in members:
                    guard(member, root)
                    tar.extract(member, root)
            _move_tree(staging, to_path)


def _extract_zip(from_path, to_path, budget):
    with zipfile.ZipFile(from_path) as zf:
        # zipfile would silently rewrite such names; refusing says the archive is not what it claims to be.
        # Zip "symlinks" are written as plain files holding the target text, so need no check of their own.
        for info in zf.infolist():
            problem = _name_problem(info.filename)
            if problem:
                raise UnsafeArchiveError(
                    f"Refusing to extract {from_path}: entry {info.filename!r} {problem}.")
            budget.add(info.file_size, info.filename)  # zipfile never inflates an entry past this size
        with _staging_folder(to_path, from_path) as staging:
            zf.extractall(staging)
            _move_tree(staging, to_path)
