"""Pretrained-weights cache, with the API of ``torch.hub``'s download half.

Weights are cached under ``<get_dir()>/checkpoints/``. Every file is verified before it is deserialised,
against a full SHA-256 when the weights registry knows one, else against the hash prefix TorchVision puts
in its file names (``resnet50-0676ba61.pth`` carries ``0676ba61``); a file that cannot be verified is
refused. A verified cache hit makes no network call.

Environment:

- ``VISIONLITE_HOME``: cache folder (else ``$XDG_CACHE_HOME/visionlite``, else ``~/.cache/visionlite``).
- ``VISIONLITE_OFFLINE=1``: never touch the network; only cached files (or a local mirror folder) are used.
- ``VISIONLITE_WEIGHTS_MIRROR``: an ``https://`` base URL or a local folder that replaces the official
  host; the file name is kept. A plain ``http://`` mirror also needs ``VISIONLITE_ALLOW_HTTP=1``: most
  registry entries are checked only by a 32-bit hash prefix, which a party on the network path can
  forge for an unencrypted transfer.
- ``VISIONLITE_ALLOW_HTTP=1``: allow plain ``http://`` weights URLs and mirrors (loopback hosts need no
  opt-in).

Downloads of registry weights are bounded by the size the registry records (``meta["_file_size"]`` in
MiB, plus a small margin); ``meta["_sha256_verified"]`` says whether the full SHA-256 (``"full"``) or
only the name's 32-bit prefix (``"prefix"``) is checked.
"""
from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from visionlite.download import DownloadError, download, hash_file, logger, once_per_machine, verify_file

__all__ = [
    "CachedFile", "OfflineError", "cached_file", "clear_cache", "download_url_to_file", "get_dir",
    "hash_prefix_from_name", "http_allowed", "is_offline", "list_cached", "list_partial",
    "load_state_dict_from_url", "resolve_url", "set_dir", "size_limit", "verify_cached",
]

ENV_HOME = "VISIONLITE_HOME"
ENV_OFFLINE = "VISIONLITE_OFFLINE"
ENV_MIRROR = "VISIONLITE_WEIGHTS_MIRROR"
ENV_ALLOW_HTTP = "VISIONLITE_ALLOW_HTTP"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
HASH_REGEX = re.compile(r"-([a-f0-9]+)\.")
# Shorter runs of hex digits are usually not hashes ("resnet-18.pth"); TorchVision uses at least 8.
_MIN_PREFIX = 8

_hub_dir = None


class OfflineError(DownloadError):
    """A file is needed that is not cached, and ``VISIONLITE_OFFLINE`` forbids fetching it."""


def get_dir():
    """The cache folder: set_dir's value, else $VISIONLITE_HOME, else $XDG_CACHE_HOME/visionlite, else
    ~/.cache/visionlite."""
    if _hub_dir is not None:
        return _hub_dir
    if os.environ.get(ENV_HOME):
        return os.path.expanduser(os.environ[ENV_HOME])
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return os.path.join(os.path.expanduser(xdg), "visionlite")


def set_dir(path):
    """Use ``path`` as the cache folder for this process (overrides the environment)."""
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(path))


def _checkpoints_dir(model_dir=None):
    return os.fspath(model_dir) if model_dir is not None else os.path.join(get_dir(), "checkpoints")


def is_offline():
    """True when ``VISIONLITE_OFFLINE`` is set to a true value (1, true, yes, on)."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


def hash_prefix_from_name(name):
    """The SHA-256 prefix TorchVision embeds in a file name (``resnet50-0676ba61.pth`` -> ``0676ba61``)."""
    match = HASH_REGEX.search(os.path.basename(name))
    if match is None or len(match.group(1)) < _MIN_PREFIX:
        return None
    return match.group(1)


def _url_name(url):
    return os.path.basename(urlparse(url).path)


def resolve_url(url):
    """Where to fetch ``url`` from: the official URL, or its file in ``VISIONLITE_WEIGHTS_MIRROR``.

    A mirror folder is returned as a ``file://`` URL.
    """
    mirror = os.environ.get(ENV_MIRROR, "").strip()
    if not mirror:
        _check_scheme(url, "the URL")
        return url
    name = _url_name(url)
    if mirror.startswith(("http://", "https://")):
        _check_scheme(mirror, f"{ENV_MIRROR}={mirror!r}")
        return mirror.rstrip("/") + "/" + name
    if "://" in mirror:
        raise ValueError(f"{ENV_MIRROR}={mirror!r}: expected an http(s):// base URL or a local folder")
    return Path(os.path.expanduser(mirror), name).resolve().as_uri()


def http_allowed():
    """True when ``VISIONLITE_ALLOW_HTTP`` is set to a true value."""
    return os.environ.get(ENV_ALLOW_HTTP, "").strip().lower() in ("1", "true", "yes", "on")


def _check_scheme(url, what):
    """Refuse a plain ``http://`` source unless it is a loopback host (traffic that never leaves this
    machine) or ``VISIONLITE_ALLOW_HTTP`` opts in."""
    parsed = urlparse(url)
    if parsed.scheme != "http" or parsed.hostname in _LOOPBACK or http_allowed():
        return
    raise DownloadError(
        f"Refusing plain http:// for {what}: without TLS anyone on the network path can swap the file, and "
        f"most weights are checked only by a 32-bit hash prefix, which can be forged. Use an https:// "
        f"address, or set {ENV_ALLOW_HTTP}=1 to accept plain http.")


def size_limit(file_size_mb):
    """Most bytes to accept for a file the registry records as ``file_size_mb`` MiB (``meta["_file_size"]``,
    rounded to 3 decimals): 1% plus 1 MiB of margin. None when the size is unknown."""
    if not isinstance(file_size_mb, (int, float)) or not file_size_mb > 0:
        return None
    return int(file_size_mb * 1.01 * 2**20) + 2**20


def download_url_to_file(url, dst, hash_prefix=None, progress=True):
    """Download ``url`` to ``dst``, checking the SHA-256 starts with ``hash_prefix`` when given.

    As ``torch.hub.download_url_to_file``: always fetches, replacing ``dst`` atomically.
    """
    if is_offline():
        raise OfflineError(f"{ENV_OFFLINE} is set, so {url} cannot be downloaded. Unset it, or copy the "
                           f"file to {dst} from a machine with network access.")
    _check_scheme(url, "the URL")
    download(url, dst, hash_prefix=hash_prefix, progress=progress, overwrite=True)


def cached_file(url, model_dir=None, progress=True, file_name=None, sha256=None, max_bytes=None):
    """Path of the verified cached copy of ``url``, downloading it first if needed.

    Args:
        url: official URL of the file.
        model_dir: cache folder (default ``<get_dir()>/checkpoints``).
        progress: show a progress bar while downloading.
        file_name: name to cache under (default: the URL's file name).
        sha256: full expected SHA-256; without it the hash prefix in the file name is checked.
        max_bytes: most bytes the download may have (registry weights pass
            ``size_limit(meta["_file_size"])``).

    Raises:
        DownloadError if the file can't be verified (no hash known) or fetched; OfflineError in offline
        mode when the file is not cached; HashMismatchError if the fetched file is not the expected one.
    """
    with once_per_machine(f"download of {file_name or _url_name(url)}"):  # one download per machine
        return _cached_file(url, model_dir, progress, file_name, sha256, max_bytes)


def _cached_file(url, model_dir, progress, file_name, sha256, max_bytes):
    folder = _checkpoints_dir(model_dir)
    name = file_name or _url_name(url)
    prefix = None if sha256 else (hash_prefix_from_name(name) or hash_prefix_from_name(_url_name(url)))
    if not sha256 and not prefix:
        raise DownloadError(
            f"Cannot verify {name} from {url}: no SHA-256 is known for it and its name carries no hash "
            f"prefix (as in 'resnet50-0676ba61.pth'). Pass sha256=..., or name the file with its hash "
            f"prefix.")
    path = os.path.join(folder, name)
    was_corrupt = False
    if os.path.exists(path):
        if verify_file(path, sha256=sha256, hash_prefix=prefix):
            return path
        logger.warning("Cached %s does not match its expected hash; deleting it and fetching it again", path)
        _remove(path)
        was_corrupt = True
    try:
        source = resolve_url(url)
    except DownloadError:
        if not is_offline():
            raise
        source = url  # offline, nothing is fetched anyway: the offline error below is the one to give
    # A mirror folder is just another local cache, so offline mode may still copy from it.
    if is_offline() and not source.startswith("file:"):
        state = (f"was in the cache ({folder}) but corrupt (it did not match its expected hash), so it was "
                 f"removed" if was_corrupt else f"is not in the cache ({folder})")
        raise OfflineError(
            f"{name} {state}, and {ENV_OFFLINE} is set, so it cannot be downloaded "
            f"from {url}. On a machine with network access run `visionlite download {url}` (or download "
            f"the URL by any means) and copy the file into {folder}, or set {ENV_MIRROR} to a folder "
            f"holding it.")
    return download(source, path, sha256=sha256, hash_prefix=prefix, progress=progress, max_bytes=max_bytes)


def load_state_dict_from_url(url, model_dir=None, map_location=None, progress=True, check_hash=True,
                             file_name=None, weights_only=True, sha256=None, max_bytes=None):
    """Load the state dict at ``url``, downloading and verifying it first, as ``torch.hub``'s namesake.

    Args:
        url, model_dir, progress, file_name, sha256, max_bytes: as :func:`cached_file`.
        map_location: device for the loaded tensors, passed to ``visionlite.load``.
        check_hash: kept for compatibility; verification always happens and cannot be turned off.
        weights_only: must be True; visionlite reads tensors only, never arbitrary pickled objects.
    """
    if not weights_only:
        raise ValueError("weights_only=False is not supported: visionlite loads tensors only and never "
                         "unpickles arbitrary objects.")
    if not check_hash:
        warnings.warn("check_hash=False is ignored: visionlite always verifies weights before loading them",
                      stacklevel=2)
    path = cached_file(url, model_dir=model_dir, progress=progress, file_name=file_name, sha256=sha256,
                       max_bytes=max_bytes)
    from visionlite.core.serialization import load

    return load(path, map_location=map_location)


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass  # another process removed or replaced it first


# ------------------------------------------------------------------------------- cache helpers (CLI)

@dataclass(frozen=True)
class CachedFile:
    """A file in the weights cache."""

    name: str
    path: str
    size: int


def list_cached(model_dir=None):
    """The cached weight files, sorted by name (lock and partial download files are left out)."""
    folder = _checkpoints_dir(model_dir)
    if not os.path.isdir(folder):
        return []
    found = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_file() and not entry.name.startswith(".") and not entry.name.endswith(".lock"):
            found.append(CachedFile(entry.name, entry.path, entry.stat().st_size))
    return found


_PART = re.compile(r"\.(?P<name>.+)\.\d+\.[0-9a-f]{8}\.part")


def list_partial(model_dir=None):
    """Partial downloads left by killed processes (``.<name>.<pid>.<id>.part``), sorted by name; ``name``
    is the file they belong to. The next download of that file resumes from the largest."""
    folder = _checkpoints_dir(model_dir)
    if not os.path.isdir(folder):
        return []
    found = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        match = _PART.fullmatch(entry.name)
        if match and entry.is_file():
            found.append(CachedFile(match.group("name"), entry.path, entry.stat().st_size))
    return found


def verify_cached(model_dir=None, sha256s=None):
    """Check each cached file: against its full SHA-256 when ``sha256s`` (``{file name: hex}``) has it, else
    against the hash prefix in its name.

    Returns a list of ``(CachedFile, status)`` with status ``"ok"`` (full SHA-256 matched), ``"ok-prefix"``
    (only the 32-bit name prefix could be checked), ``"corrupt"`` or ``"unverifiable"`` (no hash known).
    """
    sha256s = sha256s or {}
    results = []
    for item in list_cached(model_dir):
        full, prefix = sha256s.get(item.name), hash_prefix_from_name(item.name)
        if full:
            status = "ok" if hash_file(item.path) == full.lower() else "corrupt"
        elif prefix is None:
            status = "unverifiable"
        else:
            status = "ok-prefix" if hash_file(item.path).startswith(prefix) else "corrupt"
        results.append((item, status))
    return results


def clear_cache(model_dir=None, names=None):
    """Delete cached files (all, or those in ``names``), their partial downloads and lock files; returns the
    names deleted (a partial download as ``'<name> (partial)'``)."""
    removed = []
    for item in list_cached(model_dir):
        if names is None or item.name in names:
            _remove(item.path)
            _remove(item.path + ".lock")
            removed.append(item.name)
    for item in list_partial(model_dir):
        if names is None or item.name in names:
            _remove(item.path)
            removed.append(f"{item.name} (partial)")
    return removed
