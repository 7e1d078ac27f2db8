"""Which ops autocast casts, and how: PyTorch's autocast op lists for the cpu and cuda device types, and
the casting of one op call's inputs.

Categories, as in PyTorch's ``autocast_mode.cpp``:
  - lower: run in the autocast dtype (bfloat16 on cpu, float16 on cuda by default);
  - fp32: run in float32;
  - fp32_opt_dtype: run in float32 by passing ``dtype=float32``, unless the caller gave a ``dtype``;
  - promote: run in the widest floating type among the inputs;
  - banned: refused (an op whose autocast result would be unsafe).
Only "eligible" inputs are cast: floating-point tensors on the autocast device, other than float64.
Ops in no list run on their inputs as given.
"""

from .. import dtypes
from ..amp_state import get_autocast_dtype
from ..autograd.versions import version_of
from ..tensor import Tensor

LOWER, FP32, FP32_OPT_DTYPE, PROMOTE, BANNED = "lower", "fp32", "fp32_opt_dtype", "promote", "banned"


def _names(text):
    return text.split()


_FFT = ["fft_" + s for s in _names("fft ifft fft2 ifft2 fftn ifftn rfft irfft rfft2 irfft2 rfftn irfftn hfft "
                                   "ihfft")]
_LINALG = ["linalg_" + s for s in _names("""
    cond matrix_rank solve cholesky svdvals eigvals eigvalsh inv householder_product tensorinv
    tensorsolve qr cholesky_ex svd eig eigh lstsq inv_ex""")]

CPU = {
    **dict.fromkeys(_names("""
        conv1d conv2d conv3d bmm mm linalg_vecdot baddbmm addmm addbmm linear _convolution matmul einsum
        conv_tbc mkldnn_rnn_layer conv_transpose1d conv_transpose2d conv_transpose3d prelu
        scaled_dot_product_attention _native_multi_head_attention _addmm_activation"""), LOWER),
    **dict.fromkeys(_names("""
        avg_pool3d binary_cross_entropy grid_sampler polar prod quantile nanquantile stft cdist trace
        view_as_complex cholesky cholesky_inverse cholesky_solve inverse lu_solve orgqr ormqr pinverse
        max_pool3d max_unpool2d max_unpool3d adaptive_avg_pool3d reflection_pad1d reflection_pad2d
        replication_pad1d replication_pad2d replication_pad3d mse_loss cosine_embedding_loss nll_loss
        nll_loss2d hinge_embedding_loss poisson_nll_loss smooth_l1_loss cross_entropy_loss l1_loss
        huber_loss margin_ranking_loss soft_margin_loss triplet_margin_loss multi_margin_loss ctc_loss
        kl_div multilabel_margin_loss binary_cross_entropy_with_logits geqrf _lu_with_info qr svd
        triangular_solve fractional_max_pool2d fractional_max_pool3d adaptive_max_pool3d
        multilabel_margin_loss_forward""")
        + _FFT + _LINALG, FP32),
    **dict.fromkeys(_names("stack cat index_copy"), PROMOTE),
}

CUDA = {
    **dict.fromkeys(_names("""
        _convolution conv1d conv2d conv3d conv_tbc conv_transpose1d conv_transpose2d conv_transpose3d
        convolution cudnn_convolution cudnn_convolution_transpose prelu addmm addmv addr matmul einsum mm mv
        linalg_vecdot linear addbmm baddbmm bmm chain_matmul linalg_multi_dot _thnn_fused_lstm_cell
        _thnn_fused_gru_cell lstm_cell gru_cell rnn_tanh_cell rnn_relu_cell
        _scaled_dot_product_flash_attention scaled_dot_product_attention"""), LOWER),
    # cross_entropy_loss is a composite on cuda (log_softmax and nll_loss, both float32 there): same result
    **dict.fromkeys(_names("""
        acos asin cosh erfinv exp expm1 log log10 log2 log1p reciprocal rsqrt sinh tan pow softplus
        layer_norm native_layer_norm rms_norm group_norm frobenius_norm nuclear_norm norm cosine_similarity
        poisson_nll_loss cosine_embedding_loss nll_loss nll_loss2d hinge_embedding_loss kl_div l1_loss
        smooth_l1_loss huber_loss mse_loss margin_ranking_loss multilabel_margin_loss soft_margin_loss
        triplet_margin_loss multi_margin_loss binary_cross_entropy_with_logits dist pdist cdist renorm
        logsumexp upsample_nearest1d upsample_nearest2d upsample_nearest3d _upsample_nearest_exact1d
        _upsample_nearest_exact2d _upsample_nearest_exact3d upsample_linear1d upsample_bilinear2d
        _upsample_bilinear2d_aa upsample_trilinear3d upsample_bicubic2d _upsample_bicubic2d_aa
        cross_entropy_loss __rtruediv__ __rdiv__"""), FP32),
    **dict.fromkeys(_names("prod softmax log_softmax cumprod cumsum linalg_vector_norm linalg_matrix_norm "
                           "sum"), FP32_OPT_DTYPE),
    **dict.fromkeys(_names("""
        addcdiv addcmul atan2 bilinear cross dot vdot grid_sampler index_put scatter_add tensordot stack cat
        index_copy"""), PROMOTE),
    "binary_cross_entropy": BANNED,
}

TABLES = {"cpu": CPU, "cuda": CUDA}

# Ops that are one kernel here but a composite in PyTorch on that device (where no list names them): their
# inner matmuls are autocast there, so they run here with autocast left on for their inner calls.
COMPOSITE = {"cpu": {"bilinear"}, "cuda": set()}

BANNED_MESSAGE = (
    "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_logits\n"
    "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
    "safe to autocast."
)


def category(device_type, name):
    """The autocast category of op ``name`` on ``device_type`` (None when it is in no list)."""
    return TABLES[device_type].get(name)


def _tensors(args):
    for a in args:
        if isinstance(a, Tensor):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from _tensors(a)


def _eligible(t, device_type):
    """Floating point, not float64, on ``device_type`` (None: on any device)."""
    d = t.dtype
    return (
        d.is_floating_point
        and d is not dtypes.float64
        and (device_type is None or t.device.type == device_type)
    )


def _widest(args, kwargs, device_type, lower):
    """PyTorch's ``promote_type`` over the eligible inputs: float32 if any is float32, else ``lower``."""
    out = lower
    for t in _tensors(list(args) + list(kwargs.values())):
        if _eligible(t, device_type):
            if t.dtype is dtypes.float32:
                return dtypes.float32
            if t.dtype is not lower:
                raise RuntimeError(
                    f"autocast: unexpected floating dtype {t.dtype} among the inputs of a "
                    f"promoting op (the {device_type} autocast dtype is {lower})"
                )
    return out


def _cast(value, dtype, device_type, state):
    if isinstance(value, Tensor):
        if not _eligible(value, device_type) or value.dtype is dtype:
            return value
        cacheable = (
            state.cache_enabled
            and dtype is not dtypes.float32
            and value.dtype is dtypes.float32
            and value.requires_grad
            and value.is_leaf
        )
        if cacheable:  # weights: cast once per autocast region (and again if they change in it)
            hit = state.cache.get(id(value))
            if hit is not None and hit[0] is value and hit[1] == version_of(value):
                return hit[2]
            cast = value.to(dtype)
            state.cache[id(value)] = (value, version_of(value), cast)
            return cast
        return value.to(dtype)
    if isinstance(value, (list, tuple)) and any(isinstance(v, (Tensor, list, tuple)) for v in value):
        return type(value)(_cast(v, dtype, device_type, state) for v in value)
    return value


def _device_type(args, kwargs):
    for t in _tensors(list(args) + list(kwargs.values())):
        return t.device.type
    return None


def cast_inputs(name, device_type, args, kwargs, state, dtype=None, any_device=False):
    """The inputs of one call of op ``name`` as autocast on ``device_type`` hands them to the op, and
    whether the op's body runs with autocast suspended (all but PyTorch's composites). ``dtype``: the
    autocast dtype (default: the state's);
    ``any_device``: treat tensors on every device as on ``device_type`` (to check the cuda policy on a CPU).
    """
    cat = TABLES[device_type].get(name)
    if cat is None:  # not cast on this device; a single op (unless composite), so no inner casts either
        return args, kwargs, name not in COMPOSITE[device_type]
    lower = get_autocast_dtype(device_type) if dtype is None else dtype
    device_type = None if any_device else device_type
    if cat == BANNED:
        raise RuntimeError(BANNED_MESSAGE)
    if cat == FP32_OPT_DTYPE:
        if kwargs.get("dtype") is None:
            first = next(_tensors(args), None)
            if first is not None and _eligible(first, device_type):
                kwargs = {**kwargs, "dtype": dtypes.float32}
        return args, kwargs, True
    target = {LOWER: lower, FP32: dtypes.float32}.get(cat) or _widest(args, kwargs, device_type, lower)
    args = tuple(_cast(a, target, device_type, state) for a in args)
    kwargs = {k: _cast(v, target, device_type, state) for k, v in kwargs.items()}
    return args, kwargs, True


def autocast_call(name, fn, args, kwargs, state):
    """Run ``fn`` (an autocast op) under the thread's autocast ``state``."""
    device_type = _device_type(args, kwargs)
    if device_type is None or not state.enabled.get(device_type):
        return fn(*args, **kwargs)
    if callable(name):
        name = name(*args, **kwargs)
    args, kwargs, suspend = cast_inputs(name, device_type, args, kwargs, state)
    if not suspend:
        return fn(*args, **kwargs)
    state.suspended += 1
    try:
        return fn(*args, **kwargs)
    finally:
        state.suspended -= 1
