"""In-place operations on views of tensors in the graph: the base's history is rebased (``CopySlices``)
and the view re-derived from it (``AsStridedBackward0``), as PyTorch does. Every pattern runs the
same code on visionlite and on torch and compares values, gradients of every input and node names."""

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.op_check import gradcheck
from tests.helpers.refs import require

torch = require("torch")


def _run(lib, fn, arrays, seed=1):
    leaves = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(lib, *leaves)
    outs = out if isinstance(out, tuple) else (out,)
    rng = np.random.default_rng(seed)
    total = 0
    for o in outs:
        w = lib.tensor(rng.uniform(0.5, 1.5, size=tuple(o.shape)))
        total = total + (o * w).sum()
    total.backward()
    values = [np.asarray(o.detach().numpy()) for o in outs]
    grads = [None if t.grad is None else np.asarray(t.grad.numpy()) for t in leaves]
    return values, grads


def check(fn, *shapes, seed=0):
    """Run ``fn(lib, *leaves)`` with visionlite and torch on the same float64 inputs; compare outputs and
    the gradient of every input."""
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(-2, 2, size=s) for s in shapes]
    v_vals, v_grads = _run(vl, fn, arrays)
    t_vals, t_grads = _run(torch, fn, arrays)
    for i, (a, b) in enumerate(zip(v_vals, t_vals)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"output {i}")
    for i, (a, b) in enumerate(zip(v_grads, t_grads)):
        assert (a is None) == (b is None), f"input {i}: gradient presence differs"
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"grad of input {i}")


def _setitem(x, index, value):
    x[index] = value
    return x


PATTERNS = {
    "select_imul": lambda L, a: _chain(a * 2, lambda h: h[:, 0].__imul__(2)),
    "slice_mul_tensor": (lambda L, a, b: _chain(a * 2, lambda h: h[:, 1:3].mul_(b)), (3, 4), (3, 2)),
    "view_add": lambda L, a: _chain(a * 2, lambda h: h.view(-1).add_(1)),
    "transpose_relu": lambda L, a: _chain(a * 1.5, lambda h: h.t().relu_()),
    "functional_relu_inplace": lambda L, a: _chain(
        a + 0.5, lambda h: L.nn.functional.relu(h.view(-1), inplace=True)),
    "mask_setitem_on_view": lambda L, a: _chain(a * 3, lambda h: _setitem(h.view(-1), h.view(-1) > 0, 0.0)),
    "mask_setitem_non_leaf": lambda L, a: _setitem(a * 3, (a * 3) > 1, 0.0),
    "slice_assign_tensor": (lambda L, a, b: _setitem(a * 2, (slice(None), slice(None, 3)), b),
                            (3, 5), (3, 3)),
    "slice_assign_then_use": (lambda L, a, b: _setitem(a * 2, (slice(None), slice(None, 3)), b).exp(),
                              (3, 5), (3, 3)),
    "view_of_view": lambda L, a: _chain(a * 2, lambda h: h[1:].t()[0].mul_(3)),
    "inplace_twice_same_view": (lambda L, a, b: _chain(a * 2, lambda h: _twice(h[0], b)), (3, 4), (4,)),
    "broadcast_other": (lambda L, a, b: _chain(a * 2, lambda h: h[:, :2].add_(b * b)), (3, 4), (1, 2)),
    "narrow_sigmoid": lambda L, a: _chain(a * 2, lambda h: h.narrow(1, 1, 2).sigmoid_()),
    "select_mul_other_view": lambda L, a: _chain(a * 2, lambda h: h[0].mul_(h[1].clone())),
    "permute_pow": lambda L, a: _chain(a * 2, lambda h: h.reshape(2, 3, 2).permute(2, 0, 1)[1].pow_(2)),
    "diagonal_mul": lambda L, a: _chain(a * 2, lambda h: h.diagonal().mul_(h.diagonal().clone())),
    "diagonal_offset_3d": (lambda L, a: _chain(a * 2, lambda h: h.diagonal(-1, 0, 2).add_(1)), (3, 2, 4)),
    "unfold_tanh": lambda L, a: _chain(a * 2, lambda h: h.reshape(-1).unfold(0, 3, 3).tanh_()),
    "unfold_overlapping_read": lambda L, a: (a * 2).unfold(1, 3, 1).exp(),
    "strided_slice_tanh": lambda L, a: _chain(a * 2, lambda h: h[::2, 1::2].tanh_()),
    "unsqueeze_squeeze_exp": lambda L, a: _chain(a * 2, lambda h: h.unsqueeze(0)[0, 1].squeeze().exp_()),
    "copy_into_view": (lambda L, a, b: _chain(a * 2, lambda h: h[1].copy_(b.exp())), (3, 4), (4,)),
    "fill_view": lambda L, a: _chain(a * 2, lambda h: h[:, 2].fill_(7.0)),
    "zero_view": lambda L, a: _chain(a * 2, lambda h: h[0].zero_()),
    "single_element_view": lambda L, a: _chain(a * 2, lambda h: h[1, 2].mul_(h[0, 0].clone())),
    "clamp_view": lambda L, a: _chain(a * 2, lambda h: h[1:, 1:].clamp_(-1.0, 1.0)),
    "augmented_assignments": (lambda L, a, b: _augmented_assign(a, b), (3, 4), (2,)),
    "sequential_flatten_relu_inplace": (lambda L, a, w: L.nn.Sequential(
        L.nn.Flatten(), L.nn.ReLU(inplace=True), L.nn.Dropout(0.0, inplace=True))(a * 1.0) @ w,
        (2, 3, 2), (6, 3)),
    "two_views_same_base": (lambda L, a, b: _two_views(a, b), (3, 4), (4,)),
    "base_inplace_then_old_view": lambda L, a: _base_then_view(a),
    "view_of_nongrad_base": (lambda L, a, b: _nongrad_base(L, a, b), (3, 4), (4,)),
    "chain_then_leaf_graph": (lambda L, a, b: _chain(a @ b, lambda h: h[:, 0].div_(2)), (3, 4), (4, 2)),
}


def _augmented_assign(a, b):
    h = a * 2
    h[:, 0] *= 2  # getitem (a view), imul_ on it, setitem of the view into its own base
    h[h > 1] += b.sum()  # advanced index: a copy, then written back
    h.view(-1)[::3] -= 1
    return h


def _chain(h, inplace):
    """Apply ``inplace`` to a view of ``h``; return the base and the view's result (both used)."""
    v = inplace(h)
    return h, v * 1.0


def _twice(v, b):
    v.mul_(b)
    v.add_(b * 2)
    return v


def _two_views(a, b):
    h = a * 2
    v1, v2 = h[0], h[:, 1]
    v1.mul_(b)
    return h, v2 * 3.0, v1 + 0.0


def _base_then_view(a):
    h = a * 2
    v = h[1:]
    h.mul_(h.detach().clone())  # in place on the base; the old view re-derives itself from the new base
    return v.exp()


def _nongrad_base(L, a, b):
    h = L.zeros(3, 4, dtype=a.dtype)
    h[1].add_(b)
    h[:, 0].mul_(a[:, 0])
    return h


@pytest.mark.parametrize("name", list(PATTERNS))
def test_pattern_matches_torch(name):
    entry = PATTERNS[name]
    fn, shapes = (entry[0], entry[1:]) if isinstance(entry, tuple) else (entry, ((3, 4),))
    check(fn, *shapes)


def test_node_names_match_torch():
    for lib in (vl, torch):
        a = lib.ones(3, 4, requires_grad=True)
        h = a * 2
        v = h[:, 0]
        w = h[1]
        v.mul_(2)
        names = (type(h.grad_fn).__name__, type(v.grad_fn).__name__, type(w.grad_fn).__name__)
        if lib is vl:
            got = names
        else:
            assert got == names, (got, names)
    assert got == ("CopySlices", "AsStridedBackward0", "AsStridedBackward0")


def test_efficientnet_classifier_pattern():
    def fn(L, x, w):
        feat = L.nn.functional.adaptive_avg_pool2d(x * 1.0, 1)
        flat = L.nn.Flatten()(feat)
        L.nn.functional.dropout(flat, 0.0, training=True, inplace=True)
        L.nn.functional.relu(flat, inplace=True)
        return flat @ w

    check(fn, (2, 3, 4, 4), (3, 5))


def test_leaf_view_still_refused_as_torch():
    for lib in (vl, torch):
        a = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="view of a leaf Variable that requires grad"):
            a[0].mul_(2)
        with pytest.raises(RuntimeError, match="view of a leaf Variable that requires grad"):
            a.view(3, 1)[1:].relu_()


def test_view_made_in_no_grad_refused_as_torch():
    for lib in (vl, torch):
        a = lib.ones(3, 4, requires_grad=True)
        h = a * 2
        with lib.no_grad():
            v = h[0]
        with pytest.raises(RuntimeError, match="created in no_grad mode"):
            v.mul_(a[0])
        with pytest.raises(RuntimeError, match="created in no_grad mode"):
            v.mul_(2)  # the base's history would silently miss the change
        with lib.no_grad():
            u = a[0]
        with pytest.raises(RuntimeError, match="created in no_grad mode"):
            u.mul_(2)
        buf = lib.zeros(3, 4)
        with lib.no_grad():
            row = buf[0]
        with pytest.raises(RuntimeError, match="created in no_grad mode"):
            row.add_(a[0])
        row.add_(1)  # nothing records gradients: a plain write, as in torch


def test_expanded_view_refused_as_torch():
    for lib in (vl, torch):
        h = lib.ones(3, requires_grad=True) * 2
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            h.expand(2, 3).mul_(2)


def test_saved_view_modified_through_base_raises_as_torch():
    for lib in (vl, torch):
        a = lib.ones(3, 4, requires_grad=True)
        h = a * 2
        v = h[0]
        y = v * v  # saves v
        h.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_retain_graph_twice_matches_torch():
    grads = []
    for lib in (vl, torch):
        a = lib.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
        h = a * 2
        h[:, 1].mul_(h[:, 2].clone())
        loss = (h * h).sum()
        loss.backward(retain_graph=True)
        loss.backward()
        grads.append(np.asarray(a.grad.numpy()))
    np.testing.assert_allclose(grads[0], grads[1])


def test_create_graph_double_backward_matches_torch():
    out = []
    for lib in (vl, torch):
        a = lib.tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True)
        h = a * a
        h[1:, :2].mul_(a[1:, :2])
        (g,) = lib.autograd.grad(h.sum(), a, create_graph=True)
        (g * g).sum().backward()
        out.append((np.asarray(g.detach().numpy()), np.asarray(a.grad.numpy())))
    np.testing.assert_allclose(out[0][0], out[1][0])
    np.testing.assert_allclose(out[0][1], out[1][1])


def test_plain_inplace_unchanged_and_no_grad_views():
    a = vl.ones(3, 4, requires_grad=True)
    h = a * 2
    h.mul_(3)
    assert type(h.grad_fn).__name__ == "MulBackward0"
    x = vl.zeros(3, 4)
    x[0].add_(1)  # no graph at all: a plain write
    assert x.grad_fn is None and not x.requires_grad and float(x.sum()) == 4.0


@pytest.mark.parametrize("case", ["select", "transpose", "twice", "diagonal", "unfold"])
def test_gradcheck_float64(case):
    def fn(a, b):
        h = a * a
        if case == "select":
            h[:, 1].mul_(b)
        elif case == "transpose":
            h.t()[1:].mul_(b.reshape(3, 1).sin())
        elif case == "diagonal":
            h.diagonal(1).mul_(b)
        elif case == "unfold":
            return h.unfold(1, 2, 1).sin() + h.t().unfold(0, 2, 2).sum()
        else:
            v = h[1:].view(-1)
            v.mul_(v.clone())
            v[:3].add_(b)
        return h

    rng = np.random.default_rng(2)
    gradcheck(fn, [rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, 3)])


def test_diagonal_and_unfold_are_views_as_torch():
    for lib in (vl, torch):
        x = lib.zeros(3, 4)
        x.diagonal(1).fill_(1.0)
        x.unfold(1, 2, 2)[2, 1].add_(5.0)
        if lib is vl:
            got = x.numpy().copy()
        else:
            np.testing.assert_array_equal(got, x.numpy())
        with pytest.raises(RuntimeError, match="maximum size for tensor at dimension 1 is 4 but size is 5"):
            x.unfold(1, 5, 1)
        with pytest.raises(RuntimeError, match="step is 0 but must be > 0"):
            x.unfold(1, 2, 0)


def test_retain_grad_follows_the_inplace_value_as_torch():
    got = {}
    for lib in (vl, torch):
        a = lib.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        h = a * 2
        h.retain_grad()
        h[0].mul_(3)  # rebased: h.grad is the gradient of the new h
        k = a * 1
        k.retain_grad()
        k.mul_(3)  # plain in-place: the same
        v = (a * 2)[1]
        v.retain_grad()
        v.mul_(3)
        ((h * h).sum() + (k * k).sum() + (v * v).sum()).backward()
        got[lib] = [np.asarray(t.grad.numpy()) for t in (h, k, v, a)]
    for x, y in zip(got[vl], got[torch]):
        np.testing.assert_allclose(x, y)


def test_hook_on_a_view_after_its_base_changed_matches_torch():
    got = {}
    for lib in (vl, torch):
        a = lib.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        h = a * 2
        v = h[1]
        h[0].mul_(3)  # v is now stale: its history is re-derived from the new h
        if lib is torch:  # torch 2.14 segfaults registering a hook on a stale view before reading grad_fn
            assert type(v.grad_fn).__name__ == "AsStridedBackward0"
        seen = []
        v.register_hook(lambda g, seen=seen: seen.append(np.asarray(g.numpy()).copy()))
        (v * v).sum().backward()
        got[lib] = (seen, np.asarray(a.grad.numpy()))
    np.testing.assert_allclose(got[vl][0], got[torch][0])
    np.testing.assert_allclose(got[vl][1], got[torch][1])
