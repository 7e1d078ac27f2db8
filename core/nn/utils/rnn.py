"""Variable-length sequences for recurrent layers, as ``torch.nn.utils.rnn``.

A ``PackedSequence`` stores the steps of a batch of sequences time-major with the padding left out:
``data (sum(lengths), *)`` holds, for each time step t, the ``batch_sizes[t]`` sequences still running,
longest first. ``sorted_indices`` orders the caller's batch that way; ``unsorted_indices`` undoes it.
Packing and unpacking are gathers with integer indices, so gradients flow back to the padded input.
"""
from collections import namedtuple

import numpy as np

from ... import creation
from ...ops import movement as mv
from ...tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence",
           "pad_sequence", "unpad_sequence", "pack_sequence", "unpack_sequence"]


_Fields = namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


class PackedSequence(_Fields):
    """``(data, batch_sizes, sorted_indices, unsorted_indices)``; build it with ``pack_padded_sequence``
    or ``pack_sequence`` rather than by hand."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = (lambda t: None if t is None else t.to(data.device))
        return type(self)(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))

    def cuda(self, *args, **kwargs):
        return self.to("cuda")

    def cpu(self):
        return self.to("cpu")

    def double(self):
        return type(self)(self.data.double(), *self[1:])

    def float(self):
        return type(self)(self.data.float(), *self[1:])

    def half(self):
        return type(self)(self.data.half(), *self[1:])

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def invert_permutation(permutation):
    """The permutation that undoes ``permutation`` (None stays None)."""
    if permutation is None:
        return None
    p = np.asarray(_ints(permutation))
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size)
    return Tensor._wrap(inv.astype(np.int64)).to(permutation.device)


def _ints(x):
    return np.asarray(x.detach().cpu().numpy() if isinstance(x, Tensor) else x, dtype=np.int64)


def _batch_sizes(lengths):
    """``batch_sizes[t]``: how many of the (descending) ``lengths`` exceed t."""
    return np.array([(lengths > t).sum() for t in range(int(lengths[0]))], dtype=np.int64)


def _packed_positions(batch_sizes):
    """(time, batch) coordinates of each row of a packed ``data``, time-major."""
    t = np.repeat(np.arange(batch_sizes.size), batch_sizes)
    b = np.concatenate([np.arange(n) for n in batch_sizes]) if batch_sizes.size else np.zeros(0, np.int64)
    return t, b


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch ``(T, B, *)`` (``(B, T, *)`` with ``batch_first``) of sequences with the given
    ``lengths`` (list or 1-D CPU int64 tensor). With ``enforce_sorted`` the lengths must be descending;
    otherwise the batch is sorted here and the order remembered."""
    lengths = _ints(lengths)
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                               "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                               "pack_sequence to sidestep this requirement if you do not need ONNX "
                               "exportability.")
        sorted_indices = None
    else:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        sorted_indices = Tensor._wrap(order.astype(np.int64)).to(input.device)
    if lengths.size and lengths.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in "
                           "'lengths' that is <= 0")
    if batch_first:
        input = input.transpose(0, 1)
    if sorted_indices is not None:
        input = input.index_select(1, sorted_indices)
    if lengths.size and lengths[0] > input.shape[0]:
        raise RuntimeError(f"pack_padded_sequence: a length ({lengths[0]}) exceeds the padded sequence "
                           f"length ({input.shape[0]})")
    batch_sizes = _batch_sizes(lengths)
    t, b = _packed_positions(batch_sizes)
    data = input[Tensor._wrap(t).to(input.device), Tensor._wrap(b).to(input.device)]
    return PackedSequence(data, Tensor._wrap(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo ``pack_padded_sequence``: ``(padded (T, B, *) or (B, T, *), lengths (B,) int64)``, in the
    caller's original batch order; ``total_length`` pads T further (for DataParallel-style gathering)."""
    data, batch_sizes = sequence.data, _ints(sequence.batch_sizes)
    T, B = batch_sizes.size, int(batch_sizes[0]) if batch_sizes.size else 0
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"Expected total_length to be at least the length of the longest sequence in "
                             f"input, but got total_length={total_length} and max sequence length being {T}")
        T_out = total_length
    else:
        T_out = T
    # every (t, b) cell reads a row of data, or the padding row appended at the end
    index = np.full((T_out, B), data.shape[0], dtype=np.int64)
    t, b = _packed_positions(batch_sizes)
    index[t, b] = np.arange(t.size)
    pad_row = creation.full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    padded = mv.cat([data, pad_row], 0)[Tensor._wrap(index).to(data.device)]
    lengths = np.array([(batch_sizes > i).sum() for i in range(B)], dtype=np.int64)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths = lengths[_ints(sequence.unsorted_indices)]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, Tensor._wrap(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences ``(L_i, *)`` into ``(T, B, *)`` (``(B, T, *)`` with ``batch_first``), T the
    longest, padding each on ``padding_side`` with ``padding_value``."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    T = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        missing = T - s.shape[0]
        widths = [0, 0] * (s.ndim - 1) + ([0, missing] if padding_side == "right" else [missing, 0])
        padded.append(mv.pad(s, widths, value=padding_value) if missing else s)
    return mv.stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences ``(L_i, *)`` inside a padded batch."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[:n] for seq, n in zip(padded_sequences.unbind(0), _ints(lengths).tolist())]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences ``(L_i, *)`` (descending lengths unless ``enforce_sorted=False``)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of sequences inside a ``PackedSequence``, in the caller's order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
