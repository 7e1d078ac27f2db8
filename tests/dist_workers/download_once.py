"""Worker for tests/test_distributed.py: both ranks ask the hub for one file; only local rank 0 fetches it.

``python download_once.py MIRROR CACHE URL``: the weights mirror is a local folder; every call of the
downloader is recorded (and slowed down, so a second fetch could not hide behind the first).
"""
import datetime
import os
import sys
import time

import visionlite.distributed as dist
from visionlite import hub


def main():
    mirror, cache, url = sys.argv[1:4]
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=30))
    calls = []
    real = hub.download

    def recording(*args, **kwargs):
        calls.append(args[0])
        time.sleep(1.0)
        return real(*args, **kwargs)

    hub.download = recording
    os.environ["VISIONLITE_WEIGHTS_MIRROR"] = mirror
    path = hub.cached_file(url, model_dir=cache, progress=False)
    with open(path, "rb") as f:
        body = f.read()
    print(f"rank {dist.get_rank()} local {dist.get_local_rank()} fetched {len(calls)} read {len(body)}",
          flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
