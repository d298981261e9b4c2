#!/usr/bin/env bash
# Every GPU check in one run (benchmarks/gpu_check.py), on a machine whose python3 holds torch and CuPy.
#
#   benchmarks/gpu_check.sh [--dry-run] [--only PART,PART] [--out DIR] [--budget SECONDS]
#
# Wheels that benchmarks/gpu_wheels.sh put in .whl/ are installed into $GPU_CHECK_SITE (default
# /tmp/site) first, without an index: such a machine may reach no registry. --dry-run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
SITE=${GPU_CHECK_SITE:-/tmp/site}
dry_run=false
for arg in "$@"; do [ "$arg" = --dry-run ] && dry_run=true; done
extra=
if ! $dry_run && compgen -G '.whl/*.whl' >/dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl
    extra=$SITE
fi
export PYTHONPATH="$PWD${extra:+:$extra}${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" benchmarks/gpu_check.py "$@"
