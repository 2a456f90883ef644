#!/usr/bin/env bash
# Runs `femplastic bench gpu` (benchmarks/bench_gpu.py) on the NVIDIA H200 device machine in
# about 8 minutes. That machine's image already holds JAX with CUDA, numba, numpy, scipy,
# h5py, matplotlib and rich, and reaches no network: the two pure-Python dependencies it
# lacks (scikit-fem, meshio) travel as wheels in .whl/.
#
#   here, once:  bash benchmarks/gpu_device_run.sh --fetch
#                (downloads the wheels into .whl/ and ignores that folder in git)
#   device:      run(command="bash benchmarks/gpu_device_run.sh", carry=[".whl"], timeout_s=570)
#
# Extra arguments go to the benchmark (e.g. --sizes 512 1024). The log is also written to
# $OUT/bench_gpu.log.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--fetch" ]; then
    mkdir -p .whl
    excl="$(git rev-parse --git-path info/exclude)"
    grep -qx '/.whl/' "$excl" 2>/dev/null || echo '/.whl/' >> "$excl"
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux2014_x86_64 -d .whl \
        scikit-fem==12.0.2 meshio==5.3.5
    ls -la .whl
    exit 0
fi
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
fi
export PYTHONPATH="$PWD:/tmp/site" PYTHONUNBUFFERED=1 NUMBA_CACHE_DIR=/tmp/numba_cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
python3 -c "import jax; print('jax', jax.__version__, jax.devices())"
log="${OUT:-/tmp}/bench_gpu.log"
timeout 550 python3 benchmarks/bench_gpu.py --backend gpu --deadline 380 "$@" 2>&1 | tee "$log"
