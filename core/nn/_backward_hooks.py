"""Module backward hooks: identity gates around a module's tensor inputs and outputs.

The output gate sees ``grad_output`` first (and runs the backward pre-hooks); the input gate then sees
``grad_input`` and runs the full backward hooks, which may replace it. Where no input needs a gradient the
hooks run from the output gate with ``grad_input`` all None, as in PyTorch.
"""
from ..autograd.function import Function
from ..tensor import Tensor


class _OutputGate(Function):
    @staticmethod
    def forward(ctx, state, *tensors):
        ctx.state = state
        return tuple(t.view_as(t) for t in tensors)

    @staticmethod
    def backward(ctx, *grads):
        return (None,) + tuple(ctx.state.on_grad_output(grads))


class _InputGate(Function):
    @staticmethod
    def forward(ctx, state, *tensors):
        ctx.state = state
        return tuple(t.view_as(t) for t in tensors)

    @staticmethod
    def backward(ctx, *grads):
        return (None,) + tuple(ctx.state.on_grad_input(grads))


class BackwardHookState:
    """One forward call's bookkeeping between the two gates."""

    def __init__(self, module):
        self.module = module
        self.grad_output = None
        self.n_inputs = 0
        self.inputs_need_grad = False

    def wrap_inputs(self, args):
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.n_inputs = len(positions)
        self.inputs_need_grad = any(args[i].requires_grad for i in positions)
        if not self.inputs_need_grad:
            return args
        gated = _InputGate.apply(self, *[args[i] for i in positions])
        out = list(args)
        for i, t in zip(positions, gated):
            out[i] = t
        return tuple(out)

    def wrap_outputs(self, output):
        single = isinstance(output, Tensor)
        outs = (output,) if single else output
        if not isinstance(outs, tuple):
            return output  # dicts and other containers: hooks on them are not supported
        positions = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
        if not positions:
            return output
        gated = _OutputGate.apply(self, *[outs[i] for i in positions])
        new = list(outs)
        for i, t in zip(positions, gated):
            new[i] = t
        return new[0] if single else tuple(new)

    def on_grad_output(self, grads):
        grads = tuple(grads)
        for hook in list(self.module._backward_pre_hooks.values()):
            result = hook(self.module, grads)
            if result is not None:
                grads = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        self.grad_output = grads
        if not self.inputs_need_grad:
            self._run_hooks((None,) * self.n_inputs)
        return grads

    def on_grad_input(self, grads):
        return self._run_hooks(tuple(grads))

    def _run_hooks(self, grad_input):
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, self.grad_output)
            if result is not None:
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(result) != len(grad_input):
                    raise RuntimeError(f"backward hook returned {len(result)} gradients, expected "
                                       f"{len(grad_input)} (one per tensor input)")
                grad_input = result
        return grad_input
