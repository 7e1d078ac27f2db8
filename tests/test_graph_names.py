"""Autograd graphs present themselves as PyTorch's do: ``grad_fn`` names and ``next_functions`` (three
levels deep) on the same small graphs, ``AccumulateGrad`` nodes with ``.variable`` for leaves, reprs and
``name()``; the 60-minute-blitz walk (``loss.grad_fn.next_functions[0][0]...``)."""
import numpy as np
import pytest

import visionlite as vl
import visionlite.nn.functional as VF
from tests.helpers.refs import require

torch = require("torch")
TF = torch.nn.functional


def _graphs(lib, F):
    def r(*shape, seed=0):
        data = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
        return lib.tensor(data, requires_grad=True)

    x, y, w, b = r(4, 3), r(4, 3, seed=1), r(2, 3, seed=2), r(2, seed=3)
    img, k = r(2, 3, 6, 6, seed=4), r(4, 3, 3, 3, seed=5)
    tgt = lib.tensor([0, 1, 1, 0])
    theta = r(2, 2, 3, seed=6)
    a3, b3 = r(2, 3, 4, seed=11), r(2, 4, 5, seed=12)
    ps = r(1, 4, 2, 2, seed=13)
    return {
        "add": lambda: x + y, "add_scalar": lambda: x + 1, "sub": lambda: x - y, "mul": lambda: x * y,
        "mul_scalar": lambda: x * 2, "div": lambda: x / y, "pow": lambda: x ** 2,
        "pow_tensor": lambda: x ** y,
        "neg": lambda: -x, "exp": lambda: x.exp(), "log": lambda: (x * x).log(), "relu": lambda: x.relu(),
        "sigmoid": lambda: x.sigmoid(), "tanh": lambda: x.tanh(), "sum": lambda: x.sum(),
        "sum_dim": lambda: x.sum(1), "mean": lambda: x.mean(), "mean_dim": lambda: x.mean(0),
        "view": lambda: x.view(12), "reshape": lambda: x.reshape(3, 4), "t": lambda: x.t(),
        "transpose": lambda: x.transpose(0, 1), "permute": lambda: img.permute(0, 2, 3, 1),
        "flatten": lambda: img.flatten(1), "mm": lambda: x.mm(w.t()), "matmul": lambda: x @ w.t(),
        "linear": lambda: F.linear(x, w, b), "linear_nobias": lambda: F.linear(x, w),
        "linear3d": lambda: F.linear(r(2, 4, 3, seed=7), w, b),
        "mse": lambda: F.mse_loss(F.linear(x, w, b), r(4, 2, seed=8).detach()),
        "conv": lambda: F.conv2d(img, k), "conv_bias": lambda: F.conv2d(img, k, r(4, seed=9)),
        "nll": lambda: F.nll_loss(F.log_softmax(F.linear(x, w, b), 1), tgt % 2),
        "cross_entropy": lambda: F.cross_entropy(F.linear(x, w, b), tgt % 2),
        "softmax": lambda: F.softmax(x, 1), "max_pool": lambda: F.max_pool2d(img, 2),
        "avg_pool": lambda: F.avg_pool2d(img, 2),
        "bce": lambda: F.binary_cross_entropy(x.sigmoid(), y.detach().sigmoid()),
        "bce_logits": lambda: F.binary_cross_entropy_with_logits(x, y.detach().sigmoid()),
        "leaky_relu": lambda: F.leaky_relu(x, 0.2),
        "batch_norm": lambda: F.batch_norm(img, None, None, training=True),
        "cat": lambda: lib.cat([x, y]), "unsqueeze": lambda: x.unsqueeze(0),
        "squeeze": lambda: x.unsqueeze(0).squeeze(0), "index": lambda: x[0], "slice": lambda: x[:, 1:],
        "clone": lambda: x.clone(), "expand": lambda: b.view(2, 1).expand(2, 3),
        "adaptive_avg": lambda: F.adaptive_avg_pool2d(img, 1), "l1": lambda: F.l1_loss(x, y.detach()),
        "max_dim": lambda: x.max(1)[0], "sqrt": lambda: (x * x).sqrt(), "gelu": lambda: F.gelu(x),
        "affine_grid": lambda: F.affine_grid(theta, [2, 3, 4, 4], align_corners=False),
        "grid_sample": lambda: F.grid_sample(img, F.affine_grid(theta, [2, 3, 4, 4], align_corners=False),
                                             align_corners=False),
        "embedding": lambda: F.embedding(tgt, r(3, 5, seed=10)),
        "nearest": lambda: F.interpolate(img, scale_factor=2, mode="nearest"),
        "bilinear": lambda: F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False),
        "layer_norm": lambda: F.layer_norm(x, (3,)),
        "kl": lambda: F.kl_div(F.log_softmax(x, 1), F.softmax(y.detach(), 1), reduction="batchmean"),
        "relu_inplace": lambda: F.relu(x * 1, inplace=True),
        "silu_inplace": lambda: F.silu(x * 1, inplace=True),
        "stack": lambda: lib.stack([x, y]),
        "where": lambda: lib.where(x > 0, x, y),
        "min_dim": lambda: x.min(1)[0],
        "max_all": lambda: x.max(),
        "bmm": lambda: lib.bmm(a3, b3),
        "masked_fill": lambda: x.masked_fill(x > 0, 0.0),
        "pad_reflect": lambda: F.pad(img, (1, 1, 1, 1), mode="reflect"),
        "pad_replicate": lambda: F.pad(img, (1, 2, 0, 1), mode="replicate"),
        "smooth_l1": lambda: F.smooth_l1_loss(x, y.detach()),
        "huber": lambda: F.huber_loss(x, y.detach()),
        "std": lambda: x.std(),
        "var_dim": lambda: x.var(1),
        "logsumexp": lambda: x.logsumexp(1),
        "chunk": lambda: x.chunk(2, 0)[1],
        "split": lambda: x.split(1, 1)[0],
        "amax": lambda: x.amax(1),
        "logsigmoid": lambda: F.logsigmoid(x),
        "square": lambda: x.square(),
        "adaptive_max": lambda: F.adaptive_max_pool2d(img, 1),
        "pixel_shuffle": lambda: F.pixel_shuffle(ps, 2),
        "gather": lambda: x.gather(1, lib.tensor([[0], [1], [2], [0]])),
        "mean_all_dims": lambda: x.mean((0, 1)),
        "select": lambda: x[:, 0],
        "index_tensor": lambda: x[lib.tensor([0, 2])],
        "float64": lambda: x.double(),
        "clamp_min": lambda: x.clamp(min=0),
        "repeat": lambda: x.repeat(2, 1),
        "cumsum": lambda: x.cumsum(0),
        "flip": lambda: x.flip(0),
        "narrow": lambda: x.narrow(0, 1, 2),
        "group_norm": lambda: F.group_norm(img, 3),
        "conv_transpose": lambda: F.conv_transpose2d(img, k.transpose(0, 1)),
        "nll_sum": lambda: F.nll_loss(F.log_softmax(x, 1), tgt % 3, reduction="sum"),
        "mse_none": lambda: F.mse_loss(x, y.detach(), reduction="none"),
        "elu": lambda: F.elu(x),
        "rsub": lambda: 1 - x,
        "rpow": lambda: 2 ** x,
    }


def _describe(node, depth):
    if node is None:
        return None
    if depth == 0:
        return node.name(), type(node).__name__
    children = tuple(_describe(child, depth - 1) for child, _ in node.next_functions)
    return node.name(), type(node).__name__, children


TORCH_GRAPHS, VL_GRAPHS = _graphs(torch, TF), _graphs(vl, VF)


@pytest.mark.parametrize("case", list(TORCH_GRAPHS))
def test_graph_as_torch_three_levels_deep(case):
    theirs, ours = TORCH_GRAPHS[case](), VL_GRAPHS[case]()
    assert _describe(ours.grad_fn, 3) == _describe(theirs.grad_fn, 3)


def test_accumulate_grad_nodes_and_reprs():
    w = vl.ones(3, requires_grad=True)
    out = w * 2
    node, slot = out.grad_fn.next_functions[0]
    assert type(node).__name__ == "AccumulateGrad" and slot == 0
    assert node.variable is w and node.next_functions == ()
    assert out.grad_fn.next_functions[0][0] is node  # one accumulator per leaf, as in PyTorch
    tw = torch.ones(3, requires_grad=True)
    assert node.name() == (tw * 2).grad_fn.next_functions[0][0].name()
    assert repr(out.grad_fn).startswith("<MulBackward0 object at 0x")
    assert repr(node).startswith("<AccumulateGrad object at 0x")
    assert out.grad_fn.name == "MulBackward0" and out.grad_fn.name() == "MulBackward0"
    assert (out * vl.ones(3)).grad_fn.next_functions[1] == (None, 0)


def test_blitz_network_walk():
    """PyTorch's 60-minute blitz prints loss.grad_fn and two steps back; the same walk here."""
    def walk(lib, F):
        lib.manual_seed(0)
        net = lib.nn.Sequential(lib.nn.Conv2d(1, 6, 5), lib.nn.ReLU(), lib.nn.MaxPool2d(2), lib.nn.Flatten(),
                                lib.nn.Linear(6 * 14 * 14, 10))
        loss = lib.nn.MSELoss()(net(lib.ones(1, 1, 32, 32)), lib.zeros(1, 10))
        first = loss.grad_fn.next_functions[0][0]
        return [loss.grad_fn.name(), first.name(), first.next_functions[0][0].name(),
                type(first.next_functions[0][0]).__name__]

    assert walk(vl, VF) == walk(torch, TF) == ["MseLossBackward0", "AddmmBackward0",
                                               "torch::autograd::AccumulateGrad", "AccumulateGrad"]


def test_labels_do_not_change_gradients():
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float64) for s in ((5, 3), (2, 3), (2,)))
    grads = []
    for lib, F in ((vl, VF), (torch, TF)):
        ts = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
        F.mse_loss(F.linear(*ts).t().unsqueeze(0).squeeze(0), lib.zeros(2, 5, dtype=lib.float64)).backward()
        grads.append([t.grad.numpy() for t in ts])
    for a, c in zip(*grads):
        np.testing.assert_allclose(a, c, rtol=1e-12)
