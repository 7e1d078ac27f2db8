"""What runs inside a DataLoader worker process: seeding, fetching batches, and reporting errors.

Each worker reads tasks ``(task_id, indices)`` from its own pipe and answers every task, in order, on
its own result pipe: with the batch, with a wrapped exception, or (for an exhausted IterableDataset)
with an end marker. A background thread does the writing, so the worker keeps preparing the next
batch while the main process is busy.
"""
import os
import pickle
import queue
import random
import sys
import threading
import traceback

import numpy as np

from . import _channel

__all__ = ["get_worker_info", "WorkerInfo"]

_worker_info = None
_PARENT_CHECK_S = 1.0  # how often an idle worker checks that the main process still exists


class WorkerInfo:
    """Facts about the current worker: ``id``, ``num_workers``, ``seed`` and its copy of ``dataset``."""

    __slots__ = ("id", "num_workers", "seed", "dataset")

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            object.__setattr__(self, k, v)

    def __setattr__(self, key, value):
        raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")

    def __repr__(self):
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in ("id", "num_workers", "seed"))
        return f"WorkerInfo({fields}, dataset={type(self.dataset).__name__})"


def get_worker_info():
    """In a DataLoader worker process, its ``WorkerInfo``; in the main process, ``None``."""
    return _worker_info


def seed_everything(seed, worker_id, base_seed):
    """Seed Python's ``random``, numpy's global generator and visionlite's default generator."""
    from ..random import manual_seed

    random.seed(seed)
    # numpy's legacy seed takes 32-bit words; hashing (base seed, worker id) keeps workers' streams apart.
    np.random.seed(np.random.SeedSequence([base_seed, worker_id]).generate_state(4))
    manual_seed(seed)


class KeyErrorMessage(str):
    """A message that KeyError prints as is (KeyError would otherwise show it quoted, on one line)."""

    def __repr__(self):
        return self


class ExceptionWrapper:
    """An exception caught in a worker, carried to the main process with its traceback text."""

    def __init__(self, where):
        exc_type, exc, tb = sys.exc_info()
        self.exc_type = exc_type if _picklable(exc_type) else RuntimeError
        self.msg = f"Caught {exc_type.__name__} {where}.\nOriginal " + "".join(
            traceback.format_exception(exc_type, exc, tb))

    def reraise(self):
        msg = KeyErrorMessage(self.msg) if self.exc_type is KeyError else self.msg
        try:
            exc = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None  # the type needs other constructor arguments
        raise exc


def _picklable(obj):
    try:
        pickle.dumps(obj)
        return True
    except Exception:
        return False


class IterableEnd:
    """Sent by a worker whose copy of an IterableDataset has no more samples."""

    def __init__(self, worker_id):
        self.worker_id = worker_id


class Resume:
    """Sent to persistent workers at the start of an epoch, with the epoch's seed; echoed back."""

    def __init__(self, base_seed):
        self.base_seed = base_seed


class MapFetcher:
    """Turns indices of a map-style dataset into a (collated) batch."""

    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn
        self.getitems = getattr(dataset, "__getitems__", None)

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        data = self.getitems(index) if callable(self.getitems) else [self.dataset[i] for i in index]
        return self.collate_fn(data)


class IterableFetcher:
    """Pulls the next sample (or batch of samples) from an IterableDataset; raises StopIteration at the
    end (and for a short last batch when ``drop_last``)."""

    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.it = iter(dataset)
        self.auto_collation, self.collate_fn, self.drop_last = auto_collation, collate_fn, drop_last
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.it))
        data = []
        for _ in index:
            try:
                data.append(next(self.it))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


def make_fetcher(iterable, *args):
    return (IterableFetcher if iterable else MapFetcher)(*args)


def _sender(out_queue, conn):
    while True:
        encoded = out_queue.get()
        if encoded is None:
            return
        try:
            _channel.send_encoded(conn, encoded)
        except OSError:  # the main process closed its end: nobody wants the rest
            return


def worker_loop(worker_id, num_workers, dataset, iterable, auto_collation, collate_fn, drop_last, base_seed,
                init_fn, task_conn, result_conn, parent_pid):
    """The body of worker process ``worker_id`` (see the module docstring for the protocol)."""
    try:
        _seed_and_describe(worker_id, num_workers, dataset, base_seed)
        init_error = None
        fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_error = ExceptionWrapper(f"in DataLoader worker process {worker_id}")
        out = queue.Queue()
        thread = threading.Thread(target=_sender, args=(out, result_conn), daemon=True)
        thread.start()
        while True:
            if not task_conn.poll(_PARENT_CHECK_S):
                if os.getppid() != parent_pid:
                    break  # orphaned: the main process died without telling us
                continue
            task = task_conn.recv()
            if task is None:
                break
            if isinstance(task, Resume):
                _seed_and_describe(worker_id, num_workers, dataset, task.base_seed)
                try:
                    fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
                except Exception:
                    init_error = ExceptionWrapper(f"in DataLoader worker process {worker_id}")
                out.put(_channel.encode((task, None)))
                continue
            task_id, index = task
            if init_error is not None:
                data, init_error = init_error, None
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    data = IterableEnd(worker_id) if iterable else ExceptionWrapper(
                        f"in DataLoader worker process {worker_id}")
                except Exception:
                    data = ExceptionWrapper(f"in DataLoader worker process {worker_id}")
            out.put(_encode_result(task_id, data, worker_id))
            del data, task, index
        out.put(None)
        thread.join(timeout=_PARENT_CHECK_S)
    except KeyboardInterrupt:
        pass  # the main process sees the interrupt too and shuts the workers down


def _seed_and_describe(worker_id, num_workers, dataset, base_seed):
    global _worker_info
    seed = base_seed + worker_id
    seed_everything(seed, worker_id, base_seed)
    _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)


def _encode_result(task_id, data, worker_id):
    try:
        return _channel.encode((task_id, data))
    except Exception:
        # Pickling here rather than in a background thread means a sample that cannot cross processes
        # (a lambda, an open file) becomes a clear error instead of a batch that silently never arrives.
        return _channel.encode((task_id, ExceptionWrapper(
            f"in DataLoader worker process {worker_id} while sending a batch to the main process (samples "
            "must be picklable)")))
