"""``SyncBatchNorm``: batch norm whose statistics cover the batches of every process in the group.

In training, each rank sums its input per channel, the sums are all-reduced (the mean of the global
batch), then the squared deviations likewise (its biased variance, two passes for accuracy); the running
variance takes the unbiased one, as PyTorch. The all-reduce is an autograd function whose backward
all-reduces the incoming gradient, so the gradient terms of the statistics are summed over the ranks
and the result equals BatchNorm over the concatenated batch. Outside a process group, or in eval mode,
it is plain batch norm.
"""
from ...autograd.function import Function
from .normalization import _BatchNorm

__all__ = ["SyncBatchNorm"]


class _AllReduceSum(Function):
    """Sum over the ranks of ``group``; its gradient is the sum of the ranks' gradients."""

    @staticmethod
    def forward(ctx, x, group):
        from ... import distributed as dist

        ctx.group = group
        out = x.detach().clone()
        dist.all_reduce(out, group=group)
        return out

    @staticmethod
    def backward(ctx, grad):
        from ... import distributed as dist

        out = grad.detach().clone()
        dist.all_reduce(out, group=ctx.group)
        return out, None


class SyncBatchNorm(_BatchNorm):
    """Batch norm over ``(N, C, *)`` input with statistics synchronised over ``process_group`` (default: the
    default group) in training. Build one with ``SyncBatchNorm.convert_sync_batchnorm(model)``."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {input.ndim}D input)")

    def forward(self, input):
        from ... import distributed as dist

        self._check_input_dim(input)
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        need_sync = (use_batch_stats and self.training and dist.is_initialized()
                     and dist.get_world_size(self.process_group) > 1)
        if not need_sync:
            return super().forward(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / int(self.num_batches_tracked.item()) if self.momentum is None else self.momentum
        c = input.shape[1]
        dims = (0,) + tuple(range(2, input.ndim))
        shape = (1, c) + (1,) * (input.ndim - 2)
        from ... import creation

        local = input.numel() // max(c, 1)
        count = creation.tensor([float(local)], dtype=input.dtype, device=input.device)
        from ...ops.movement import cat

        stats = _AllReduceSum.apply(cat([input.sum(dims), count]), self.process_group)
        total = float(stats[c].item())
        if total <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                             f"{list(input.shape)}")
        mean = stats[:c] / total
        centred = input - mean.reshape(shape)
        var = _AllReduceSum.apply((centred * centred).sum(dims), self.process_group) / total
        out = centred / (var.reshape(shape) + self.eps).sqrt()
        if self.weight is not None:
            out = out * self.weight.reshape(shape)
        if self.bias is not None:
            out = out + self.bias.reshape(shape)
        if self.track_running_stats and self.running_mean is not None:
            from ...autograd.grad_mode import no_grad

            with no_grad():
                m = factor
                self.running_mean.mul_(1 - m).add_(mean.detach().to(self.running_mean.dtype) * m)
                unbiased = var.detach() * (total / (total - 1))
                self.running_var.mul_(1 - m).add_(unbiased.to(self.running_var.dtype) * m)
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every ``BatchNorm*d`` replaced by a SyncBatchNorm sharing its parameters and
        statistics (returned; a top-level batch norm is replaced by the returned one)."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            if module.affine:
                out.weight = module.weight
                out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
            if hasattr(module, "qconfig"):
                out.qconfig = module.qconfig
        for name, child in module.named_children():
            new = cls.convert_sync_batchnorm(child, process_group)
            if new is not child:
                setattr(out, name, new)
        return out
