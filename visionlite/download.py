"""The one downloader behind the weights hub and the datasets.

:func:`download` fetches a file from one or more sources (mirrors are tried in turn) into a destination
path, and only ever leaves there a complete file that passed its hash check:

* the body is streamed with ``requests`` into a temporary file in the destination folder (unique per
  process and call), verified, then moved into place with ``os.replace``, which is atomic;
* a ``filelock.FileLock`` keyed by the destination's real path makes concurrent processes download once:
  the others wait, then find the finished file and reuse it. Lock files live in a private folder of the
  temp dir (see :func:`_lock_path`), so dataset folders and the weights cache hold only real files;
* connection errors, timeouts and HTTP 5xx/429 are retried with exponential backoff; a transfer cut
  short is resumed with an HTTP ``Range`` request (from scratch if the server ignores it);
* a process killed mid-transfer leaves its ``.<name>.<pid>.<id>.part`` file; the next process to fetch
  the same destination takes it over under the lock and resumes from it (any other stale parts of that
  destination are removed), starting over if the resumed file fails its hash check;
* an HTML page served in place of the file (a login, quota or error page) is detected and reported;
* transfers are bounded: a body (after any ``Content-Encoding`` is undone, in bounded steps) larger than
  ``max_bytes``, an overall ``deadline``, or a server slower than ``MIN_SPEED`` (a drip of bytes that never
  trips the read timeout) stops with a DownloadError, and the partial file is removed.

``requests``, ``tqdm`` and ``filelock`` are imported inside the functions that need them, so importing
this module (and ``visionlite``) stays cheap. Status goes to the ``visionlite.download`` logger.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import stat
import sys
import tempfile
import time
import uuid
import zlib
from urllib.parse import urlparse
from urllib.request import url2pathname

__all__ = ["DownloadError", "HashMismatchError", "download", "hash_file", "once_per_machine", "partial_files",
           "verify_file"]

logger = logging.getLogger("visionlite.download")

TRIES = 3
BACKOFF_BASE = 1.0  # seconds; retry k (from 0) waits BACKOFF_BASE * 2**k. Tests set it near zero.
TIMEOUT = (10.0, 60.0)  # (connect, read) seconds, as requests takes them
CHUNK_SIZE = 1 << 16
DEADLINE = 6 * 3600.0  # seconds for a whole download, all attempts together (the deadline argument)
MIN_SPEED = (1024, 60.0)  # an attempt receiving under 1 KiB in any 60 s is dropped (and retried)

_SSL_HINT = (
    "If a proxy or firewall on your network inspects TLS traffic, point REQUESTS_CA_BUNDLE (or "
    "CURL_CA_BUNDLE) at your organisation's CA bundle, a PEM file. Certificate verification cannot be "
    "turned off."
)


def once_per_machine(what="download"):
    """A context manager: in a ``visionlite.distributed`` process group, local rank 0 of each machine runs
    the block (a download) while the machine's other ranks wait, then they run it and find the verified
    file in place. Without a process group it does nothing (and imports nothing)."""
    if "visionlite.core.distributed.process_group" not in sys.modules:
        import contextlib

        return contextlib.nullcontext()
    from visionlite.core.distributed.once import first_per_machine

    return first_per_machine(what)


class DownloadError(RuntimeError):
    """A file could not be fetched. The message names the source and what to try."""


class HashMismatchError(DownloadError):
    """A fetched file did not match its expected hash; it has been deleted."""


class _Retry(Exception):
    """An attempt failed in a way that a later attempt may not (dropped connection, HTTP 5xx)."""


# --------------------------------------------------------------------------------------------- hashes

def hash_file(path, algorithm="sha256", chunk_size=1 << 20):
    """Hex digest of the file at ``path`` with ``algorithm`` (any name ``hashlib.new`` knows)."""
    # md5 only checks integrity here; saying so keeps it usable on FIPS-restricted systems.
    h = hashlib.new(algorithm, usedforsecurity=False) if algorithm == "md5" else hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk_size), b""):
            h.update(block)
    return h.hexdigest()


def _expected_hashes(sha256=None, md5=None, hash_prefix=None):
    """The checks to run, as ``(algorithm, expected hex, is_prefix)`` triples."""
    checks = []
    if sha256:
        checks.append(("sha256", sha256.lower(), False))
    elif hash_prefix:
        checks.append(("sha256", hash_prefix.lower(), True))
    if md5:
        checks.append(("md5", md5.lower(), False))
    return checks


def _first_mismatch(path, checks):
    """``(algorithm, expected, actual)`` for the first failing check, or None when all pass."""
    for algorithm, expected, is_prefix in checks:
        actual = hash_file(path, algorithm)
        ok = actual.startswith(expected) if is_prefix else actual == expected
        if not ok:
            return algorithm, expected, actual
    return None


def verify_file(path, *, sha256=None, md5=None, hash_prefix=None):
    """True when ``path`` exists and matches every hash given (a full SHA-256, its hex prefix, an MD5)."""
    if not os.path.isfile(path):
        return False
    return _first_mismatch(path, _expected_hashes(sha256, md5, hash_prefix)) is None


# ------------------------------------------------------------------------------------------- download

def download(urls, dst, *, sha256=None, md5=None, hash_prefix=None, progress=True, overwrite=False,
             tries=None, backoff=None, timeout=None, max_redirects=None, expect_html=False, max_bytes=None,
             deadline=None, min_speed=None):
    """Fetch a file to ``dst`` and return ``dst``.

    Args:
        urls: one URL or a sequence of mirrors tried in turn; ``http(s)://`` or ``file://``.
        dst: destination file path; its folder is created if needed.
        sha256, md5, hash_prefix: expected hashes (hex); ``hash_prefix`` is a leading part of the SHA-256.
            A file that fails a check is deleted, never kept.
        progress: show a tqdm bar (only when stderr is a terminal).
        overwrite: fetch even if ``dst`` already exists and verifies.
        tries: attempts per source for retryable failures (default ``TRIES``).
        backoff: base of the exponential wait between attempts in seconds (default ``BACKOFF_BASE``).
        timeout: ``(connect, read)`` timeouts in seconds (default ``TIMEOUT``).
        max_redirects: most redirects to follow (requests' default when None).
        expect_html: the file really is an HTML page; skip the interstitial-page check.
        max_bytes: most bytes the file may have (a larger or endless body, or a ``Content-Encoding`` that
            inflates past it, is refused); None for no limit.
        deadline: seconds the whole download may take, all sources and attempts together (default
            ``DEADLINE``).
        min_speed: ``(bytes, seconds)``: an attempt that receives fewer bytes in any such window is dropped
            and retried (default ``MIN_SPEED``).

    Raises:
        DownloadError (or HashMismatchError) naming the source(s) and how to fix the problem.
    """
    from filelock import FileLock, Timeout

    urls = [urls] if isinstance(urls, (str, os.PathLike)) else list(urls)
    if not urls:
        raise ValueError("download() needs at least one URL")
    dst = os.path.abspath(os.fspath(dst))
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    checks = _expected_hashes(sha256, md5, hash_prefix)
    if max_bytes is not None and (not isinstance(max_bytes, int) or max_bytes < 0):
        raise ValueError(f"max_bytes must be a non-negative int or None, got {max_bytes!r}")
    opts = dict(progress=progress, tries=max(1, TRIES if tries is None else tries),
                backoff=BACKOFF_BASE if backoff is None else backoff, timeout=timeout or TIMEOUT,
                max_redirects=max_redirects, expect_html=expect_html, max_bytes=max_bytes,
                deadline=DEADLINE if deadline is None else deadline, min_speed=min_speed or MIN_SPEED)

    lock = FileLock(_lock_path(dst))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        logger.info("Waiting for another process to finish downloading %s", dst)
        lock.acquire()
    try:
        # Checked under the lock: a process that waited finds here the file the other one fetched.
        if os.path.exists(dst) and not overwrite:
            mismatch = _first_mismatch(dst, checks)
            if mismatch is None:
                logger.info("Using downloaded and verified file: %s", dst)
                _adopt_part(dst, keep=False)  # parts of earlier, killed downloads are of no use now
                return dst
            logger.warning("%s does not match its expected %s hash; deleting it and downloading it again",
                           dst, mismatch[0])
            os.remove(dst)
        errors = []
        opts["ends"] = time.monotonic() + opts["deadline"]  # from here: waiting for the lock does not count
        part = _adopt_part(dst)
        for url in urls:
            url = os.fspath(url)
            try:
                _fetch_verified(url, dst, checks, opts, part)
                return dst
            except DownloadError as err:
                errors.append(err)
                if len(urls) > 1:
                    logger.warning("%s", err)
        raise _combine(errors, dst)
    finally:
        lock.release()


# One folder per user: a folder shared between users would let one plant a link where another's lock goes.
# Processes of different users thus do not wait for each other; at worst both fetch the file, and each
# still moves a complete, verified copy into place atomically.
_LOCK_FOLDER = f"visionlite-locks-{os.getuid()}" if hasattr(os, "getuid") else "visionlite-locks"


def _lock_path(dst):
    """The lock file guarding ``dst``: ``<temp dir>/visionlite-locks-<uid>/<hash of its real path>.lock``."""
    folder = os.path.join(tempfile.gettempdir(), _LOCK_FOLDER)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    if hasattr(os, "getuid"):
        st = os.lstat(folder)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
            raise DownloadError(
                f"The download lock folder {folder} is not a private folder of this user (a link, owned by "
                f"someone else, or writable by others). Remove it, or point TMPDIR at a folder of your own.")
    key = hashlib.sha256(os.fsencode(os.path.normcase(os.path.realpath(dst)))).hexdigest()[:32]
    return os.path.join(folder, key + ".lock")


def _combine(errors, dst):
    if len(errors) == 1:
        return errors[0]
    cls = HashMismatchError if all(isinstance(e, HashMismatchError) for e in errors) else DownloadError
    lines = "\n".join(f"  - {e}" for e in errors)
    return cls(f"All {len(errors)} sources failed for {os.path.basename(dst)}:\n{lines}")


def _part_path(dst):
    folder, name = os.path.split(dst)
    # Unique per process and call, so concurrent writers (even without a working lock) never share it.
    return os.path.join(folder, f".{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")


def partial_files(dst):
    """The ``.part`` files that downloads of ``dst`` left behind (killed processes), largest first."""
    folder, name = os.path.split(os.path.abspath(os.fspath(dst)))
    pattern = re.compile(r"\." + re.escape(name) + r"\.\d+\.[0-9a-f]{8}\.part")
    try:
        entries = [e for e in os.scandir(folder) if pattern.fullmatch(e.name) and e.is_file()]
    except FileNotFoundError:
        return []
    return [e.path for e in sorted(entries, key=lambda e: e.stat().st_size, reverse=True)]


def _adopt_part(dst, keep=True):
    """Take over the largest part file a killed download of ``dst`` left (called under the lock, so no live
    process of this user is writing it) under a new name of this process; remove the others (all of them
    when not ``keep``)."""
    adopted = None
    for path in partial_files(dst):
        try:
            if hasattr(os, "getuid") and os.stat(path).st_uid != os.getuid():
                continue  # another user's; their own next download deals with it
            if keep and adopted is None and os.path.getsize(path) > 0:
                adopted = _part_path(dst)
                os.replace(path, adopted)
                logger.info("Resuming the partial download %s (%d bytes)", path, os.path.getsize(adopted))
            else:
                os.remove(path)
        except OSError:
            continue
    return adopted


def _fetch_verified(url, dst, checks, opts, part=None):
    """Fetch one source into a temporary file, verify it, and move it to ``dst``.

    ``part``: a partial file of an earlier, killed download to resume from (http sources only).
    """
    resumed = part is not None and os.path.exists(part) and not url.startswith("file:")
    tmp = part if resumed else _part_path(dst)
    if part is not None and not resumed and os.path.exists(part):
        os.remove(part)
    try:
        _fetch_into(url, dst, tmp, opts)
        mismatch = _first_mismatch(tmp, checks)
        if mismatch is not None and resumed:
            logger.warning("%s resumed from a partial file does not match its hash; downloading it again",
                           dst)
            os.remove(tmp)
            _fetch_into(url, dst, tmp, opts)
            mismatch = _first_mismatch(tmp, checks)
        if mismatch is not None:
            algorithm, expected, actual = mismatch
            raise HashMismatchError(
                f"The file downloaded from {url} does not match its expected {algorithm} hash "
                f"(expected {expected}, got {actual}); it was deleted. The file at that address may have "
                f"changed or been damaged in transit: try again, or use another source.")
        os.replace(tmp, dst)
    except Exception:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    # Any other BaseException (Ctrl-C) keeps the part file: the next download resumes from it.


def _fetch_into(url, dst, tmp, opts):
    if url.startswith("file:"):
        _copy_local(url, tmp, opts["max_bytes"])
    else:
        logger.info("Downloading %s to %s", url, dst)
        _fetch_http(url, tmp, os.path.basename(dst), opts)


def _copy_local(url, tmp, max_bytes=None):
    path = url2pathname(urlparse(url).path)
    if not os.path.isfile(path):
        raise DownloadError(f"{path} not found (source {url}); place the file there or use another source.")
    if max_bytes is not None and os.path.getsize(path) > max_bytes:
        raise _too_large(url, os.path.getsize(path), max_bytes)
    logger.info("Copying %s", path)
    shutil.copyfile(path, tmp)


def _fetch_http(url, tmp, name, opts):
    """Stream ``url`` into ``tmp``, retrying and resuming; a partial ``tmp`` is kept between attempts."""
    import requests

    # trust_env stays on: HTTPS_PROXY, NO_PROXY and REQUESTS_CA_BUNDLE are honoured as requests does.
    with requests.Session() as session:
        if opts["max_redirects"] is not None:
            session.max_redirects = opts["max_redirects"]
        tries, last = opts["tries"], None
        for attempt in range(tries):
            if attempt:
                wait = opts["backoff"] * 2 ** (attempt - 1)
                logger.warning("Attempt %d/%d for %s failed (%s); retrying in %.3g s",
                               attempt, tries, url, last, wait)
                time.sleep(wait)
            if time.monotonic() >= opts["ends"]:
                raise _deadline_error(url, opts)
            try:
                _attempt(session, url, tmp, name, opts)
                return
            except _Retry as err:
                last = err
    raise DownloadError(
        f"Could not download {url} after {tries} attempts: {last}. Check that the server is up and that "
        f"this machine can reach it (network, proxy settings such as HTTPS_PROXY), or fetch the file "
        f"elsewhere and place it at the destination.")


def _attempt(session, url, tmp, name, opts):
    """One GET of ``url``; raises _Retry for failures worth another attempt, DownloadError otherwise."""
    import requests
    import urllib3

    offset = os.path.getsize(tmp) if os.path.exists(tmp) else 0
    # identity encoding keeps Content-Length and Range offsets in bytes of the file itself.
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    connect, read = opts["timeout"] if isinstance(opts["timeout"], tuple) else (opts["timeout"],) * 2
    left = max(opts["ends"] - time.monotonic(), 0.001)  # a blocked read must not outlive the deadline
    try:
        resp = session.get(url, stream=True, timeout=(min(connect, left), min(read, left)), headers=headers)
    except requests.exceptions.SSLError as err:
        raise DownloadError(f"SSL/TLS error for {url} ({_reason(err)}). {_SSL_HINT}") from err
    except requests.exceptions.TooManyRedirects as err:
        raise DownloadError(f"Too many redirects for {url}; the address may have moved.") from err
    except requests.exceptions.Timeout as err:
        if time.monotonic() >= opts["ends"]:
            raise _deadline_error(url, opts) from err
        raise _Retry("timed out") from err
    except requests.exceptions.ConnectionError as err:
        raise _Retry(f"cannot connect ({_reason(err)})") from err
    except requests.exceptions.RequestException as err:
        raise DownloadError(f"Invalid request for {url}: {err}") from err

    with resp:
        status = resp.status_code
        if status == 416 and offset:
            os.remove(tmp)
            raise _Retry("the server refused to resume the partial file; starting over")
        if status >= 500 or status == 429:
            raise _Retry(f"HTTP {status} {resp.reason}")
        if status >= 400:
            hint = (" The file is not at this address: check the URL or mirror."
                    if status in (404, 410) else "")
            raise DownloadError(f"HTTP {status} {resp.reason} for {url}.{hint}")
        resumed = status == 206
        if resumed and (not offset or _range_start(resp) != offset):
            if os.path.exists(tmp):
                os.remove(tmp)
            raise _Retry("the server sent a different part of the file than asked; starting over")
        if not resumed:
            offset = 0  # the server sent the whole file (it ignored Range, or there was none)
        content_type = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type == "text/html" and not opts["expect_html"]:
            raise _html_error(url)
        # A server may compress despite "identity"; then lengths and offsets no longer count file bytes,
        # so the body is decoded (by _Inflater, in bounded steps), its length is not checked, and a cut
        # transfer restarts from scratch.
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
        inflater = None if encoding in ("", "identity") else _Inflater(encoding, url)
        length = resp.headers.get("Content-Length", "")
        total = offset + int(length) if length.isdigit() and inflater is None else None
        if total is not None and opts["max_bytes"] is not None and total > opts["max_bytes"]:
            raise _too_large(url, total, opts["max_bytes"])
        bar = _progress_bar(opts["progress"], total, offset, name)
        try:
            with open(tmp, "ab" if resumed else "wb") as f:
                written = _write_body(resp, f, offset, inflater, url, opts, bar)
        except urllib3.exceptions.HTTPError as err:
            if inflater is not None:
                os.remove(tmp)
            raise _Retry(f"connection lost ({type(err).__name__}: {_reason(err)})") from err
        finally:
            bar.close()
        if total is not None and written < total:
            raise _Retry(f"transfer ended after {written} of {total} bytes")


_HTML_SNIFF = 1024  # bytes gathered at the start of a body before deciding whether it is an HTML page


def _write_body(resp, f, written, inflater, url, opts, bar):
    """Stream the body into ``f`` (``written`` bytes already there) within the limits; returns the size."""
    limit = opts["max_bytes"]
    min_bytes, window = opts["min_speed"]
    window_start, window_bytes = time.monotonic(), 0
    # The first bytes are held back until there are enough to tell an HTML page (reads return what has
    # arrived, which may be a handful of bytes).
    head = None if written or opts["expect_html"] else b""

    def emit(chunk):
        nonlocal written
        written += len(chunk)
        if limit is not None and written > limit:
            raise _too_large(url, written, limit, partial=True)
        f.write(chunk)
        bar.update(len(chunk))

    for raw in _raw_chunks(resp.raw):
        for chunk in (inflater.feed(raw) if inflater is not None else (raw,)):
            if head is not None:
                head += chunk
                if len(head) < _HTML_SNIFF:
                    continue
                chunk, head = _checked_head(head, url), None
            emit(chunk)
        f.flush()  # what has arrived is on disk: a process killed now leaves a part file to resume from
        now = time.monotonic()
        if now >= opts["ends"]:
            raise _deadline_error(url, opts)
        window_bytes += len(raw)
        if now - window_start >= window:
            if window_bytes < min_bytes:
                raise _Retry(f"the server sent only {window_bytes} bytes in {now - window_start:.3g} s "
                             f"(less than {min_bytes} per {window:g} s)")
            window_start, window_bytes = now, 0
    for chunk in (inflater.flush(url) if inflater is not None else ()):
        if head is not None:
            head += chunk
            continue
        emit(chunk)
    if head:
        emit(_checked_head(head, url))
    return written


def _checked_head(head, url):
    if _looks_like_html(head):
        raise _html_error(url)
    return head


class _Inflater:
    """Undoes a gzip/deflate ``Content-Encoding`` at most CHUNK_SIZE output bytes at a time, so a small
    compressed body that inflates to gigabytes (a decompression bomb) is stopped by the size limit before
    it is held in memory (urllib3's decoder inflates each network chunk whole)."""

    def __init__(self, encoding, url):
        if encoding not in ("gzip", "x-gzip", "deflate"):
            raise DownloadError(f"{url} was sent with Content-Encoding {encoding!r}, which visionlite does "
                                "not decode (it asks for the file as is); download it by hand, or use "
                                "another source.")
        self._z = zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or zlib header, detected

    def feed(self, data):
        try:
            while data:
                out = self._z.decompress(data, CHUNK_SIZE)
                data = self._z.unconsumed_tail
                if out:
                    yield out
        except zlib.error as err:
            raise DownloadError(f"the compressed body is corrupt ({err})") from None

    def flush(self, url):
        if not self._z.eof:
            raise _Retry("the compressed body ended early")
        return []


def _raw_chunks(raw):
    """The body's bytes as they arrive, undecoded. urllib3's ``read1`` returns whatever has arrived, so the
    deadline and speed checks run between small reads even when a server drips bytes (``read(n)`` would
    block until n bytes came). It reads urllib3's stream, not requests' iter_content: on a dropped
    connection the latter discards the bytes it already buffered, which a resume would then fetch again."""
    if not hasattr(raw, "read1"):  # urllib3 < 2.3
        yield from raw.stream(CHUNK_SIZE, decode_content=False)
        return
    while True:
        data = raw.read1(CHUNK_SIZE, decode_content=False)
        if not data:
            return
        yield data


def _too_large(url, size, limit, partial=False):
    what = f"more than {limit:,} bytes" if partial else f"{size:,} bytes"
    return DownloadError(
        f"{url} sent {what}, but the file should have at most {limit:,} (max_bytes): refusing it, nothing "
        f"was kept. The server may be serving something else; if the file really grew, raise max_bytes.")


def _deadline_error(url, opts):
    return DownloadError(
        f"Downloading {url} took longer than its deadline of {opts['deadline']:g} s (the server may be "
        f"stalling or very slow); nothing was kept. Try again later or another source, or pass a longer "
        f"deadline.")


def _reason(err):
    """The telling end of a requests error ("[Errno 111] Connection refused"), without the pool wrapping."""
    text = str(err)
    match = re.search(r"\[(?:Errno -?\d+|SSL[^\]]*)\][^'\"()]*", text)
    return match.group(0).strip() if match else text


def _range_start(resp):
    match = re.match(r"bytes\s+(\d+)-", resp.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


# What an HTML page starts with once a BOM, whitespace, an XML declaration and comments are skipped. The
# tag must end there ("<htmlish" is not "<html"), and comments are skipped whole, whatever their length.
_HTML_PRELUDE = re.compile(rb"(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*", re.DOTALL)
_HTML_START = re.compile(rb"(?:<!doctype\s+html|<(?:html|head|body|title))[\s/>]", re.IGNORECASE)


def _looks_like_html(chunk):
    """True when the first chunk of a body starts like an HTML page."""
    start = _HTML_PRELUDE.match(chunk).end()
    return _HTML_START.match(chunk, start) is not None


def _html_error(url):
    return DownloadError(
        f"{url} returned an HTML page instead of the file (often a login, quota or error page). Open the "
        f"URL in a browser to see why, or download the file by hand and place it at the destination.")


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress_bar(enabled, total, initial, name):
    # A bar written to a log file or CI output is noise; only draw it for a person watching a terminal.
    if not enabled or not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, desc=name)
