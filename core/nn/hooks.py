"""Module hooks: forward pre-hooks, forward hooks and full backward (pre-)hooks, and their handles.

Backward hooks work through identity gates around a module's tensor inputs and outputs: the output gate
sees ``grad_output`` first (and runs the backward pre-hooks); the input gate then sees ``grad_input`` and
runs the full backward hooks, which may replace it. Where no input needs a gradient the hooks run from the
output gate with ``grad_input`` all None, as in PyTorch.
"""
from ..autograd.function import Function
from ..tensor import Tensor


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, *registries):
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1
        self._registries = registries

    def remove(self):
        for reg in self._registries:
            reg.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


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


class HookMixin:
    """The hook registration methods of ``Module`` and the call path that runs them."""

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args)`` (or ``hook(module, args, kwargs)``) runs before forward and may return
        replacement args (or ``(args, kwargs)``)."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        if with_kwargs:
            self._hooks_with_kwargs.add(("pre", handle.id))
        return handle

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)``) runs after forward and
        may return a replacement output. (``always_call`` is accepted for compatibility.)"""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        if with_kwargs:
            self._hooks_with_kwargs.add(("post", handle.id))
        return handle

    def register_full_backward_hook(self, hook, prepend=False):
        """``hook(module, grad_input, grad_output)`` runs once the gradients w.r.t. the module's tensor inputs
        are known; it may return replacement ``grad_input``."""
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        if prepend:
            self._backward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """``hook(module, grad_output)`` runs before the module's backward; may return new ``grad_output``."""
        handle = RemovableHandle(self._backward_pre_hooks)
        self._backward_pre_hooks[handle.id] = hook
        if prepend:
            self._backward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def _call_with_hooks(self, args, kwargs):
        for hid, hook in list(self._forward_pre_hooks.items()):
            if ("pre", hid) in self._hooks_with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError("forward pre-hook registered with with_kwargs=True must return "
                                           f"None or a tuple of (new_args, new_kwargs), but got {result}.")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        backward_state = None
        if self._backward_hooks or self._backward_pre_hooks:
            backward_state = BackwardHookState(self)
            args = backward_state.wrap_inputs(args)
        output = self.forward(*args, **kwargs)
        for hid, hook in list(self._forward_hooks.items()):
            if ("post", hid) in self._hooks_with_kwargs:
                result = hook(self, args, kwargs, output)
            else:
                result = hook(self, args, output)
            if result is not None:
                output = result
        if backward_state is not None:
            output = backward_state.wrap_outputs(output)
        return output
