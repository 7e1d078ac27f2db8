"""scripts/bench_layers.py: the per-layer list matches the model's convolutions, and a worker's timings
and the report's table come out for every layer."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import bench_layers  # noqa: E402


def test_layers_of_resnet18_counted_once_with_their_multiplicity():
    layers = bench_layers.model_layers("resnet18", 1, 64)
    assert sum(count for _, count in layers) == 20  # 1 stem + 16 block convs + 3 downsamples
    specs = {(s["c"], s["h"], s["o"], s["k"][0], s["stride"][0]): (s, n) for s, n in layers}
    stem, n = specs[(3, 64, 64, 7, 2)]
    assert n == 1 and stem["out"] == [32, 32] and stem["padding"] == [3, 3] and not stem["bias"]
    assert specs[(64, 16, 64, 3, 1)][1] == 4  # layer1: two blocks of two 3x3 convolutions
    assert bench_layers._gemm_shape(stem, 2) == (64, 3 * 49, 2 * 32 * 32)


def test_worker_times_every_layer_and_the_report_sums_them(capsys):
    layers = bench_layers.model_layers("resnet18", 1, 32)[:3]
    bench_layers.run_worker("visionlite", layers, 1, 1, 2)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("@@layers ")
    result = json.loads(line[len("@@layers "):])
    assert len(result["times"]) == len(result["gemm"]) == 3
    assert all(t > 0 for t in result["times"]) and all(g > 0 for g in result["gemm"])
    slower = {"times": [2 * t for t in result["times"]], "gemm": result["gemm"]}
    bench_layers.report("resnet18", layers, {"visionlite": [result], "torch": [slower]}, 1)
    table = capsys.readouterr().out
    assert "3x 32x32" in table and "all convolutions" in table
    assert "  0.50 " in table  # visionlite at half the (doubled) PyTorch times
