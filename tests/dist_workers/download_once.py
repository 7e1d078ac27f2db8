"""Worker for tests/test_distributed.py: both ranks ask the hub for one file; only local rank 0 fetches it.

``python download_once.py MIRROR CACHE URL URL2``: the weights mirror is a local folder; every call of the
downloader is recorded (and slowed down, so a second fetch could not hide behind the first). Then rank 0
alone fetches URL2 (the ``if rank == 0:`` habit) and all meet at a barrier: that must not deadlock.
"""
import datetime
import os
import sys
import time

import visionlite.distributed as dist
from visionlite import hub


def main():
    mirror, cache, url, url2 = sys.argv[1:5]
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
    if dist.get_rank() == 0:
        hub.cached_file(url2, model_dir=cache, progress=False)
    dist.barrier()
    print(f"rank {dist.get_rank()} passed the barrier", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
