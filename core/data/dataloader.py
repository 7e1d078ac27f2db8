"""``DataLoader``: batches from a dataset, in the main process or in worker processes.

With ``num_workers > 0`` each worker is a real process with its own task pipe and result pipe. Task
``i`` goes to the workers in turn, and since each worker answers its tasks in order, the main process
knows which pipe holds the next batch and returns batches in sampler order without a reorder buffer.
Waiting on that pipe together with the worker's process sentinel means a worker that dies (killed,
out of memory, crashed in native code) is reported at once instead of leaving the loop hanging.
"""
import itertools
import multiprocessing as mp
import multiprocessing.connection
import os
import signal
import time

from . import _channel
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from .worker import ExceptionWrapper, IterableEnd, Resume, make_fetcher, worker_loop

__all__ = ["DataLoader"]

_SHUTDOWN_GRACE_S = 2.0  # how long a worker may take to finish its batch when asked to stop


class _InfiniteConstantSampler(Sampler):
    """The 'indices' of an IterableDataset: ``None`` forever (the dataset decides when it ends)."""

    def __iter__(self):
        while True:
            yield None


def _draw_seed(generator):
    from ..random import default_generator

    return int((generator or default_generator).numpy_generator().integers(2**63))


class DataLoader:
    """Iterate over ``dataset`` in batches, as ``torch.utils.data.DataLoader``.

    Args: ``batch_size`` (None turns batching off), ``shuffle``, ``sampler`` / ``batch_sampler`` (custom
    orders), ``collate_fn`` (list of samples -> batch; default ``default_collate``), ``drop_last``,
    ``num_workers`` (worker processes; 0 loads in the main process), ``prefetch_factor`` (batches
    queued per worker, default 2), ``persistent_workers`` (keep workers between epochs),
    ``worker_init_fn(worker_id)``, ``generator`` (seeds shuffling and the workers' seeds), ``timeout``
    (seconds to wait for a batch; 0 waits forever), ``multiprocessing_context`` ('fork', 'spawn',
    'forkserver' or a context), ``in_order`` (only True: batches always come in sampler order).
    ``pin_memory`` is accepted for compatibility and has no effect.

    Each worker seeds Python's ``random``, numpy's global generator and visionlite's default generator
    with ``base_seed + worker_id``, where ``base_seed`` is drawn from ``generator`` (or the default
    generator) once per epoch, also for persistent workers.
    """

    _frozen = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None,
                 persistent_workers=False, pin_memory_device="", in_order=True):
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             f"multiprocessing (got {num_workers!r})")
        if timeout < 0:
            raise ValueError(f"timeout option should be non-negative, got {timeout}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing: let "
                             "num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to "
                             "None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and (not isinstance(prefetch_factor, int) or prefetch_factor < 1):
            raise ValueError(f"prefetch_factor should be a positive integer, got {prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if not in_order and num_workers > 0:
            # Batches in sampler order are a valid result for in_order=False too, but passing it signals a
            # wish for out-of-order delivery that this loader does not offer; say so rather than ignore it.
            raise NotImplementedError("DataLoader(in_order=False) is not supported: workers' batches are "
                                      "always returned in sampler order. Use in_order=True (the default).")
        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified {name} option, "
                                     f"but got {name}={value!r}")
            sampler = _InfiniteConstantSampler()
        else:
            shuffle = bool(shuffle)
            if sampler is not None and shuffle:
                raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                 "sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.generator = generator
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self.multiprocessing_context = multiprocessing_context
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_sampler is not None else default_convert)
        self._iterable = iterable
        self._iterator = None
        self._initialized = True

    def __setattr__(self, name, value):
        if getattr(self, "_initialized", False) and name in self._frozen:
            raise ValueError(f"{name} attribute should not be set after {type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def multiprocessing_context(self):
        return self._mp_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, ctx):
        if ctx is not None:
            if self.num_workers == 0:
                raise ValueError("multiprocessing_context can only be used with multi-process loading "
                                 f"(num_workers > 0), but got num_workers={self.num_workers}")
            if isinstance(ctx, str):
                methods = mp.get_all_start_methods()
                if ctx not in methods:
                    raise ValueError(f"multiprocessing_context option should specify a valid start method in "
                                     f"{methods!r}, but got multiprocessing_context={ctx!r}")
                ctx = mp.get_context(ctx)
            elif not hasattr(ctx, "Process"):
                raise TypeError("multiprocessing_context option should be a valid context object or a "
                                "string specifying the start method, but got "
                                f"multiprocessing_context={ctx!r}")
        object.__setattr__(self, "_mp_context", ctx)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if not self.persistent_workers:
            return _MultiProcessIter(self)
        if self._iterator is None or self._iterator._shut_down:  # first epoch, or the workers failed
            object.__setattr__(self, "_iterator", _MultiProcessIter(self))
        else:
            self._iterator._reset(self)
        return self._iterator


def _length(loader):
    """``len(loader)`` now, or the reason it has none (a str) for the iterator's ``len()`` to raise."""
    try:
        return len(loader)
    except (TypeError, NotImplementedError) as e:
        return (f"len() of this DataLoader iterator is undefined: its dataset "
                f"({type(loader.dataset).__name__}) or sampler has no length ({e})")


def _iter_len(it):
    if isinstance(it._len, str):
        raise TypeError(it._len)
    return it._len


class _SingleProcessIter:
    def __init__(self, loader):
        self._sampler_iter = iter(loader._index_sampler)
        self._len = _length(loader)
        self._base_seed = _draw_seed(loader.generator)  # drawn as in worker mode, so both use the RNG alike
        self._fetcher = make_fetcher(loader._iterable, loader.dataset, loader._auto_collation,
                                     loader.collate_fn, loader.drop_last)

    def __iter__(self):
        return self

    def __len__(self):
        return _iter_len(self)

    def __next__(self):
        return self._fetcher.fetch(next(self._sampler_iter))


class _MultiProcessIter:
    def __init__(self, loader):
        self._ctx = loader.multiprocessing_context or mp.get_context()
        self._persistent = loader.persistent_workers
        self._timeout = loader.timeout
        self._workers, self._task_conns, self._result_conns = [], [], []
        self._shut_down = False
        self._base_seed = _draw_seed(loader.generator)
        try:
            for wid in range(loader.num_workers):
                self._start_worker(loader, wid)
        except BaseException:
            self._shutdown_workers()
            raise
        self._reset(loader, first=True)

    def _start_worker(self, loader, wid):
        task_reader, task_writer = self._ctx.Pipe(duplex=False)
        result_reader, result_writer = _channel.make_pipe(self._ctx)
        args = (wid, loader.num_workers, loader.dataset, loader._iterable, loader._auto_collation,
                loader.collate_fn, loader.drop_last, self._base_seed, loader.worker_init_fn, task_reader,
                result_writer, os.getpid())
        proc = self._ctx.Process(target=worker_loop, args=args, daemon=True)
        try:
            proc.start()
        except Exception as e:
            task_writer.close()
            result_reader.close()
            if "pickle" not in str(e).lower():
                raise
            raise TypeError(
                f"DataLoader: could not send the dataset, collate_fn and worker_init_fn to a worker started "
                f"with '{self._ctx.get_start_method()}' ({e}). Everything a worker gets must be picklable: "
                "define datasets, transforms and functions at module level (no lambdas or local functions), "
                "or use multiprocessing_context='fork' where available.") from e
        finally:
            # The worker holds its own ends now; closing ours lets either side see the other go away.
            task_reader.close()
            result_writer.close()
        self._workers.append(proc)
        self._task_conns.append(task_writer)
        self._result_conns.append(result_reader)

    def _reset(self, loader, first=False):
        self._sampler_iter = iter(loader._index_sampler)
        # Kept rather than the loader itself: persistent workers would make loader and iterator a cycle.
        self._len = _length(loader)
        self._send_idx = 0  # id of the next task to hand out
        self._rcvd_idx = 0  # id of the next task whose result we return
        self._task_worker = {}
        n = loader.num_workers
        self._active = [True] * n
        self._next_worker = itertools.cycle(range(n))
        if not first:
            self._base_seed = _draw_seed(loader.generator)
            resume = Resume(self._base_seed)
            for w in range(n):
                self._send(w, resume)
            for w in range(n):  # results of an epoch left early are still in the pipes: drop them
                while not isinstance(self._receive(w)[0], Resume):
                    pass
        for _ in range(loader.prefetch_factor * n):
            self._put_task()

    def __iter__(self):
        return self

    def __len__(self):
        return _iter_len(self)

    def _put_task(self):
        for _ in range(len(self._active)):
            w = next(self._next_worker)
            if self._active[w]:
                break
        else:
            return
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            return
        self._send(w, (self._send_idx, index))
        self._task_worker[self._send_idx] = w
        self._send_idx += 1

    def __next__(self):
        while True:
            if self._rcvd_idx >= self._send_idx:
                if not self._persistent:
                    self._shutdown_workers()
                raise StopIteration
            w = self._task_worker.pop(self._rcvd_idx)
            self._rcvd_idx += 1
            _, data = self._receive(w)
            if isinstance(data, IterableEnd):
                self._active[w] = False
                self._put_task()
                continue
            self._put_task()
            if isinstance(data, ExceptionWrapper):
                data.reraise()
            return data

    def _send(self, w, message):
        try:
            self._task_conns[w].send(message)
        except OSError:
            raise self._worker_died(w) from None

    def _receive(self, w):
        conn, proc = self._result_conns[w], self._workers[w]
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            wait_s = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = mp.connection.wait([conn, proc.sentinel], timeout=wait_s)
            if conn in ready:
                try:
                    return _channel.receive(conn)
                except (EOFError, OSError):
                    raise self._worker_died(w) from None
            if proc.sentinel in ready:
                raise self._worker_died(w)
            if not ready:
                self._shutdown_workers(grace_s=0.0)  # the worker is stuck: no point waiting for it
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds waiting for a batch "
                                   f"from worker {w}")

    def _worker_died(self, w):
        proc = self._workers[w]
        proc.join(timeout=_SHUTDOWN_GRACE_S)
        code = proc.exitcode
        if code is not None and code < 0:
            try:
                how = f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exit code {code}"
        self._shutdown_workers()
        return RuntimeError(
            f"DataLoader worker {w} (pid {proc.pid}) exited unexpectedly ({how}). Possible causes: it ran "
            "out of memory, crashed in native code, or was killed from outside; try num_workers=0 to see "
            "the error in the main process.")

    def _shutdown_workers(self, grace_s=_SHUTDOWN_GRACE_S):
        if self._shut_down:
            return
        self._shut_down = True
        for conn in self._task_conns:
            try:
                conn.send(None)
            except OSError:
                pass  # that worker is gone already
        for conn in self._result_conns:
            conn.close()  # unblocks a worker still writing a batch nobody will read
        deadline = time.monotonic() + grace_s
        for proc in self._workers:
            proc.join(timeout=max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.terminate()
                proc.join()
        for conn in self._task_conns:
            conn.close()

    def __del__(self):
        try:
            self._shutdown_workers()
        except Exception:
            pass  # interpreter shutdown: the daemonic workers are terminated by multiprocessing itself
