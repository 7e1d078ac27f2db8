"""Run each library of a benchmark in its own process, so that the ratios are what a user would see.

In one process, PyTorch's and numpy's thread pools disturb each other (PyTorch ran ViT-B/16 four times
slower next to visionlite). A benchmark script built on this module runs as the parent by default: for
every case it starts ``python SCRIPT --worker LIB CASE ...`` for visionlite and for PyTorch in turn,
``--rounds`` times, alternating which library goes first so that load from other processes hits both
alike. Each worker sets the same thread count (``visionlite.set_num_threads`` = ``torch.set_num_threads``),
builds the case, warms up, times ``--repeat`` runs and reports them with its peak RSS
(``resource.getrusage``) as one JSON line. The parent prints, per case, the median and the spread
(min-max) of every timed run of each library, the ratio of the medians, and peak RSS.

Peak memory is measured around the timed runs only: the worker records its RSS before them, resets the
kernel's high-water mark (``/proc/self/clear_refs``) and reads ``VmHWM`` after them, so the table shows
the process's peak during the step and how far the step rose above the RSS it started from (import,
model and warm-up state included in the first, not in the second). Without /proc, ``getrusage``'s
process-lifetime peak is shown for both.

By default one extra visionlite run per case (in the first visionlite process, after its timed runs) is
profiled by ``_bench_profile``: the share of GEMM, copies/layout, elementwise, optimizer and Python/other,
and the most expensive ops, printed after the ratios (``--no-profile`` skips it).

A script supplies ``cases`` (an ordered list of case names) and ``build(lib, case, args)``, which imports
``lib`` ('visionlite' or 'torch'), prepares the case and returns a function running one timed iteration
(synchronized when on a GPU); then ``sys.exit(main(__file__, cases, build, description))``.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import _bench_profile

LIBS = ("visionlite", "torch")
_TAG = "@@bench "


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--device", default="cpu")
    p.add_argument("--cases", nargs="*", help="only cases whose name contains one of these words")
    p.add_argument("--quick", action="store_true", help="2 rounds of 2 timed runs per case")
    p.add_argument("--rounds", type=int, default=3, help="processes per library and case (alternated)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs in each process")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=None, help="threads for both libraries (default: CPUs)")
    p.add_argument("--no-profile", dest="profile", action="store_false",
                   help="skip the breakdown of where visionlite's time goes (GEMM, copies, ...)")
    p.add_argument("--list", action="store_true", help="print the case names and exit")
    p.add_argument("--worker", nargs=2, metavar=("LIB", "CASE"), help=argparse.SUPPRESS)
    return p


def default_threads():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def set_threads(lib, n):
    """The same intra-op thread count in either library."""
    if lib == "torch":
        import torch

        torch.set_num_threads(n)
    else:
        import visionlite

        visionlite.set_num_threads(n)


def median_time(fn, repeat, warmup=1):
    """Median seconds of ``repeat`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_rss_mb():
    import resource

    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _proc_status_mb(field):
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def _reset_peak_rss():
    """Restart the kernel's RSS high-water mark (Linux >= 4.0); False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------- the worker
def run_worker(args, build):
    lib, case = args.worker
    set_threads(lib, args.threads or default_threads())
    fn = build(lib, case, args)
    for _ in range(args.warmup):
        fn()
    before = _proc_status_mb("VmRSS")
    exact = before is not None and _reset_peak_rss()
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    peak = _proc_status_mb("VmHWM") if exact else None
    if peak is None:
        peak = peak_rss_mb()
    result = {"times": times, "rss_mb": peak, "rss_step_mb": peak - before if exact else peak,
              "blas": _blas_kernel(lib)}
    if args.profile and lib == "visionlite":
        result["profile"] = _bench_profile.profile_run(fn)
    print(_TAG + json.dumps(result), flush=True)
    return 0


def _blas_kernel(lib):
    """Which GEMM kernels ``lib`` runs: numpy's OpenBLAS kernel set for visionlite, PyTorch's BLAS and
    oneDNN ISA for torch (OPENBLAS_CORETYPE, set on some machines, changes the first and not the second)."""
    if lib == "visionlite":
        from visionlite.core.ops import _blas

        return f"numpy OpenBLAS {_blas.blas_corename() or 'not used'}"
    import torch

    config = torch.__config__.show()
    blas = next((line.split("=", 1)[1] for line in config.splitlines() if "BLAS_INFO=" in line), "?")
    return f"torch BLAS {blas.split(',')[0]}, oneDNN {torch.backends.cpu.get_cpu_capability()}"


# ---------------------------------------------------------------------------------------- the parent
def _forwarded(args, profile):
    out = ["--device", args.device, "--repeat", str(args.repeat), "--warmup", str(args.warmup),
           "--threads", str(args.threads)]
    for name in getattr(args, "script_options", ()):  # a script's own options travel to its workers
        out += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    return out + ([] if profile else ["--no-profile"])


def run_one(script, lib, case, args, env=None, profile=False):
    """Start one worker; its result dict, or {'error': text}."""
    cmd = [sys.executable, os.path.abspath(script), "--worker", lib, case] + _forwarded(args, profile)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith(_TAG):
            return json.loads(line[len(_TAG):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()
    return {"error": tail[-1] if tail else f"exit status {proc.returncode}"}


def run_case(script, case, args):
    """{lib: {'times': [...], 'rss_mb': [...], 'profile': {...}}} over ``args.rounds`` alternated rounds."""
    results = {lib: {"times": [], "rss_mb": [], "rss_step_mb": []} for lib in LIBS}
    for r in range(args.rounds):
        for lib in (LIBS if r % 2 == 0 else LIBS[::-1]):
            got = run_one(script, lib, case, args, profile=args.profile and r == 0)
            if "error" in got:
                return {"error": f"{lib}: {got['error']}"}
            results[lib]["times"] += got["times"]
            results[lib]["rss_mb"].append(got["rss_mb"])
            results[lib]["rss_step_mb"].append(got["rss_step_mb"])
            results[lib]["blas"] = got.get("blas", "?")
            if "profile" in got:
                results[lib]["profile"] = got["profile"]
    return results


def _fmt_ms(times):
    med = statistics.median(times)
    return f"{1e3 * med:9.1f} ({1e3 * min(times):.1f}-{1e3 * max(times):.1f})"


def main(script, cases, build, description, default_cases=None, add_arguments=None):
    """Entry point of a benchmark script (see the module docstring); returns the exit status. Without
    ``--cases``, ``default_cases`` (or all ``cases``) run; a case counts as training when its name says
    ``train`` or ``bwd``. ``add_arguments(parser)`` may add a script's own options (valued ones, passed on
    to the workers) and returns their ``dest`` names."""
    p = parser(description)
    script_options = add_arguments(p) if add_arguments else ()
    args = p.parse_args()
    args.script_options = tuple(script_options)
    if args.worker:
        return run_worker(args, build)
    if args.list:
        print("\n".join(cases))
        return 0
    if args.quick:
        args.rounds, args.repeat = min(args.rounds, 2), min(args.repeat, 2)
    args.threads = args.threads or default_threads()
    chosen = list(default_cases or cases)
    if args.cases:
        chosen = [c for c in cases if any(w in c for w in args.cases)]
    if not chosen:
        print(f"no case matches {args.cases}; --list shows them", file=sys.stderr)
        return 2
    print(f"{args.threads} threads per library, {args.rounds} processes x {args.repeat} runs per library "
          f"and case (alternated), device {args.device}; times in ms: median (min-max); ratio of the medians "
          f"[min-max of per-process ratios]; RSS in MiB: peak during the timed runs, and +rise above the RSS "
          f"before them")
    print(f"{'case':44s} {'visionlite ms':>24s} {'torch ms':>24s} {'ratio':>18s} {'RSS vl/torch':>13s} "
          f"{'+step vl/torch':>15s}")
    ratios, profiles = {}, {}
    for case in chosen:
        res = run_case(script, case, args)
        if "error" in res:
            print(f"{case:44s} FAILED: {res['error']}", flush=True)
            continue
        v, t = res["visionlite"], res["torch"]
        if not ratios:
            forced = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}
            print(f"GEMM kernels: {v['blas']}; {t['blas']}"
                  + (f" (set in the environment: {forced})" if forced else ""), flush=True)
        ratio = statistics.median(v["times"]) / statistics.median(t["times"])
        ratios[case] = ratio
        lo, hi = _ratio_spread(v["times"], t["times"], args.repeat)
        rss = f"{max(v['rss_mb']):6.0f}/{max(t['rss_mb']):.0f}"
        step = f"{max(v['rss_step_mb']):6.0f}/{max(t['rss_step_mb']):.0f}"
        print(f"{case:44s} {_fmt_ms(v['times']):>24s} {_fmt_ms(t['times']):>24s} "
              f"{ratio:5.2f}x [{lo:.2f}-{hi:.2f}] {rss:>13s} {step:>15s}", flush=True)
        if "profile" in v:
            if not profiles:
                _print_profile_legend()
            profiles[case] = v["profile"]
            print(_bench_profile.format_breakdown(v["profile"]), flush=True)
    for kind, target in (("eval", 1.0), ("train", 1.2)):
        picked = [r for c, r in ratios.items() if _is_training(c) == (kind == "train")]
        if picked:
            worst = max(picked)
            print(f"worst {kind} ratio {worst:.2f}x ({'meets' if worst <= target else 'misses'} {target}x)")
    return 0 if ratios else 1


def _ratio_spread(vtimes, ttimes, repeat):
    """min and max over rounds of (visionlite's median / PyTorch's median) in that round's processes."""
    per = [statistics.median(vtimes[i:i + repeat]) / statistics.median(ttimes[i:i + repeat])
           for i in range(0, min(len(vtimes), len(ttimes)), max(repeat, 1))]
    return (min(per), max(per)) if per else (float("nan"), float("nan"))


def _is_training(case):
    return "train" in case or "bwd" in case


def _print_profile_legend():
    print("  (under each case: where visionlite's time goes in one profiled run, as shares of its wall time; "
          "GEMM = numpy matmul/dot/einsum; copies/layout = convolution im2col/phase planes and movement "
          "ops; elementwise = other ops' arithmetic; Python/other = outside every op: modules, Tensor "
          "wrappers, autograd engine)")
