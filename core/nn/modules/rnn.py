"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their single-step ``*Cell`` forms, as in PyTorch.

Parameter names, shapes and gate order match PyTorch (LSTM: input, forget, cell, output; GRU: reset,
update, new), so state dicts interchange. The input projection of a whole sequence is one matrix
product; only the recurrent part steps through time in Python.
"""
import math

from ... import amp_state, creation, dtypes
from ...amp_state import ACTIVE as AUTOCAST
from ...ops import elementwise as ew
from ...ops import movement as mv
from ...ops import rnn as rnn_ops
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter
from ..utils import rnn as rnn_utils
from ..utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


# ------------------------------------------------------------------------------------------ steps
# Each step takes the hidden weight already transposed, ``w_hh_t (H, G)``, so a sequence transposes it once.
def _hidden(h, w_hh_t, b_hh):
    out = h @ w_hh_t
    return out if b_hh is None else out + b_hh


def _lstm_step(gi, h, c, w_hh_t, b_hh):
    """One LSTM step from the input part of the gates ``gi (N, 4H)``; returns (h, c)."""
    return rnn_ops.lstm_cell(gi + _hidden(h, w_hh_t, b_hh), c)


def _gru_step(gi, h, w_hh_t, b_hh):
    """One GRU step: the hidden part keeps its bias apart, since r multiplies only h's share of n."""
    return rnn_ops.gru_cell(gi, _hidden(h, w_hh_t, b_hh), h)


def _rnn_step(gi, h, w_hh_t, b_hh, relu):
    pre = gi + _hidden(h, w_hh_t, b_hh)
    return ew.relu(pre) if relu else ew.tanh(pre)


def _lstm_autocast_inputs(input, hx):
    """Under cpu autocast PyTorch runs a whole LSTM in the autocast dtype (its ``mkldnn_rnn_layer`` is in the
    cpu list), states included: cast the input and the given states alike (the weights are cast by the
    matmuls)."""
    if input.device.type != "cpu" or not amp_state.is_autocast_enabled("cpu") or amp_state.STATE.suspended:
        return input, hx
    dtype = amp_state.get_autocast_dtype("cpu")

    def cast(t):
        return t.to(dtype) if t.is_floating_point() and t.dtype is not dtypes.float64 else t

    return cast(input), (None if hx is None else tuple(cast(h) for h in hx))


# ----------------------------------------------------------------------------------------- layers
class RNNBase(Module):
    """Shared machinery of RNN, LSTM and GRU: parameters per layer and direction, and the time loop."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if proj_size:
            raise NotImplementedError("LSTM with proj_size > 0 is not supported; use proj_size=0")
        if not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"hidden_size must be a positive integer, got {hidden_size}")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"num_layers must be a positive integer, got {num_layers}")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * directions
            for d in range(directions):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes = [("weight_ih", (gate_size, layer_in)), ("weight_hh", (gate_size, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                for name, shape in shapes:
                    setattr(self, name + sfx, Parameter(creation.empty(*shape, device=device, dtype=dtype)))
                    self._flat_weights_names.append(name + sfx)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def flatten_parameters(self):
        """Kept for PyTorch compatibility (cuDNN weight packing); nothing to do here."""

    @property
    def all_weights(self):
        """The parameters grouped per layer and direction, as ``[[w_ih, w_hh, b_ih, b_hh], ...]``."""
        per = 4 if self.bias else 2
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[i:i + per]] for i in range(0, len(names), per)]

    def _layer_params(self, layer, direction):
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        get = lambda n: getattr(self, n + sfx) if self.bias or n.startswith("weight") else None  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _check_input(self, input):
        name = type(self).__name__
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")

    def _check_hidden(self, hx, expected, what):
        if tuple(hx.shape) != expected:
            raise RuntimeError(f"{type(self).__name__}: Expected {what} size {expected}, got "
                               f"{list(hx.shape)}")

    def _run(self, input, states, masks=None):
        """Run every layer and direction; ``states`` is a list (one per state kind: h, or h and c) of
        ``(layers * directions, N, H)`` tensors. Returns the last layer's output ``(L, N, D*H)`` and the
        final states in the same layout."""
        directions = 2 if self.bidirectional else 1
        finals = [[] for _ in states]
        x = input
        for layer in range(self.num_layers):
            outs = []
            for d in range(directions):
                w_ih, w_hh, b_ih, b_hh = self._layer_params(layer, d)
                k = layer * directions + d
                out, last = self._run_direction(x, [s[k] for s in states], w_ih, w_hh, b_ih, b_hh, reverse=d,
                                                masks=masks)
                outs.append(out)
                for f, s in zip(finals, last):
                    f.append(s)
            x = outs[0] if directions == 1 else mv.cat(outs, dim=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        return x, [mv.stack(f, 0) for f in finals]

    def _run_direction(self, x, state, w_ih, w_hh, b_ih, b_hh, reverse, masks=None):
        gi_all = F.linear(x, w_ih, b_ih)  # (L, N, G): the input part of every step in one product
        if b_hh is not None and self.mode != "GRU":
            # outside GRU's reset gate b_hh just adds, so it joins once here (in the product's dtype, which
            # autocast may have lowered)
            gi_all = gi_all + b_hh.to(gi_all.dtype)
            b_hh = None
        w_hh_t = w_hh.t()
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        outputs = [None] * x.shape[0]
        for t in steps:
            gi = gi_all[t]
            if self.mode == "LSTM":
                new = list(_lstm_step(gi, state[0], state[1], w_hh_t, b_hh))
            elif self.mode == "GRU":
                new = [_gru_step(gi, state[0], w_hh_t, b_hh)]
            else:
                new = [_rnn_step(gi, state[0], w_hh_t, b_hh, self.mode == "RNN_RELU")]
            if masks is not None:  # packed input: finished sequences keep their state (reverse: not begun)
                new = [ew.where(masks[t], n_, s_) for n_, s_ in zip(new, state)]
            state = new
            outputs[t] = state[0]
        return mv.stack(outputs, 0), state

    def _forward(self, input, hx, n_states):
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx, n_states)
        self._check_input(input)
        batched = input.ndim == 3
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        n = input.shape[1]
        directions = 2 if self.bidirectional else 1
        full = (self.num_layers * directions, n, self.hidden_size)
        if hx is None:
            zeros = creation.zeros(*full, dtype=input.dtype, device=input.device)
            states = [zeros] * n_states
        else:
            hxs = list(hx) if n_states > 1 else [hx]
            states = []
            for i, h in enumerate(hxs):
                what = f"hidden[{i}]" if n_states > 1 else "hidden"
                self._check_hidden(h, full if batched else (full[0], full[2]), what)
                states.append(h if batched else h.unsqueeze(1))
        output, finals = self._run(input, states)
        if not batched:
            output = output.squeeze(1)
            finals = [f.squeeze(1) for f in finals]
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, finals

    def _forward_packed(self, packed, hx, n_states):
        """A ``PackedSequence`` runs padded (sorted longest first) with each sequence's state frozen past
        its length; ``hx`` and the final states are in the caller's batch order, as PyTorch's."""
        padded, lengths = rnn_utils.pad_packed_sequence(
            rnn_utils.PackedSequence(packed.data, packed.batch_sizes, None, None))
        self._check_input(padded)
        n = padded.shape[1]
        lengths = lengths.numpy()
        masks = [creation.tensor((lengths > t)[:, None], device=padded.device)
                 for t in range(padded.shape[0])]
        directions = 2 if self.bidirectional else 1
        full = (self.num_layers * directions, n, self.hidden_size)
        if hx is None:
            states = [creation.zeros(*full, dtype=padded.dtype, device=padded.device)] * n_states
        else:
            states = list(hx) if n_states > 1 else [hx]
            for i, h in enumerate(states):
                self._check_hidden(h, full, f"hidden[{i}]" if n_states > 1 else "hidden")
            if packed.sorted_indices is not None:
                states = [h.index_select(1, packed.sorted_indices) for h in states]
        output, finals = self._run(padded, states, masks)
        if packed.unsorted_indices is not None:
            finals = [f.index_select(1, packed.unsorted_indices) for f in finals]
        data = rnn_utils.pack_padded_sequence(output, lengths).data
        return rnn_utils.PackedSequence(data, packed.batch_sizes, packed.sorted_indices,
                                        packed.unsorted_indices), finals

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu).

    Input ``(L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``, or unbatched ``(L, H_in)``), optional
    ``h0 (layers * D, N, H)``; returns ``(output (L, N, D*H), h_n)``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        output, (h,) = self._forward(input, hx, 1)
        return output, h


class LSTM(RNNBase):
    """Long short-term memory (gates i, f, g, o as PyTorch).

    Input ``(L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``, or unbatched ``(L, H_in)``), optional
    ``(h0, c0)`` each ``(layers * D, N, H)``; returns ``(output (L, N, D*H), (h_n, c_n))``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError("LSTM: hx must be a tuple (h_0, c_0) of two tensors")
        if AUTOCAST[0] and not isinstance(input, PackedSequence):
            input, hx = _lstm_autocast_inputs(input, hx)
        output, (h, c) = self._forward(input, hx, 2)
        return output, (h, c)


class GRU(RNNBase):
    """Gated recurrent unit (gates r, z, n as PyTorch).

    Input ``(L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``, or unbatched ``(L, H_in)``), optional
    ``h0 (layers * D, N, H)``; returns ``(output (L, N, D*H), h_n)``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        output, (h,) = self._forward(input, hx, 1)
        return output, h


# ------------------------------------------------------------------------------------------ cells
class RNNCellBase(Module):
    """Parameters shared by the single-step cells: ``weight_ih (num_chunks * H, in)``, ``weight_hh`` and
    the biases."""

    def __init__(self, input_size, hidden_size, bias, gates, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        empty = lambda *s: Parameter(creation.empty(*s, device=device, dtype=dtype))  # noqa: E731
        self.weight_ih = empty(gates * hidden_size, input_size)
        self.weight_hh = empty(gates * hidden_size, hidden_size)
        if bias:
            self.bias_ih = empty(gates * hidden_size)
            self.bias_hh = empty(gates * hidden_size)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def _prepare(self, input, hx, n_states):
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input has inconsistent input_size: got {input.shape[-1]} expected "
                               f"{self.input_size}")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        if hx is None:
            z = creation.zeros(x.shape[0], self.hidden_size, dtype=input.dtype, device=input.device)
            states = [z] * n_states
        else:
            states = list(hx) if n_states > 1 else [hx]
            states = [s if batched else s.unsqueeze(0) for s in states]
            for s in states:
                if tuple(s.shape) != (x.shape[0], self.hidden_size):
                    raise RuntimeError(f"{name}: Expected hidden size {(x.shape[0], self.hidden_size)}, got "
                                       f"{list(s.shape)}")
        return x, states, batched

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """One Elman step: ``(N, H_in)``, ``h (N, H)`` -> ``h' (N, H)``."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, hx, 1)
        h = _rnn_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh.t(), self.bias_hh,
                      self.nonlinearity == "relu")
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: ``(N, H_in)``, ``(h, c)`` -> ``(h', c')``."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        x, (h, c), batched = self._prepare(input, hx, 2)
        h, c = _lstm_step(F.linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh.t(), self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: ``(N, H_in)``, ``h (N, H)`` -> ``h' (N, H)``."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, hx, 1)
        h = _gru_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh.t(), self.bias_hh)
        return h if batched else h.squeeze(0)
