# The README's two commands: `make test` and `make demo`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# pyiqa's own dependency list pulls transformers, bitsandbytes and the non-contrib opencv
# (which would shadow opencv-contrib's trackers); its metrics need only torch, scipy, pillow.
PYIQA := pyiqa==0.1.16
PREFECT_HOME_DIR := $(CURDIR)/.prefect

export PREFECT_HOME := $(PREFECT_HOME_DIR)
# No internet here: telemetry would log a failure on every run.
export PREFECT_SERVER_ANALYTICS_ENABLED := false
# Prefect's temporary server may take longer than its 20 s default to start on a slow or loaded machine.
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120

.PHONY: install lint test test-fast demo ui bench gpu-check clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev,dask]'
	$(PIP) install --quiet --no-deps '$(PYIQA)'
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest -q --timeout=900

test-fast: lint
	$(PY) -m pytest -q -m 'not slow'

demo: $(STAMP)
	$(VENV)/bin/vosvfi pipeline --profile demo

ui: $(STAMP)
	@echo "Prefect UI: http://127.0.0.1:4200  (then, in another shell: PREFECT_API_URL=http://127.0.0.1:4200/api .venv/bin/vosvfi serve)"
	$(VENV)/bin/prefect server start --host 127.0.0.1 --port 4200

bench: $(STAMP)
	$(PY) benchmarks/bench_sampling.py
	$(PY) benchmarks/bench_network.py
	$(PY) benchmarks/bench_vos_teacher.py
	$(PY) benchmarks/bench_train_step.py
	$(PY) benchmarks/bench_masks.py
	$(PY) benchmarks/bench_checkpoint_load.py
	$(PY) benchmarks/bench_eval_threads.py
	$(PY) benchmarks/bench_video.py

# On a CUDA machine, with the system python3 that holds torch and CuPy (no .venv needed there);
# `make gpu-check PYTHON=.venv/bin/python GPU_CHECK_ARGS=--dry-run` runs its CPU-safe parts without a GPU.
gpu-check:
	PYTHON=$(PYTHON) bash benchmarks/gpu_check.sh $(GPU_CHECK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
