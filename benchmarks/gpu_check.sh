#!/usr/bin/env bash
# The GPU check (benchmarks/gpu_check.py: stages, time boxes, outputs). From the project root:
#   bash benchmarks/gpu_check.sh [--smoke] [gpu_check.py options]     # writes to $OUT (or outputs/gpu_check)
# On the GPU machine the runtime packages its image lacks come as wheels in .whl/
# (../shared/tools/device-wheels.sh makes them); they are installed into /tmp/site first.
set -uo pipefail
cd "$(dirname "$0")/.."
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "gpu_check: installing the wheels in .whl/ failed" >&2; exit 1; }
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
exec "${PYTHON:-python3}" benchmarks/gpu_check.py --out "${OUT:-outputs/gpu_check}" "$@"
