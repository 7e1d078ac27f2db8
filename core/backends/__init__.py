"""``visionlite.backends``: the switches PyTorch scripts set on ``torch.backends`` (cuDNN autotuning and
determinism, TF32 matmuls, MPS queries).

visionlite runs on numpy and cupy and uses neither cuDNN nor TF32, so these flags are accepted, stored
and readable, and change nothing: they exist so that ``torch.backends.cudnn.benchmark = True`` style lines
carry over. Results are already deterministic on the CPU.
"""

from . import cpu, cuda, cudnn, mkl, mkldnn, mps, openmp, opt_einsum

__all__ = ["cpu", "cuda", "cudnn", "mkl", "mkldnn", "mps", "openmp", "opt_einsum"]
