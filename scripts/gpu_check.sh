#!/usr/bin/env bash
# GPU checks in one command, sized for under 5 minutes on one H100: the cuda-parametrized tests and
# the GPU benchmarks. Run from the repo root on a machine where cupy sees a GPU:
#   bash scripts/gpu_check.sh
set -uo pipefail
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
$PY -m pip install -q --no-deps --no-build-isolation -e . >/dev/null 2>&1 || $PY -m pip install -q --no-deps -e .
$PY - <<'PY' || exit 1
import visionlite as vl
import cupy
print("cupy", cupy.__version__, "| GPU visible:", vl.cuda_available())
assert vl.cuda_available(), "cupy sees no GPU"
PY
status=0
echo "== GPU tests (cuda-parametrized) =="
timeout 200 $PY -m pytest -q -k cuda -m "not slow" -p no:cacheprovider --continue-on-collection-errors tests 2>&1 | tail -40 || status=1
echo "== bench_core (cuda) =="
timeout 60 $PY scripts/bench_core.py --device cuda || status=1
for bench in bench_nn bench_models bench_ops; do
  if [ -f scripts/$bench.py ] && $PY scripts/$bench.py --help 2>/dev/null | grep -q -- "--device"; then
    echo "== $bench (cuda) =="
    timeout 120 $PY scripts/$bench.py --device cuda --repeat 3 || status=1
  fi
done
exit $status
