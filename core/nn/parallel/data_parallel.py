"""``DataParallel`` as PyTorch runs it with at most one device: the wrapped module is called directly.

The wrapper keeps PyTorch's structure (the model is ``self.module``, so state-dict keys carry the
``module.`` prefix and checkpoints interchange). visionlite drives one GPU per process; with several
visible GPUs the work stays on the first one, and a warning says so.
"""
import warnings

from ... import backend
from ..module import Module

__all__ = ["DataParallel", "data_parallel"]


def _visible_gpus():
    if not backend.cuda_available():
        return 0
    return backend.cupy().cuda.runtime.getDeviceCount()


def _device_index(d):
    if isinstance(d, int):
        return d
    index = getattr(backend.Device(d), "index", None)
    return 0 if index is None else index


class DataParallel(Module):
    """Wrap ``module`` for data-parallel training; here a pass-through that calls ``module(*inputs)``.

    Args: ``device_ids`` (GPUs to use; default all visible), ``output_device`` (default
    ``device_ids[0]``), ``dim`` (the batch dimension inputs would be split along).
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.dim = dim
        n = _visible_gpus()
        if n == 0:
            self.device_ids = []
            self.output_device = None
            return
        ids = list(range(n)) if device_ids is None else [_device_index(d) for d in device_ids]
        if len(ids) > 1:
            warnings.warn(f"DataParallel: visionlite runs one device per process; the module runs on "
                          f"cuda:{ids[0]} only, not split over {len(ids)} devices", stacklevel=2)
        self.device_ids = ids[:1]
        self.output_device = _device_index(output_device) if output_device is not None else ids[0]

    def forward(self, *inputs, **kwargs):
        if self.device_ids:
            device = f"cuda:{self.device_ids[0]}"
            inputs = tuple(_move(x, device) for x in inputs)
            kwargs = {k: _move(v, device) for k, v in kwargs.items()}
        return self.module(*inputs, **kwargs)


def _move(x, device):
    from ...tensor import Tensor

    if isinstance(x, Tensor):
        return x.to(device)
    if isinstance(x, (list, tuple)):
        return type(x)(_move(v, device) for v in x)
    if isinstance(x, dict):
        return {k: _move(v, device) for k, v in x.items()}
    return x


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """Functional form of ``DataParallel``: ``module(*inputs, **module_kwargs)``."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    return DataParallel(module, device_ids, output_device, dim)(*inputs, **(module_kwargs or {}))
