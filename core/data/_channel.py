"""One-way channel from a worker process to the main process for batches of arrays.

A batch is pickled with protocol 5, so its numpy arrays (and Tensors, which pickle as their arrays)
travel as raw out-of-band buffers: the worker writes them straight from the arrays' memory and the
main process reads them straight into fresh arrays. Plain ``Connection.send`` would copy every
batch three or four times on each side. Messages are framed as
``[payload length, buffer count] [buffer sizes] [pickle payload] [buffer 0] [buffer 1] ...``.
"""
import os
import pickle
import struct

import numpy as np

_HEAD = struct.Struct("<QI")
_RAW = hasattr(os, "readv")  # POSIX pipes: read and write the file descriptor directly
_PIPE_BYTES = 1 << 20  # a larger pipe buffer means fewer wake-ups per batch


def make_pipe(ctx):
    """A (reader, writer) pair of Connections from the multiprocessing context ``ctx``."""
    reader, writer = ctx.Pipe(duplex=False)
    if _RAW:
        try:
            import fcntl

            fcntl.fcntl(writer.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        except (ImportError, AttributeError, OSError):
            pass  # not Linux, or over the system's limit: the default size still works
    return reader, writer


def encode(obj):
    """Pickle ``obj``: returns (frame header + payload, raw buffers). Raises what pickling raises."""
    buffers = []
    payload = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    raws = [b.raw() for b in buffers]
    head = _HEAD.pack(len(payload), len(raws)) + struct.pack(f"<{len(raws)}Q", *(r.nbytes for r in raws))
    return head + payload, raws


def send_encoded(conn, encoded):
    """Write a message made by ``encode`` to the writing end ``conn``."""
    head, raws = encoded
    if not _RAW:
        conn.send_bytes(head)
        for r in raws:
            conn.send_bytes(r)
        return
    fd = conn.fileno()
    for piece in (memoryview(head), *raws):
        while piece.nbytes:
            piece = piece[os.write(fd, piece):]


def _read_into(fd, view):
    while view.nbytes:
        n = os.readv(fd, [view])
        if n == 0:
            raise EOFError("the worker's end of the pipe closed in the middle of a message")
        view = view[n:]


def _read(fd, n):
    buf = bytearray(n)
    _read_into(fd, memoryview(buf))
    return buf


def receive(conn):
    """Read one message from the reading end ``conn`` and unpickle it. Raises EOFError if the writer
    went away."""
    if not _RAW:
        head = conn.recv_bytes()
        plen, nbuf = _HEAD.unpack_from(head)
        payload = memoryview(head)[_HEAD.size + 8 * nbuf:]
        buffers = [bytearray(conn.recv_bytes()) for _ in range(nbuf)]
        return pickle.loads(payload, buffers=buffers)
    fd = conn.fileno()
    plen, nbuf = _HEAD.unpack(_read(fd, _HEAD.size))
    sizes = struct.unpack(f"<{nbuf}Q", _read(fd, 8 * nbuf))
    payload = _read(fd, plen)
    buffers = []
    for size in sizes:
        buf = np.empty(size, np.uint8)  # uninitialised: every byte is about to be overwritten
        _read_into(fd, memoryview(buf))
        buffers.append(buf)
    return pickle.loads(payload, buffers=buffers)
