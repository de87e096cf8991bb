#!/usr/bin/env bash
# The checks a session with a GPU machine runs there, in one call: the test suite's CUDA
# cases and the benchmarks on CUDA, with logs, JSON and markdown under $OUT. Through the
# device tool: command "bash benchmarks/device_check.sh", timeout_s 540 (it stops its own
# steps at 150 + 300 s, leaving time for the install and a rerun). The machine's python3
# holds a CUDA build of torch (2.11 when last seen), pytest, hypothesis and mpmath; the
# install builds the C kernels but fetches nothing (--no-deps). torchcvnn and complextorch
# are not there: their rows and parity tests are skipped.
set -uo pipefail
OUT=${OUT:-/tmp/cvlayers-device}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

python3 -m pip install -q --no-deps --no-build-isolation -e . >"$OUT/install.log" 2>&1 ||
    { tail -20 "$OUT/install.log"; exit 1; }
python3 - <<'EOF' | tee "$OUT/machine.txt"
import torch
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name()}")
EOF

# Every test parametrized over the device fixture, on CUDA (the CPU cases run in CI).
timeout 150 python3 -m pytest -q -p no:cacheprovider --import-mode=importlib -k cuda tests \
    2>&1 | tee "$OUT/pytest_cuda.log" | tail -25
echo "pytest exit: ${PIPESTATUS[0]}"

# Layers (activations, norms, Linear, Conv2d) and optimizers at the CUDA shapes.
timeout 300 python3 -m benchmarks --device cuda --only layers optim \
    --json "$OUT/bench_cuda.json" --markdown "$OUT/bench_cuda.md" 2>&1 |
    tee "$OUT/bench_cuda.log" | tail -60
echo "benchmarks exit: ${PIPESTATUS[0]}"
