"""Work handles: what an ``async_op=True`` collective returns, and how every collective waits.

A Work holds the MPI requests (or a CUDA event, for NCCL) of one operation and the steps that finish it
(copying a staged buffer back into the tensor, dividing for AVG). ``wait`` polls the requests instead of
blocking inside MPI, so a peer that died or never arrives becomes a timeout error naming the operation
rather than a hang; polling is also what moves MPICH's non-blocking collectives forward.
"""
import time

__all__ = ["Work", "DistTimeoutError"]


class DistTimeoutError(RuntimeError):
    """A collective or point-to-point operation did not complete within the group's timeout."""


class Work:
    """A pending operation. ``wait()`` blocks until it completes (or raises on timeout) and returns True;
    ``is_completed()`` tests without blocking; ``result()`` gives the output tensors."""

    def __init__(self, name, group, requests=(), finish=(), outputs=(), test=None):
        self._name, self._group = name, group
        self._requests = list(requests)
        self._finish = list(finish)
        self._outputs = list(outputs)
        self._test = test  # NCCL: a callable telling whether the stream's event has fired
        self._done = False
        self._exception = None

    def _poll(self):
        if self._done:
            return True
        if self._test is not None:
            ready = self._test()
        else:
            ready = not self._requests or self._group._mpi.Request.Testall(self._requests)
        if ready:
            self._complete()
        return self._done

    def _complete(self):
        self._done = True
        for step in self._finish:
            step()
        self._finish = []

    def is_completed(self):
        """True once the operation has finished (finishing steps included)."""
        return self._poll()

    def is_success(self):
        return self._poll() and self._exception is None

    def exception(self):
        return self._exception

    def wait(self, timeout=None):
        """Block until done; ``timeout`` (seconds or timedelta) defaults to the group's. Returns True."""
        if self._done:
            return True
        limit = self._group.timeout if timeout is None else _seconds(timeout)
        deadline = time.monotonic() + limit
        spins = 0
        while not self._poll():
            if time.monotonic() > deadline:
                self._exception = DistTimeoutError(self._group._timeout_message(self._name, limit))
                raise self._exception
            spins += 1
            # Short sleeps after a few quick polls: busy waiting would steal the core a peer may need.
            if spins > 20:
                time.sleep(min(1e-3, 2e-5 * 1.2 ** min(spins - 20, 30)))
        return True

    def result(self):
        """The output tensors of the operation (after ``wait``)."""
        self.wait()
        return self._outputs

    def synchronize(self):
        self.wait()

    def __repr__(self):
        return f"<visionlite.distributed.Work {self._name} completed={self._done}>"


def _seconds(timeout):
    total = getattr(timeout, "total_seconds", None)
    value = float(total() if total is not None else timeout)
    if value <= 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    return value


def done_work(name, group, outputs=()):
    """A Work that has already completed (operations that needed no communication)."""
    w = Work(name, group, outputs=outputs)
    w._done = True
    return w
