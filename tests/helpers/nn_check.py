"""Compare a visionlite module with its PyTorch twin: same weights, same inputs, same outputs and grads."""
import numpy as np

import visionlite as vl


def copy_torch_weights(vl_module, torch_module, strict=True):
    """Load torch's state_dict (as visionlite tensors) into ``vl_module``; returns the load result."""
    sd = {k: vl.tensor(v.detach().cpu().numpy()) for k, v in torch_module.state_dict().items()}
    return vl_module.load_state_dict(sd, strict=strict)


def to_np(t):
    if isinstance(t, vl.Tensor):
        return np.asarray(t.detach().cpu().__array__())
    return t.detach().cpu().numpy()


def compare_modules(vl_module, torch_module, inputs, atol=1e-5, rtol=1e-4, grad_atol=1e-4, grad_rtol=1e-3,
                    seed=1, output_index=None):
    """Run both modules on ``inputs`` (numpy arrays; float ones get requires_grad) and compare outputs, input
    gradients and parameter gradients of a weighted sum of the output."""
    import torch

    t_in = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
    v_in = [vl.tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
    t_out = torch_module(*t_in)
    v_out = vl_module(*v_in)
    if output_index is not None:
        t_out, v_out = t_out[output_index], v_out[output_index]
    assert tuple(v_out.shape) == tuple(t_out.shape), f"shape {tuple(v_out.shape)} != {tuple(t_out.shape)}"
    np.testing.assert_allclose(to_np(v_out), to_np(t_out), atol=atol, rtol=rtol, err_msg="forward")
    w = np.random.default_rng(seed).uniform(0.5, 1.5, size=tuple(t_out.shape)).astype(to_np(t_out).dtype)
    (t_out * torch.tensor(w)).sum().backward()
    (v_out * vl.tensor(w)).sum().backward()
    for i, (a, b) in enumerate(zip(v_in, t_in)):
        if b.grad is not None:
            np.testing.assert_allclose(to_np(a.grad), to_np(b.grad), atol=grad_atol, rtol=grad_rtol,
                                       err_msg=f"grad of input {i}")
    t_params = dict(torch_module.named_parameters())
    for name, p in vl_module.named_parameters():
        tp = t_params[name]
        if tp.grad is None:
            assert p.grad is None or np.allclose(to_np(p.grad), 0), f"{name}: torch has no grad"
            continue
        assert p.grad is not None, f"{name}: visionlite produced no gradient"
        np.testing.assert_allclose(to_np(p.grad), to_np(tp.grad), atol=grad_atol, rtol=grad_rtol,
                                   err_msg=f"grad of {name}")
    return v_out, t_out
