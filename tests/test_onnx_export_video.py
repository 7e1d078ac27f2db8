"""visionlite.onnx.export for 3-D layers and the video classification models: onnx.checker passes and ONNX
Runtime (the reference) computes what visionlite computes at a batch size other than the exported one.

The default suite exports single 3-D ops (every window case of conv3d/pooling) and small members of each
video family; the full models are ``slow``."""

import numpy as np
import pytest

import visionlite as vl
import visionlite.nn.functional as F
from tests.helpers.refs import require
from tests.test_onnx_export import _assert_close, _randomize, _session
from visionlite import models as M
from visionlite import nn

onnx = require("onnx")
ort = require("onnxruntime")

from visionlite.onnx import ExportError, export  # noqa: E402


def _check(model, clip, batch=2, other_batch=3):
    """Export ``model`` on ``(batch, *clip)`` with a dynamic batch; ORT on ``other_batch`` must match."""
    model = _randomize(model)
    x = vl.randn(batch, *clip)
    proto = export(model, x, None, input_names=["input"], dynamic_axes={"input": {0: "batch"}})
    onnx.checker.check_model(proto, full_check=True)
    x2 = vl.randn(other_batch, *clip)
    with vl.no_grad():
        want = model(x2).numpy()
    (got,) = _session(proto).run(None, {"input": x2.numpy()})
    _assert_close(got, want, type(model).__name__)
    return proto


class _Fn(nn.Module):
    def __init__(self, fn, *modules):
        super().__init__()
        self.fn = fn
        self.parts = nn.ModuleList(modules)

    def forward(self, x):
        return self.fn(x, *self.parts)


# ------------------------------------------------------------------------------------------- single ops
CONV3D = {
    "k333_p1": dict(kernel_size=3, padding=1),
    "k377_s244": dict(kernel_size=(3, 7, 7), stride=(2, 4, 4), padding=(1, 3, 3)),
    "k133": dict(kernel_size=(1, 3, 3), padding=(0, 1, 1)),
    "k311": dict(kernel_size=(3, 1, 1), padding=(1, 0, 0)),
    "k111_s2": dict(kernel_size=1, stride=2),
    "dilated_groups": dict(kernel_size=3, padding=2, dilation=(2, 1, 2), groups=2),
    "stride3_nopad": dict(kernel_size=(2, 3, 3), stride=(3, 2, 1)),
    "same_even": dict(kernel_size=(2, 2, 4), padding="same"),
}


@pytest.mark.parametrize("case", sorted(CONV3D))
def test_conv3d(case):
    conv = nn.Conv3d(4, 6, **CONV3D[case])
    _check(_Fn(lambda x, c: c(x).relu(), conv), (4, 7, 9, 10))


@pytest.mark.parametrize("case", ["plain", "strided_padded", "output_padding"])
def test_conv_transpose3d(case):
    kw = {"plain": dict(kernel_size=3),
          "strided_padded": dict(kernel_size=(3, 3, 2), stride=(2, 1, 2), padding=(1, 1, 0), groups=2),
          "output_padding": dict(kernel_size=3, stride=(3, 2, 2), padding=1, output_padding=(2, 1, 0),
                                 dilation=1)}[case]
    _check(nn.ConvTranspose3d(4, 6, **kw), (4, 3, 5, 6))


POOL = {
    "max_k3_s2_p1": lambda x: F.max_pool3d(x, 3, 2, 1),
    "max_ceil_dilated": lambda x: F.max_pool3d(x, (2, 3, 3), (2, 2, 1), (1, 1, 0), dilation=(2, 1, 2),
                                               ceil_mode=True),
    "max_k133": lambda x: F.max_pool3d(x, (1, 3, 3), (1, 2, 2), (0, 1, 1)),
    "avg_k3_p1_no_pad_count": lambda x: F.avg_pool3d(x, 3, 2, 1, count_include_pad=False),
    "avg_ceil": lambda x: F.avg_pool3d(x, (2, 2, 3), (2, 3, 2), ceil_mode=True),
    "avg_divisor": lambda x: F.avg_pool3d(x, 2, divisor_override=3),
    "adaptive_global": lambda x: F.adaptive_avg_pool3d(x, 1),
    "adaptive_uneven": lambda x: F.adaptive_avg_pool3d(x, (3, 4, None)),
    "adaptive_grow": lambda x: F.adaptive_avg_pool3d(x, (9, 2, 1)),
}


@pytest.mark.parametrize("case", sorted(POOL))
def test_pool3d(case):
    _check(_Fn(POOL[case]), (3, 7, 9, 10))


@pytest.mark.parametrize("opset", [13, 18])
def test_3d_ops_at_other_opsets(opset):
    # ReduceMean takes its axes as an attribute before opset 18 and as an input from 18 on.
    model = _randomize(nn.Sequential(nn.Conv3d(3, 4, 3, padding=1), nn.MaxPool3d(2, 2, 1),
                                     nn.AvgPool3d((2, 1, 1)), nn.AdaptiveAvgPool3d(1)))
    x = vl.randn(2, 3, 5, 6, 6)
    proto = export(model, x, None, opset_version=opset, dynamic_axes={"input": {0: "batch"}})
    assert proto.opset_import[0].version == opset
    x2 = vl.randn(1, 3, 5, 6, 6)
    with vl.no_grad():
        want = model(x2).numpy()
    _assert_close(_session(proto).run(None, {"input": x2.numpy()})[0], want, f"opset {opset}")


# ------------------------------------------------------------------------------------ small video models
def _tiny_s3d():
    from visionlite.models.video.s3d import S3D

    model = S3D(num_classes=10)
    model.avgpool = nn.AvgPool3d(kernel_size=(1, 2, 2), stride=1)  # for 8x64x64 clips (1x2x2 at the end)
    return model


def _tiny_mvit(v2):
    from visionlite.models.video.mvit import MSBlockConfig, MViT

    k3 = [3, 3, 3]
    setting = [MSBlockConfig(1, 16, 32, k3, k3, [1, 2, 2], [1, 2, 2]),
               MSBlockConfig(2, 32, 32, k3 if v2 else [], k3, [1, 1, 1] if v2 else [], [1, 1, 1])]
    return MViT(spatial_size=(32, 32), temporal_size=4, block_setting=setting, residual_pool=v2,
                residual_with_cls_embed=not v2, rel_pos_embed=v2, proj_after_attn=v2, num_classes=10)


def _tiny_swin3d():
    from visionlite.models.video.swin_transformer import SwinTransformer3d

    return SwinTransformer3d(patch_size=[2, 4, 4], embed_dim=16, depths=[2, 2], num_heads=[2, 4],
                             window_size=[2, 4, 4], num_classes=10)


def _tiny_video_resnet(kind):
    # r3d_18 / mc3_18 / r2plus1d_18 with one block per stage (the same layers, half the weights).
    from visionlite.models.video import resnet as R

    makers = {"r3d": [R.Conv3DSimple] * 4, "mc3": [R.Conv3DSimple] + [R.Conv3DNoTemporal] * 3,
              "r2plus1d": [R.Conv2Plus1D] * 4}[kind]
    stem = R.R2Plus1dStem if kind == "r2plus1d" else R.BasicStem
    return R.VideoResNet(R.BasicBlock, makers, [1, 1, 1, 1], stem, num_classes=10)


SMALL = {
    "r3d": (lambda: _tiny_video_resnet("r3d"), (3, 4, 32, 32)),
    "mc3": (lambda: _tiny_video_resnet("mc3"), (3, 4, 32, 32)),
    "r2plus1d": (lambda: _tiny_video_resnet("r2plus1d"), (3, 4, 32, 32)),
    "s3d": (_tiny_s3d, (3, 8, 64, 64)),
    "mvit_v1": (lambda: _tiny_mvit(False), (3, 4, 32, 32)),
    "mvit_v2": (lambda: _tiny_mvit(True), (3, 4, 32, 32)),
    "swin3d": (_tiny_swin3d, (3, 4, 32, 32)),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_video_models_match_onnxruntime_at_another_batch(name):
    build, clip = SMALL[name]
    _check(build(), clip)


def test_per_frame_conv3d_exported_at_batch_one():
    # torch.onnx's usual call exports one clip (conv3d has a one-clip path for 1 x k x k kernels); the graph
    # must still take any batch.
    model = nn.Sequential(nn.Conv3d(3, 4, (1, 3, 3), padding=(0, 1, 1)), nn.ReLU(),
                          nn.Conv3d(4, 5, (3, 1, 1)))
    _check(model, (3, 4, 8, 8), batch=1, other_batch=2)


def test_3d_windows_export_as_slices_not_constants():
    # The temporal windows are computed in the graph from the input (no clip-sized constant).
    proto = _check(nn.Conv3d(2, 3, 3, padding=1), (2, 5, 6, 6))
    big = [t for t in proto.graph.initializer if np.prod(t.dims) > 3 * 2 * 27]
    assert not big, [t.name for t in big]


# ------------------------------------------------------------------------------------------ optical flow
@pytest.mark.parametrize("mode,padding,align", [("bilinear", "zeros", True), ("bilinear", "border", False),
                                                ("nearest", "reflection", False)])
def test_grid_sample_from_the_input(mode, padding, align):
    # The sampling positions are computed from the input (as RAFT's), so they must be graph values.
    class Warp(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 2, 3, padding=1)

        def forward(self, x):
            grid = self.conv(x).tanh().permute(0, 2, 3, 1) * 1.2
            return F.grid_sample(x, grid, mode=mode, padding_mode=padding, align_corners=align)

    _check(Warp(), (3, 9, 11))


def _warp_model():
    class Warp(nn.Module):
        def forward(self, x):
            return F.grid_sample(x, x[:, :2].permute(0, 2, 3, 1).tanh(), align_corners=True)

    return Warp()


def test_grid_sample_opsets():
    # opset 20 renamed GridSample's 'bilinear' to 'linear'; before 16 there is no GridSample.
    x = vl.randn(2, 3, 5, 6)
    proto = export(_warp_model(), x, None, opset_version=20, dynamic_axes={"input": {0: "batch"}})
    (node,) = [nd for nd in proto.graph.node if nd.op_type == "GridSample"]
    assert onnx.helper.get_attribute_value(node.attribute[[a.name for a in node.attribute].index("mode")]) \
        == b"linear"
    x2 = vl.randn(1, 3, 5, 6)
    (got,) = _session(proto).run(None, {"input": x2.numpy()})
    with vl.no_grad():
        _assert_close(got, _warp_model()(x2).numpy(), "opset 20")
    with pytest.raises(ExportError, match="opset 16"):
        export(_warp_model(), x, None, opset_version=15)


def test_detached_value_stays_in_the_graph():
    class Detached(nn.Module):
        def forward(self, x):
            y = (x * 2).detach()
            return y + x.sum(1, keepdim=True)

    _check(Detached(), (3, 4, 4))


@pytest.mark.parametrize("kw", [dict(kernel_size=3, padding=1), dict(kernel_size=(2, 3), stride=(2, 1),
                                                                        dilation=(1, 2), padding=(1, 0))])
def test_unfold(kw):
    # F.unfold feeds RAFT's convex upsampling (raft_large's mask predictor).
    _check(_Fn(lambda x: F.unfold(x * 2, **kw)), (3, 7, 9))


def _check_raft(model, size, batch=1, other_batch=2, updates=2):
    model = _randomize(model)
    x = (vl.randn(batch, 3, *size), vl.randn(batch, 3, *size))
    dyn = {"image1": {0: "batch"}, "image2": {0: "batch"}}
    proto = export(model, x, None, input_names=["image1", "image2"], dynamic_axes=dyn,
                   kwargs={"num_flow_updates": updates})
    onnx.checker.check_model(proto, full_check=True)
    x2 = [vl.randn(other_batch, 3, *size) for _ in range(2)]
    with vl.no_grad():
        want = [f.numpy() for f in model(*x2, num_flow_updates=updates)]
    got = _session(proto).run(None, {"image1": x2[0].numpy(), "image2": x2[1].numpy()})
    assert len(got) == updates
    for i, (g, w) in enumerate(zip(got, want)):
        _assert_close(g, w, f"flow {i}")


def test_raft_small_matches_onnxruntime_at_another_batch():
    # Correlation lookups through GridSample, GRU updates unrolled (a fixed number of them).
    _check_raft(M.optical_flow.raft_small(), (128, 128))


# ----------------------------------------------------------------------------------------- full models
VIDEO = sorted(M.list_models(module=M.video))


@pytest.mark.slow
@pytest.mark.parametrize("name", VIDEO)
def test_video_zoo_matches_onnxruntime_at_another_batch(name):
    clip = (3, 16, 224, 224) if name.startswith(("s3d", "mvit")) else (3, 8, 112, 112)  # their fixed sizes
    # Exported at batch 1 (traced at 1 and 2): MViT's traces at 16x224x224 hold every activation.
    _check(M.get_model(name), clip, batch=1, other_batch=2)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["raft_small", "raft_large"])
def test_raft_zoo_matches_onnxruntime_at_another_batch(name):
    _check_raft(M.get_model(name), (256, 320), batch=2, other_batch=1, updates=12)
