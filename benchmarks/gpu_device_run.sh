#!/usr/bin/env bash
# Runs `femplastic bench gpu` (benchmarks/bench_gpu.py) on the NVIDIA device machine in about
# 9 minutes: first the side-by-side comparison with the JAX reference implementation of model C
# (--reference: alternating runs, medians, ratio per L; the backend in its default flat form
# and, as an experiment, in the blocked form with large blocks), then the comparison with the
# numba path at L = 512, 1024. That machine's image already holds JAX with CUDA, numba, numpy,
# scipy, h5py, matplotlib and rich, and reaches no network: the two pure-Python dependencies
# it lacks (scikit-fem, meshio) travel as wheels in .whl/, the reference script (beside the
# checkout, which does not travel) as a copy in .ref/.
#
#   here, once:  bash benchmarks/gpu_device_run.sh --fetch [REFERENCE]
#                (downloads the wheels into .whl/, copies REFERENCE, default
#                ../shared/bench/jax_aqs_reference.py, into .ref/; both folders ignored in git)
#   device:      run(command="bash benchmarks/gpu_device_run.sh", carry=[".whl", ".ref"],
#                    timeout_s=590)
#
# Extra arguments go to the reference comparison (e.g. --sizes 512 1024 --reps 2). The logs
# are also written to $OUT/bench_gpu_reference.log and $OUT/bench_gpu.log.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--fetch" ]; then
    excl="$(git rev-parse --git-path info/exclude)"
    for d in /.whl/ /.ref/; do grep -qx "$d" "$excl" 2>/dev/null || echo "$d" >> "$excl"; done
    mkdir -p .whl .ref
    cp "${2:-../shared/bench/jax_aqs_reference.py}" .ref/jax_aqs_reference.py
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux2014_x86_64 -d .whl \
        scikit-fem==12.0.2 meshio==5.3.5
    ls -la .whl .ref
    exit 0
fi
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
fi
export PYTHONPATH="$PWD:/tmp/site" PYTHONUNBUFFERED=1 NUMBA_CACHE_DIR=/tmp/numba_cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
python3 -c "import jax; print('jax', jax.__version__, jax.devices())"
out="${OUT:-/tmp}"
if [ -f .ref/jax_aqs_reference.py ]; then
    timeout 330 python3 benchmarks/bench_gpu.py --backend gpu --reference \
        .ref/jax_aqs_reference.py --reps 2 --deadline 260 --min-left 40 \
        --extra-tuning '{"blocked": true, "n_check": 1024, "n_renew": 1024}' "$@" 2>&1 \
        | tee "$out/bench_gpu_reference.log" || true
else
    echo "no .ref/jax_aqs_reference.py (bash benchmarks/gpu_device_run.sh --fetch): reference" \
         "comparison skipped"
fi
timeout 220 python3 benchmarks/bench_gpu.py --backend gpu --sizes 512 1024 --deadline 160 \
    --min-left 40 --threads-budget 0 2>&1 | tee "$out/bench_gpu.log"
