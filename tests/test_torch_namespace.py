"""Every PyTorch path a user spells resolves under ``visionlite`` (by attribute and by import), to the one
canonical object; the small layers and switches those paths expose behave as PyTorch's on the same inputs."""
import importlib
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite import nn

torch = require("torch")


def run_fresh(code):
    """Run ``code`` in a new interpreter (nothing imported yet) and return its stdout."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_attribute_paths_resolve_without_importing_them_first():
    out = run_fresh("""
        import visionlite as torch
        import visionlite.data as data
        assert torch.utils.data.DataLoader is data.DataLoader
        assert torch.utils.data.distributed.DistributedSampler is data.DistributedSampler
        assert torch.nn.modules.batchnorm._BatchNorm is torch.nn.modules.normalization._BatchNorm
        assert torch.nn.parallel.DataParallel is torch.nn.DataParallel
        assert torch.multiprocessing.Process is __import__("multiprocessing").Process
        assert torch.backends.cudnn.is_available() is False and torch.backends.mkldnn.is_available() is False
        assert callable(torch.utils.checkpoint.checkpoint) and callable(torch.utils.model_zoo.load_url)
        assert torch.accelerator.is_available() in (True, False) and torch.distributed.is_available()
        assert torch.autograd.Variable and torch.nn.modules.conv._ConvNd
        assert torch.nn.parallel.DistributedDataParallel and torch.utils.data.distributed.DistributedSampler
        print(torch.cuda.amp.__name__)
    """)
    assert out.strip().endswith("cuda.amp")


IMPORT_PATHS = ["utils.data", "utils.data.distributed", "nn.parallel", "nn.parallel.data_parallel",
                "nn.parallel.distributed", "multiprocessing", "backends.cudnn", "backends.cuda",
                "backends.mps", "backends.mkl", "backends.mkldnn", "backends.openmp", "backends.cpu",
                "backends.opt_einsum", "cuda", "cuda.amp", "nn.modules.utils"]


@pytest.mark.parametrize("path", IMPORT_PATHS)
def test_import_paths(path):
    importlib.import_module(f"torch.{path}")  # the path is a real PyTorch one
    assert importlib.import_module(f"visionlite.{path}") is not None


NN_SUBMODULES = ["activation", "batchnorm", "channelshuffle", "container", "conv", "distance", "dropout",
                 "flatten", "fold", "instancenorm", "linear", "loss", "module", "normalization", "padding",
                 "pixelshuffle", "pooling", "rnn", "sparse", "transformer", "upsampling"]


@pytest.mark.parametrize("sub", NN_SUBMODULES)
def test_nn_modules_submodules_reexport_the_canonical_classes(sub):
    ours = importlib.import_module(f"visionlite.nn.modules.{sub}")
    theirs = importlib.import_module(f"torch.nn.modules.{sub}")
    shared = [n for n in theirs.__all__ if hasattr(nn, n)]
    assert shared, f"nn.modules.{sub} shares no public layer with torch"
    for name in shared:
        assert getattr(ours, name) is getattr(nn, name), f"nn.modules.{sub}.{name}"


def test_private_bases_users_subclass():
    from visionlite.nn.modules.batchnorm import _BatchNorm
    from visionlite.nn.modules.conv import _ConvNd
    from visionlite.nn.modules.instancenorm import _InstanceNorm

    assert isinstance(nn.BatchNorm2d(3), _BatchNorm) and isinstance(nn.InstanceNorm2d(3), _InstanceNorm)
    assert isinstance(nn.Conv2d(1, 1, 3), _ConvNd)
    assert not isinstance(nn.InstanceNorm2d(3), _BatchNorm)


def test_ntuple_helpers_as_torch():
    from torch.nn.modules import utils as tu

    from visionlite.nn.modules import utils as vu

    for name in ("_single", "_pair", "_triple", "_quadruple"):
        for arg in (3, (1, 2), [4, 5, 6]):
            assert getattr(vu, name)(arg) == getattr(tu, name)(arg)
    assert vu._reverse_repeat_tuple((1, 2), 2) == tu._reverse_repeat_tuple((1, 2), 2)


def test_tensor_device_predicates_as_torch():
    t, v = torch.zeros(2), vl.zeros(2)
    names = [a for a in dir(t) if a.startswith("is_") and not callable(getattr(t, a))]
    assert {"is_xpu", "is_mps", "is_meta", "is_quantized", "is_cpu"} <= set(names)
    for name in names:
        assert getattr(v, name) == getattr(t, name), name


@pytest.fixture
def restore_flags():
    yield
    vl.use_deterministic_algorithms(False)
    torch.use_deterministic_algorithms(False)
    vl.set_float32_matmul_precision("highest")


def test_deterministic_algorithms_switches_as_torch(restore_flags):
    for lib in (torch, vl):
        assert lib.are_deterministic_algorithms_enabled() is False
    for mode, warn_only in [(True, False), (True, True), (False, False)]:
        torch.use_deterministic_algorithms(mode, warn_only=warn_only)
        vl.use_deterministic_algorithms(mode, warn_only=warn_only)
        for f in ("are_deterministic_algorithms_enabled", "is_deterministic_algorithms_warn_only_enabled",
                  "get_deterministic_debug_mode"):
            assert getattr(vl, f)() == getattr(torch, f)(), (mode, warn_only, f)
    for debug in ("warn", "error", "default", 1, 2, 0):
        torch.set_deterministic_debug_mode(debug)
        vl.set_deterministic_debug_mode(debug)
        assert vl.get_deterministic_debug_mode() == torch.get_deterministic_debug_mode()
        assert vl.are_deterministic_algorithms_enabled() == torch.are_deterministic_algorithms_enabled()
    for lib in (torch, vl):
        with pytest.raises(TypeError, match="must be bool"):
            lib.use_deterministic_algorithms(1)
        with pytest.raises(RuntimeError, match="invalid value of debug_mode"):
            lib.set_deterministic_debug_mode("sometimes")
    vl.set_float32_matmul_precision("high")
    assert vl.get_float32_matmul_precision() == "high"
    with pytest.raises(RuntimeError, match="highest"):
        vl.set_float32_matmul_precision("fastest")


PADS = [("ZeroPad1d", 1, (2, 1)), ("ZeroPad2d", 2, (1, 0, 2, 1)), ("ZeroPad3d", 3, 1),
        ("ConstantPad1d", 1, (0, 2)), ("ConstantPad2d", 2, 2), ("ConstantPad3d", 3, (1, 0, 0, 1, 1, 2)),
        ("ReflectionPad1d", 1, 2), ("ReflectionPad2d", 2, (1, 2, 2, 0)),
        ("ReplicationPad1d", 1, (3, 1)), ("ReplicationPad2d", 2, 1),
        ("CircularPad1d", 1, 2), ("CircularPad2d", 2, (1, 2, 0, 1))]


@pytest.mark.parametrize("name,dims,padding", PADS)
def test_padding_layers_as_torch(name, dims, padding):
    x = np.random.default_rng(0).standard_normal((2, 3) + (5,) * dims).astype(np.float32)
    args = (padding, 0.5) if name.startswith("Constant") else (padding,)
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs) and ours.padding == theirs.padding
    xv = vl.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yv, yt = ours(xv), theirs(xt)
    np.testing.assert_array_equal(yv.numpy(force=True), yt.detach().numpy())
    g = np.random.default_rng(1).standard_normal(yt.shape).astype(np.float32)
    yv.backward(vl.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xv.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_padding_rejects_wrong_length():
    with pytest.raises(ValueError, match="ReflectionPad2d: padding must be an int or a tuple of 4 ints"):
        nn.ReflectionPad2d((1, 2, 3))


def test_channel_shuffle_as_torch():
    x = np.arange(2 * 6 * 2 * 2, dtype=np.float32).reshape(2, 6, 2, 2)
    ours, theirs = nn.ChannelShuffle(3), torch.nn.ChannelShuffle(3)
    assert repr(ours) == repr(theirs)
    np.testing.assert_array_equal(ours(vl.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy())


def test_data_parallel_is_a_passthrough_with_torch_keys():
    tm = torch.nn.Linear(3, 2)
    vm = nn.Linear(3, 2)
    vm.load_state_dict({k: vl.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    tdp, vdp = torch.nn.DataParallel(tm), nn.DataParallel(vm)
    assert list(vdp.state_dict()) == list(tdp.state_dict()) == ["module.weight", "module.bias"]
    assert vdp.device_ids == tdp.device_ids == [] and vdp.module is vm
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(vdp(vl.tensor(x)).detach().numpy(), tdp(torch.tensor(x)).detach().numpy(),
                               rtol=1e-6)
    assert vl.nn.parallel.data_parallel(vm, vl.tensor(x)).shape == (4, 2)


def test_distributed_data_parallel_explains_itself():
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))


def test_distributed_sampler_defaults_need_a_process_group_as_torch(monkeypatch):
    from torch.utils.data.distributed import DistributedSampler as TS

    from visionlite.utils.data.distributed import DistributedSampler as VS

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    for cls in (TS, VS):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            cls(list(range(4)))


def test_distributed_sampler_import_path_and_unshuffled_order_as_torch():
    from torch.utils.data.distributed import DistributedSampler as TS

    from visionlite.utils.data.distributed import DistributedSampler as VS

    data = list(range(11))
    for drop_last in (False, True):
        for rank in range(3):
            kw = dict(num_replicas=3, rank=rank, shuffle=False, drop_last=drop_last)
            assert list(VS(data, **kw)) == list(TS(data, **kw)) and len(VS(data, **kw)) == len(TS(data, **kw))


def _child(i, path):
    with open(f"{path}/{i}", "w") as f:
        f.write(str(i * i))


def _failing_child(i):
    if i == 1:
        raise ValueError("boom in child")


def test_multiprocessing_surface_and_spawn(tmp_path):
    import torch.multiprocessing as tmp

    import visionlite.multiprocessing as vmp

    missing = [n for n in tmp.__all__ if not hasattr(vmp, n)]
    assert not missing, missing
    assert vmp.get_all_sharing_strategies() <= tmp.get_all_sharing_strategies()
    vmp.set_sharing_strategy("file_system")
    assert vmp.get_sharing_strategy() == "file_system"
    vmp.set_sharing_strategy("file_descriptor")
    with pytest.raises(ValueError, match="unknown strategy"):
        vmp.set_sharing_strategy("carrier_pigeon")
    assert vmp.start_processes(_child, args=(str(tmp_path),), nprocs=2, start_method="fork") is None
    assert sorted(p.read_text() for p in tmp_path.iterdir()) == ["0", "1"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(vmp.ProcessRaisedException, match="boom in child"):
            vmp.start_processes(_failing_child, nprocs=2, start_method="fork")


def test_models_dict_finds_lazy_builders():
    out = run_fresh("""
        import sys, time
        import visionlite
        t = time.perf_counter()
        import visionlite.models as models
        took = time.perf_counter() - t
        assert "visionlite.models.resnet" not in sys.modules, "import visionlite.models loaded a family"
        builder = models.__dict__["resnet18"]
        names = sorted(n for n in models.__dict__ if n.islower() and not n.startswith("__")
                       and callable(models.__dict__[n]))
        assert builder is models.resnet18 and callable(builder)
        buildable = []
        for n in models.list_models(module=models):  # as torchvision.models.__dict__: classification
            try:
                models.get_model_builder(n)
            except Exception:  # a registered name whose family is not built yet
                continue
            buildable.append(n)
        missing = set(buildable) - set(names)
        assert buildable and not missing, missing
        print(took)
    """)
    assert float(out) < 0.5


def test_cuda_amp_aliases_behave_as_torch_on_this_machine():
    import visionlite.amp as vamp

    def made(lib):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            scaler = lib.cuda.amp.GradScaler()
            with lib.cuda.amp.autocast() as ctx:
                pass
        return scaler, ctx, sorted({x.category.__name__ for x in w})

    ours, ours_ctx, our_warnings = made(vl)
    assert isinstance(ours, vamp.GradScaler) and isinstance(ours_ctx, vamp.autocast)
    assert type(ours).__qualname__ == "GradScaler" and vl.cuda.amp.GradScaler is type(ours)
    assert vl.cuda.amp.custom_fwd is vamp.custom_fwd
    if not vl.cuda.is_available() and not torch.cuda.is_available():
        theirs, _, their_warnings = made(torch)
        assert our_warnings == their_warnings  # deprecated (FutureWarning), no CUDA (UserWarning)
        assert ours.is_enabled() == theirs.is_enabled() is False


def test_accelerator_and_cuda_queries_as_torch_without_a_gpu():
    def device_line(lib):  # PyTorch's quickstart tutorial picks its device this way
        return lib.accelerator.current_accelerator().type if lib.accelerator.is_available() else "cpu"

    if vl.cuda.is_available():
        assert device_line(vl) == "cuda" and vl.accelerator.device_count() >= 1
        assert isinstance(vl.cuda.get_device_name(), str) and vl.cuda.memory_allocated() >= 0
        return
    assert device_line(vl) == "cpu" == device_line(torch)
    for name in ("memory_allocated", "max_memory_allocated", "device_count", "is_bf16_supported"):
        assert getattr(vl.cuda, name)() == getattr(torch.cuda, name)(), name
    vl.cuda.empty_cache()
    vl.cuda.reset_peak_memory_stats()
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        vl.cuda.get_device_name()


def test_autograd_variable_and_anomaly_switches_as_torch():
    from visionlite.autograd import Variable

    t = vl.ones(2)
    v = Variable(t, requires_grad=True)
    assert v is t and v.requires_grad
    for lib in (torch, vl):
        on = lib.autograd.set_detect_anomaly(True)
        assert (torch.is_anomaly_enabled() if lib is torch else vl.autograd.is_anomaly_enabled())
        on.__exit__(None, None, None)
    assert vl.autograd.is_anomaly_enabled() is torch.is_anomaly_enabled() is False
    with vl.autograd.detect_anomaly(), torch.autograd.detect_anomaly():
        assert vl.autograd.is_anomaly_enabled() and torch.is_anomaly_enabled()
    assert not vl.autograd.is_anomaly_enabled()


def test_checkpoint_gives_torch_values_and_gradients():
    import torch.utils.checkpoint as tcp

    import visionlite.utils.checkpoint as vcp

    assert vl.utils.checkpoint is vcp
    x = np.random.default_rng(0).standard_normal((3, 4))
    results = []
    for lib, cp in ((torch, tcp), (vl, vcp)):
        lin = lib.nn.Linear(4, 4, dtype=lib.float64)
        with lib.no_grad():
            lin.weight.copy_(lib.tensor(np.eye(4) * 0.5))
            lin.bias.fill_(0.1)
        seq = lib.nn.Sequential(lin, lib.nn.Tanh(), lib.nn.Linear(4, 1, dtype=lib.float64))
        with lib.no_grad():
            seq[2].weight.fill_(0.2)
            seq[2].bias.fill_(0.0)
        xt = lib.tensor(x, requires_grad=True)
        y = cp.checkpoint(lambda a, s=seq: s[1](s[0](a)), xt, use_reentrant=False)
        z = cp.checkpoint_sequential(seq, 2, xt, use_reentrant=False)
        (y.sum() + z.sum()).backward()
        results.append((y.detach().numpy(), z.detach().numpy(), xt.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_compile_and_model_zoo_spellings():
    model = nn.Linear(2, 2)
    assert vl.compile(model) is model and vl.compile(mode="max-autotune")(model) is model
    from visionlite.hub import load_state_dict_from_url
    from visionlite.utils.model_zoo import load_url

    assert load_url is load_state_dict_from_url


def test_models_dict_scan_covers_torchvisions():
    """The reference scripts' ``--model`` choices: every classification builder TorchVision lists."""
    tv_models = require("torchvision").models
    import visionlite.models as vl_models

    def scan(models):
        return {n for n in models.__dict__ if n.islower() and not n.startswith("__")
                and callable(models.__dict__[n])}

    missing = scan(tv_models) - scan(vl_models)
    assert not missing, sorted(missing)
    assert vl_models.__dict__["resnet18"] is vl_models.resnet18


def test_attention_kernel_switches_as_torch():
    from torch.nn.attention import SDPBackend as TB
    from torch.nn.attention import sdpa_kernel as tk

    from visionlite.nn.attention import SDPBackend as VB
    from visionlite.nn.attention import sdpa_kernel as vk

    assert {m: int(v) for m, v in VB.__members__.items()} == {m: int(v) for m, v in TB.__members__.items()}
    names = ("flash_sdp_enabled", "mem_efficient_sdp_enabled", "math_sdp_enabled", "cudnn_sdp_enabled")

    def flags(lib):
        return [getattr(lib.backends.cuda, n)() for n in names]

    assert flags(vl) == flags(torch)
    for chosen in (["MATH"], ["FLASH_ATTENTION", "EFFICIENT_ATTENTION"]):
        with vk([getattr(VB, c) for c in chosen]), tk([getattr(TB, c) for c in chosen]):
            assert flags(vl) == flags(torch), chosen
    with vl.backends.cuda.sdp_kernel(enable_flash=False), torch.backends.cuda.sdp_kernel(enable_flash=False):
        assert flags(vl) == flags(torch)
    assert flags(vl) == flags(torch) == [True] * 4
    vl.backends.cuda.enable_math_sdp(False)
    assert not vl.backends.cuda.math_sdp_enabled()
    vl.backends.cuda.enable_math_sdp(True)


def test_distributed_sampler_takes_the_process_group_once_initialised():
    import visionlite.distributed as dist
    from visionlite.utils.data.distributed import DistributedSampler

    dist.init_process_group("mpi", world_size=1, rank=0)
    try:
        sampler = DistributedSampler(list(range(5)), shuffle=False)
        assert (sampler.num_replicas, sampler.rank) == (1, 0)
        ref = torch.utils.data.distributed.DistributedSampler(list(range(5)), num_replicas=1, rank=0,
                                                              shuffle=False)
        assert list(sampler) == list(ref)
        ddp = nn.parallel.DistributedDataParallel(nn.Linear(2, 2))
        assert list(ddp.state_dict()) == ["module.weight", "module.bias"]
    finally:
        dist.destroy_process_group()
    assert not dist.is_initialized()
