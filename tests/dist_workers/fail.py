"""Worker for tests/test_distributed.py: one rank fails while rank 0 waits in a collective.

``python fail.py raise|kill|leave|late``: rank 1 raises, is killed (SIGKILL), leaves without taking part,
or comes late; rank 0 meanwhile all-reduces (``late``: waits at a monitored barrier) under a 3 s timeout.
The job must end on its own, non-zero, naming rank 1.
"""
import datetime
import os
import signal
import sys
import time

import visionlite as vl
import visionlite.distributed as dist


def main():
    mode = sys.argv[1]
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=3))
    if dist.get_rank() == 1:
        time.sleep(0.5)
        if mode == "raise":
            raise ValueError("boom in the data pipeline")
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "late":
            time.sleep(20)
        if mode == "leave":
            sys.exit(0)  # leaves the job early, as a rank with fewer batches would
    if mode == "late":
        dist.monitored_barrier()
    t = vl.ones(3)
    dist.all_reduce(t)
    print("rank 0 finished the all_reduce (it should not have)", flush=True)


if __name__ == "__main__":
    main()
