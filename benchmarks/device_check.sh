#!/usr/bin/env bash
# The checks a session with a GPU machine runs there, with logs, JSON and markdown under
# $OUT. Through the device tool, in one call each:
#   bash benchmarks/device_check.sh          timeout_s 540: install, the compiled kernels'
#                                            tests (stopped at 200 s), the layer benchmarks
#                                            on CUDA (stopped at 240 s)
#   bash benchmarks/device_check.sh rest     timeout_s 300: every other CUDA test, then the
#                                            optimizer benchmarks on CUDA (150 s each)
# The machine's python3 holds a CUDA build of torch (2.11 when last seen), pytest, hypothesis
# and mpmath; the install builds the C kernels but fetches nothing (--no-deps). torchcvnn and
# complextorch are not there: their rows and parity tests are skipped. Inductor's on-disk
# cache keeps the kernels the tests compile for the benchmarks' (dynamic-shape) graphs.
set -uo pipefail
OUT=${OUT:-/tmp/cvlayers-device}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

python3 -m pip install -q --no-deps --no-build-isolation -e . >"$OUT/install.log" 2>&1 ||
    { tail -20 "$OUT/install.log"; exit 1; }
python3 - <<'PY' | tee "$OUT/machine.txt"
import torch
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name()}")
PY

if [ "${1:-}" = "rest" ]; then
    # Every other test parametrized over the device fixture (the CPU cases run in CI).
    timeout 150 python3 -m pytest -q -p no:cacheprovider --import-mode=importlib -k cuda tests \
        --ignore=tests/test_compiled.py 2>&1 | tee "$OUT/pytest_cuda.log" | tail -25
    echo "pytest exit: ${PIPESTATUS[0]}"
    timeout 150 python3 -m benchmarks --device cuda --only optim \
        --json "$OUT/bench_optim_cuda.json" --markdown "$OUT/bench_optim_cuda.md" 2>&1 |
        tee "$OUT/bench_optim_cuda.log" | tail -30
    echo "benchmarks exit: ${PIPESTATUS[0]}"
    exit 0
fi

# The compiled kernels (cvlayers._compiled) first: built for the GPU here, they were only ever
# checked on the CPU's Inductor build before. Their first calls compile (seconds each).
timeout 200 python3 -m pytest -q -p no:cacheprovider --import-mode=importlib -k cuda \
    tests/test_compiled.py 2>&1 | tee "$OUT/pytest_compiled.log" | tail -15
echo "pytest (compiled) exit: ${PIPESTATUS[0]}"

# Layers (activations, compiled against eager, norms, Linear, Conv2d) at the CUDA shapes.
timeout 240 python3 -m benchmarks --device cuda --only layers \
    --json "$OUT/bench_cuda.json" --markdown "$OUT/bench_cuda.md" 2>&1 |
    tee "$OUT/bench_cuda.log" | tail -60
echo "benchmarks exit: ${PIPESTATUS[0]}"
