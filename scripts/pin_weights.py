"""Pin the full SHA-256 of every registered weights file in visionlite's registry (models/weights.json).

TorchVision's file names carry only the first 8 hex digits of each file's SHA-256; this script downloads
each file (verifying that prefix), hashes it in full, and records the hash, so later downloads are checked
against all 256 bits. Files go through the normal cache (``VISIONLITE_WEIGHTS_MIRROR`` works), so a pinned
file is also ready for offline use unless ``--delete-after`` is given.

    python scripts/pin_weights.py                  # every model (about 4.5 GB to download)
    python scripts/pin_weights.py --include 'resnet*' --delete-after
    python scripts/pin_weights.py --dry-run        # show what is pinned and what is not
"""
import argparse
import fnmatch
import json
import logging
import os
import sys

from visionlite import hub
from visionlite.download import DownloadError, hash_file
from visionlite.models import _api


def _load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _save(path, registry):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(registry, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registry", default=_api.REGISTRY_FILE, help="registry JSON to update")
    parser.add_argument("--include", action="append", help="fnmatch pattern(s) of model names")
    parser.add_argument("--repin", action="store_true", help="hash again files that are already pinned")
    parser.add_argument("--delete-after", action="store_true", help="remove each file once hashed")
    parser.add_argument("--dry-run", action="store_true", help="list the state of each entry and exit")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    registry = _load(args.registry)
    failures = 0
    for model, entries in registry["models"].items():
        if args.include and not any(fnmatch.fnmatch(model, p) for p in args.include):
            continue
        for name, entry in entries.items():
            label = f"{model}.{name}"
            if entry.get("sha256") and not args.repin:
                print(f"{label:40s} pinned {entry['sha256']}")
                continue
            if args.dry_run:
                print(f"{label:40s} not pinned ({entry['url']})")
                continue
            try:
                # Without a full hash, cached_file checks the prefix in the official name before returning.
                path = hub.cached_file(entry["url"], progress=args.progress,
                                       max_bytes=hub.size_limit(entry.get("meta", {}).get("_file_size")))
            except DownloadError as err:
                failures += 1
                print(f"{label:40s} FAILED: {err}", file=sys.stderr)
                continue
            digest = hash_file(path)
            prefix = hub.hash_prefix_from_name(entry["url"])
            if prefix and not digest.startswith(prefix):  # checked by cached_file: a last guard
                raise RuntimeError(f"{path}: SHA-256 {digest} does not start with {prefix}")
            entry["sha256"] = digest
            _save(args.registry, registry)  # after each file, so an interrupted run keeps its progress
            print(f"{label:40s} pinned {digest}")
            if args.delete_after:
                os.remove(path)
    if failures:
        print(f"{failures} file(s) could not be fetched; run again where the network (or a mirror) is "
              "reachable", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
