"""A small reader for MATLAB level-5 .mat files (what SVHN ships), so SVHN needs no scipy.

Layout (MathWorks, "MAT-File Format", level 5): a 128-byte header whose last two bytes tell the byte
order ('IM' little-endian, 'MI' big-endian), then data elements. Each element is an 8-byte tag
(type, byte count) and its data padded to 8 bytes; a "small" element packs a count of at most 4 bytes
into the upper half of the type word and its data into the tag's second word. A variable is an
miMATRIX element holding sub-elements: array flags (class in the low byte), dimensions, name, then the
real (and maybe imaginary) part, stored column-major in any numeric type. miCOMPRESSED wraps one
element in zlib. Numeric and char arrays are read; cells, structs, objects and sparse matrices are
skipped. As ``scipy.io.loadmat`` does by default, numbers keep the type they were stored in.
"""
import zlib

import numpy as np

__all__ = ["load_mat"]

_MI_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8", 13: "u8",
             16: "u1", 17: "u2", 18: "u4"}  # the last three are UTF-8/16/32 text
_MI_MATRIX, _MI_COMPRESSED = 14, 15
_MX_CHAR = 4
_MX_NUMERIC = set(range(6, 16))  # double, single, int8 ... uint64
_COMPLEX_FLAG = 0x0800


class _Reader:
    def __init__(self, buf, order, path):
        self.buf, self.order, self.path, self.pos = buf, order, path, 0

    def fail(self, why):
        raise ValueError(f"{self.path} is not a readable MATLAB 5 file: {why}")

    def tag(self):
        """(type, byte count, start of data, start of next element) of the element at ``pos``."""
        if self.pos + 8 > len(self.buf):
            self.fail(f"element tag cut short at byte {self.pos}")
        word, count = np.frombuffer(self.buf, self.order + "u4", 2, self.pos)
        word, count = int(word), int(count)
        if word >> 16:  # small element: count in the upper half, data in the tag's second word
            return word & 0xFFFF, word >> 16, self.pos + 4, self.pos + 8
        start = self.pos + 8
        return word, count, start, start + count + (-count % 8)

    def element(self):
        """The type and raw bytes of the next sub-element; advances past it."""
        kind, count, start, nxt = self.tag()
        if start + count > len(self.buf):
            self.fail(f"element at byte {self.pos} runs past the end of the data")
        self.pos = nxt
        return kind, self.buf[start:start + count]

    def numbers(self, kind, raw):
        if kind not in _MI_TYPES:
            self.fail(f"unknown data type {kind}")
        return np.frombuffer(raw, self.order + _MI_TYPES[kind])


def _matrix(buf, order, path):
    """(name, value) of one miMATRIX element's contents; value None for unsupported classes."""
    r = _Reader(buf, order, path)
    kind, raw = r.element()
    flags = int(r.numbers(kind, raw)[0])
    mx_class = flags & 0xFF
    dims = tuple(int(d) for d in r.numbers(*r.element()))
    name = bytes(r.element()[1]).decode("latin1")
    if mx_class not in _MX_NUMERIC and mx_class != _MX_CHAR:
        return name, None
    real = r.numbers(*r.element())
    if flags & _COMPLEX_FLAG:
        real = real + 1j * r.numbers(*r.element())
    if real.size != int(np.prod(dims)):
        r.fail(f"variable {name!r} has {real.size} values for dimensions {dims}")
    value = real.reshape(dims, order="F")
    if mx_class == _MX_CHAR:
        rows = value.reshape(dims[0], -1) if value.ndim else value
        value = np.array(["".join(chr(c) for c in row) for row in rows])
    return name, value.astype(value.dtype.newbyteorder("="))


def load_mat(path):
    """Read the numeric and char variables of a MATLAB 5 (.mat) file into ``{name: ndarray}``."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 128:
        raise ValueError(f"{path} is too short to be a MATLAB file")
    if buf[:19] == b"MATLAB 7.3 MAT-file":
        raise ValueError(f"{path} is a MATLAB 7.3 (HDF5) file; only MATLAB 5 files (MATLAB's -v7 and "
                         f"earlier) can be read without h5py")
    order = {b"IM": "<", b"MI": ">"}.get(buf[126:128])
    if order is None:
        raise ValueError(f"{path} is not a MATLAB 5 file (no byte-order mark at offset 126)")
    out, r = {}, _Reader(memoryview(buf), order, path)
    r.pos = 128
    while r.pos < len(buf):
        kind, count, start, _ = r.tag()
        body = r.buf[start:start + count]
        r.pos = start + count if kind == _MI_COMPRESSED else start + count + (-count % 8)
        if kind == _MI_COMPRESSED:
            try:
                body = zlib.decompress(body)
            except zlib.error as e:
                r.fail(f"compressed element at byte {start - 8} does not decompress ({e})")
            inner = _Reader(memoryview(body), order, path)
            kind, count, start, _ = inner.tag()
            body = inner.buf[start:start + count]
        if kind != _MI_MATRIX:
            continue  # not a variable (e.g. subsystem data): nothing to return
        name, value = _matrix(body, order, path)
        if value is not None:
            out[name] = value
    return out
