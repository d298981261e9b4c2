#!/usr/bin/env bash
# Download into .whl/ the wheels that benchmarks/gpu_check.sh needs on a CUDA machine whose python3
# (CPython 3.12, x86-64) already holds torch, torchvision, CuPy, numpy, pandas, pyarrow, OpenCV,
# matplotlib and pytest but not pydantic or PyAV. The versions are those of this checkout's .venv.
#
#   benchmarks/gpu_wheels.sh [--python-version 3.12]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV_PYTHON=${VENV_PYTHON:-.venv/bin/python}
TARGET_PYTHON=3.12
[ "${1:-}" = --python-version ] && TARGET_PYTHON=$2
LIMIT_MIB=56  # what travels with the checkout to such a machine is capped; leave room for the tree
PACKAGES=(pydantic pydantic-core annotated-types typing-inspection typing-extensions av)

[ -x "$VENV_PYTHON" ] || { echo "gpu_wheels.sh: $VENV_PYTHON not found (run make install first)" >&2; exit 2; }
pins=$("$VENV_PYTHON" -c 'import sys; from importlib.metadata import version; print(" ".join(f"{n}=={version(n)}" for n in sys.argv[1:]))' "${PACKAGES[@]}")

exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qxF '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >>"$exclude"
rm -rf .whl
mkdir .whl
# shellcheck disable=SC2086  # $pins is a list of name==version words
"$VENV_PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version "$TARGET_PYTHON" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl $pins
ls -l .whl
total=$(du -cb .whl/*.whl | tail -1 | cut -f1)
echo "$(ls .whl/*.whl | wc -l) wheels, $((total / 1024 / 1024)) MiB in .whl/"
if [ "$total" -gt $((LIMIT_MIB * 1024 * 1024)) ]; then
    echo "gpu_wheels.sh: .whl/ holds more than $LIMIT_MIB MiB" >&2
    exit 1
fi
