"""A small reader for MATLAB level-5 .mat files (what SVHN ships), so SVHN needs no scipy.

Layout (MathWorks, "MAT-File Format", level 5): a 128-byte header whose last two bytes tell the byte
order ('IM' little-endian, 'MI' big-endian), then data elements. Each element is an 8-byte tag
(type, byte count) and its data padded to 8 bytes; a "small" element packs a count of at most 4 bytes
into the upper half of the type word and its data into the tag's second word. A variable is an
miMATRIX element holding sub-elements: array flags (class in the low byte), dimensions, name, then the
real (and maybe imaginary) part, stored column-major in any numeric type. miCOMPRESSED wraps one
element in zlib. Numeric and char arrays are read; objects are skipped, and so are cells, structs and
sparse matrices unless ``structs=True`` (ImageNet's devkit ``meta.mat`` is a struct array; SBD's
boundaries are a cell of sparse matrices). A struct holds the longest field-name length (miINT32), the
names packed at that width (miINT8), then one miMATRIX per field for each element, column-major; a cell
holds one miMATRIX per element; a sparse matrix holds its row indices, column starts (ncols + 1) and
non-zero values, column-major (compressed sparse columns). As
``scipy.io.loadmat`` does by default, numbers keep the type they were stored in.
"""
import zlib

import numpy as np

__all__ = ["load_mat"]

_MI_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8", 13: "u8",
             16: "u1", 17: "u2", 18: "u4"}  # the last three are UTF-8/16/32 text
_MI_MATRIX, _MI_COMPRESSED = 14, 15
_MX_CELL, _MX_STRUCT, _MX_CHAR, _MX_SPARSE = 1, 2, 4, 5
_MAX_DEPTH = 32  # cells and structs nest; a deeper file is refused rather than recursed into
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


def _sub_matrix(r, structs, depth):
    """The value of the miMATRIX element at ``r.pos`` (a cell's or struct field's content); advances."""
    kind, count, start, nxt = r.tag()
    if kind != _MI_MATRIX:
        r.fail(f"expected a matrix element at byte {r.pos}, found type {kind}")
    if start + count > len(r.buf):
        r.fail(f"element at byte {r.pos} runs past the end of the data")
    r.pos = nxt
    if count == 0:  # an empty array is written as a bare tag
        return np.zeros((0, 0))
    return _matrix(r.buf[start:start + count], r.order, r.path, structs, depth + 1)[1]


def _object_array(items, dims):
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out.reshape(dims, order="F")


def _sparse(r, dims):
    """A sparse matrix's values as a dense ndarray of the type they were stored in."""
    rows = r.numbers(*r.element()).astype(np.int64)
    starts = r.numbers(*r.element()).astype(np.int64)
    values = r.numbers(*r.element())
    if len(dims) != 2 or len(starts) != dims[1] + 1 or np.any(np.diff(starts) < 0) or starts[0] != 0:
        r.fail(f"sparse matrix of dimensions {dims} has broken column starts")
    nnz = int(starts[-1])
    bad_rows = nnz and not 0 <= rows[:nnz].min() <= rows[:nnz].max() < dims[0]
    if nnz > len(rows) or nnz > len(values) or bad_rows:
        r.fail(f"sparse matrix of dimensions {dims} has out-of-range row indices or too few values")
    if dims[0] * dims[1] > 64 * len(r.buf) + 2**20:  # the dense copy must stay near the file's size
        r.fail(f"sparse matrix of dimensions {dims} is too large to return dense")
    dense = np.zeros(dims, values.dtype.newbyteorder("="))  # logical ones too, as scipy: stored type
    dense[rows[:nnz], np.repeat(np.arange(dims[1]), np.diff(starts))] = values[:nnz]
    return dense


def _container(r, mx_class, dims, structs, depth):
    """A cell array (object ndarray of values) or struct array (object ndarray of ``{field: value}``)."""
    if depth > _MAX_DEPTH:
        r.fail(f"cells/structs nested more than {_MAX_DEPTH} deep")
    n = int(np.prod(dims))
    fields = [None]
    if mx_class == _MX_STRUCT:
        width = int(r.numbers(*r.element())[0])
        packed = bytes(r.element()[1])
        fields = [packed[i:i + width].split(b"\0", 1)[0].decode("latin1")
                  for i in range(0, len(packed), width)] if width > 0 else []
    if n * max(len(fields), 1) * 8 > len(r.buf):  # every value needs at least a tag: refuse absurd dims
        kind = "struct" if mx_class == _MX_STRUCT else "cell"
        r.fail(f"a {kind} array of dimensions {dims} cannot fit in {len(r.buf)} bytes")
    if mx_class == _MX_CELL:
        items = [_sub_matrix(r, structs, depth) for _ in range(n)]
    else:
        items = [{f: _sub_matrix(r, structs, depth) for f in fields} for _ in range(n)]
    return _object_array(items, dims)


def _matrix(buf, order, path, structs=False, depth=0):
    """(name, value) of one miMATRIX element's contents; value None for unsupported classes."""
    r = _Reader(buf, order, path)
    kind, raw = r.element()
    flags = int(r.numbers(kind, raw)[0])
    mx_class = flags & 0xFF
    dims = tuple(int(d) for d in r.numbers(*r.element()))
    name = bytes(r.element()[1]).decode("latin1")
    if structs and mx_class == _MX_SPARSE:
        return name, _sparse(r, dims)
    if structs and mx_class in (_MX_CELL, _MX_STRUCT):
        return name, _container(r, mx_class, dims, structs, depth)
    if mx_class not in _MX_NUMERIC and mx_class != _MX_CHAR:
        return name, None
    real = r.numbers(*r.element())
    if flags & _COMPLEX_FLAG:
        real = real + 1j * r.numbers(*r.element())
    if real.size != int(np.prod(dims)):
        r.fail(f"variable {name!r} has {real.size} values for dimensions {dims}")
    value = real.reshape(dims, order="F")
    if mx_class == _MX_CHAR:
        if value.size == 0:
            return name, np.array([""] * (dims[0] if len(dims) == 2 and dims[1] == 0 else 0))
        rows = value.reshape(dims[0], -1) if value.ndim else value
        value = np.array(["".join(chr(c) for c in row) for row in rows])
    return name, value.astype(value.dtype.newbyteorder("="))


MAX_INFLATE_RATIO = 100  # compressed elements may inflate to this many times the file's size in all...
_INFLATE_FLOOR = 256 * 2**20  # ...or to 256 MiB, whichever is more (a small file with sparse masks)


def _inflate(r, body, offset, budget):
    """zlib-inflate one miCOMPRESSED element, refusing to produce more than ``budget`` bytes (a bomb)."""
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(body, budget + 1)
    except zlib.error as e:
        r.fail(f"compressed element at byte {offset} does not decompress ({e})")
    if len(data) <= budget and not inflater.eof:
        r.fail(f"compressed element at byte {offset} is cut short (truncated file?)")
    if len(data) > budget:
        raise ValueError(f"{r.path}: the compressed element at byte {offset} inflates past {budget:,} bytes "
                         f"(visionlite.datasets._matlab.MAX_INFLATE_RATIO = {MAX_INFLATE_RATIO} times the "
                         f"file's size): a decompression bomb or a damaged file; raise the ratio if you "
                         f"trust it")
    return data


def load_mat(path, structs=False):
    """Read the numeric and char variables of a MATLAB 5 (.mat) file into ``{name: ndarray}``.

    With ``structs=True`` cell arrays are read too, as object ndarrays of their values, and struct arrays
    as object ndarrays of ``{field: value}`` dicts (both keep MATLAB's dimensions), and sparse matrices
    as dense ndarrays of their stored type (as ``scipy``'s ``loadmat(...).toarray()``).
    """
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
    budget = max(MAX_INFLATE_RATIO * len(buf), _INFLATE_FLOOR)  # bytes all compressed elements may inflate to
    while r.pos < len(buf):
        kind, count, start, _ = r.tag()
        body = r.buf[start:start + count]
        r.pos = start + count if kind == _MI_COMPRESSED else start + count + (-count % 8)
        if kind == _MI_COMPRESSED:
            body = _inflate(r, body, start - 8, budget)
            budget -= len(body)
            inner = _Reader(memoryview(body), order, path)
            kind, count, start, _ = inner.tag()
            body = inner.buf[start:start + count]
        if kind != _MI_MATRIX:
            continue  # not a variable (e.g. subsystem data): nothing to return
        name, value = _matrix(body, order, path, structs)
        if value is not None:
            out[name] = value
    return out
