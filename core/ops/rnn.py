"""Fused pointwise parts of the LSTM and GRU cells.

Written with Tensor ops a cell step is about a dozen graph nodes (gate slices, activations, products),
and the time loop multiplies that by the sequence length; each op here is one node whose backward works
on raw arrays. Double backward through them is not supported (it raises); the matrix products around
them stay ordinary ops.
"""

from ..autograd.function import Op
from ..autograd.grad_mode import is_grad_enabled
from ..backend import array_module
from ..tensor import Tensor
from .logistic import sigmoid_array


def _no_double_backward(name):
    if is_grad_enabled():
        raise RuntimeError(
            f"{name}: double backward (create_graph=True) through LSTM/GRU cells is not supported"
        )


class LSTMCellState(Op):
    """c' = sigmoid(f) * c + sigmoid(i) * tanh(g) from gate pre-activations ``(N, 4H)`` (i, f, g, o)."""

    def forward(self, gates, c):
        xp = array_module(gates)
        H = c.shape[-1]
        i = sigmoid_array(gates[..., :H])
        f = sigmoid_array(gates[..., H : 2 * H])
        g = xp.tanh(gates[..., 2 * H : 3 * H])
        if self.recording:
            self.save(i, f, g, c)
        return f * c + i * g

    def backward(self, grad):
        _no_double_backward("LSTMCellState")
        i, f, g, c = self.saved_values()
        d = grad._data
        xp = array_module(d)
        H = c.shape[-1]
        dgates = xp.zeros(d.shape[:-1] + (4 * H,), dtype=d.dtype)
        dgates[..., :H] = d * g * i * (1 - i)
        dgates[..., H : 2 * H] = d * c * f * (1 - f)
        dgates[..., 2 * H : 3 * H] = d * i * (1 - g * g)
        return Tensor._wrap(dgates), Tensor._wrap(d * f)


class LSTMCellOutput(Op):
    """h' = sigmoid(o) * tanh(c') from the gates ``(N, 4H)`` and the new cell state ``c'``."""

    def forward(self, gates, c_new):
        xp = array_module(gates)
        H = c_new.shape[-1]
        o = sigmoid_array(gates[..., 3 * H :])
        tc = xp.tanh(c_new)
        if self.recording:
            self.save(o, tc)
        return o * tc

    def backward(self, grad):
        _no_double_backward("LSTMCellOutput")
        o, tc = self.saved_values()
        d = grad._data
        xp = array_module(d)
        H = o.shape[-1]
        dgates = xp.zeros(d.shape[:-1] + (4 * H,), dtype=d.dtype)
        dgates[..., 3 * H :] = d * tc * o * (1 - o)
        return Tensor._wrap(dgates), Tensor._wrap(d * o * (1 - tc * tc))


class GRUCellUpdate(Op):
    """h' = n + z * (h - n) with r = sigmoid(i_r + h_r), z = sigmoid(i_z + h_z), n = tanh(i_n + r * h_n),
    from the input part ``gi (N, 3H)`` and hidden part ``gh (N, 3H)`` (biases included)."""

    def forward(self, gi, gh, h):
        xp = array_module(gi)
        H = h.shape[-1]
        r = sigmoid_array(gi[..., :H] + gh[..., :H])
        z = sigmoid_array(gi[..., H : 2 * H] + gh[..., H : 2 * H])
        gh_n = gh[..., 2 * H :]
        n = xp.tanh(gi[..., 2 * H :] + r * gh_n)
        if self.recording:
            self.save(r, z, n, gh_n, h)
        return n + z * (h - n)

    def backward(self, grad):
        _no_double_backward("GRUCellUpdate")
        r, z, n, gh_n, h = self.saved_values()
        d = grad._data
        xp = array_module(d)
        H = h.shape[-1]
        dn = d * (1 - z) * (1 - n * n)
        dr = dn * gh_n * r * (1 - r)
        dz = d * (h - n) * z * (1 - z)
        dgi = xp.concatenate([dr, dz, dn], axis=-1)
        dgh = dgi.copy()
        dgh[..., 2 * H :] *= r
        return Tensor._wrap(dgi), Tensor._wrap(dgh), Tensor._wrap(d * z)


def lstm_cell(gates, c):
    """(h', c') of an LSTM step from gate pre-activations ``(N, 4H)`` and the cell state ``(N, H)``."""
    c_new = LSTMCellState.apply(gates, c)
    return LSTMCellOutput.apply(gates, c_new), c_new


def gru_cell(gi, gh, h):
    """h' of a GRU step from the input and hidden gate parts ``(N, 3H)`` and the state ``(N, H)``."""
    return GRUCellUpdate.apply(gi, gh, h)
