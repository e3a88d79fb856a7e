# Two commands on a fresh machine (Python 3.10 from pyenv, nothing else installed):
#   make run    builds .venv from requirements.lock, fetches the credit-card data, runs the whole pipeline
#   make test   builds .venv from requirements.lock, runs ruff, mypy and the test suite
SHELL := /bin/bash
# The newest pyenv 3.10.x (the bare python3.10 shim fails unless a version is selected).
PYENV_ROOT_DIR := $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
PYTHON_310 ?= $(lastword $(sort $(wildcard $(PYENV_ROOT_DIR)/versions/3.10.*/bin/python)))
VENV := .venv
PY := $(VENV)/bin/python
UV := $(PYTHON_310) -m uv
export UV_PYTHON_DOWNLOADS := never
export TF_USE_LEGACY_KERAS := 1
RUN_ARGS ?=
PYTEST_ARGS ?=

.PHONY: venv run test lint typecheck lock clean

$(VENV)/.synced: requirements.lock
	@test -n "$(PYTHON_310)" || { echo "error: no Python 3.10 under $(PYENV_ROOT_DIR)/versions; install one with pyenv install 3.10"; exit 2; }
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON_310) -m pip install --quiet uv
	@test -x $(PY) || $(UV) venv --quiet --seed --python $(PYTHON_310) $(VENV)
	$(UV) pip sync --quiet --compile-bytecode --python $(PY) requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	@touch $@

venv: $(VENV)/.synced

run: venv
	$(PY) local_runner.py $(RUN_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

# mypy with the settings of [tool.mypy] in pyproject.toml, on the package and the runners (not the tests).
MYPY_FILES = $(sort $(shell find components pipeline -name '*.py' -not -path '*/tests/*' -not -name 'test_*.py')) \
	kubeflow_runner.py local_runner.py

typecheck: venv
	$(VENV)/bin/mypy $(MYPY_FILES)

test: lint typecheck
	$(PY) -m pytest $(PYTEST_ARGS)

# Clusters on loopback for `local_runner.py --engine flink|spark`, each with Beam's job server beside it:
# flink-up/down/status run a standalone Flink cluster (Flink from PyPI, outside .venv), spark-up/down/status a
# Spark master and worker (the pyspark wheel, outside .venv); the job servers' jars come from Maven Central.
# All of it is fetched into the git-ignored tools/ once (scripts/flink_cluster.sh, scripts/spark_cluster.sh).
CLUSTERS := flink spark
.PHONY: $(CLUSTERS:=-up) $(CLUSTERS:=-down) $(CLUSTERS:=-status)
$(CLUSTERS:=-up): %-up:
	PYTHON_310=$(PYTHON_310) scripts/$*_cluster.sh start

$(CLUSTERS:=-down): %-down:
	scripts/$*_cluster.sh stop

$(CLUSTERS:=-status): %-status:
	scripts/$*_cluster.sh status

# Issue 18's whole-pipeline benchmark (not a test): a fresh run, a cached rerun and a second span into a new
# folder; prints per-run and per-component seconds, peak RSS, eval metrics and ratios to benchmarks/RESULTS.md.
# 30-60 min on the full credit-card data; e.g. BENCH_ARGS="--rows 20000 --set trainer.max_epochs=3" to try it.
BENCH_OUTPUT ?= outputs-bench/$(shell date +%Y%m%d-%H%M%S)
BENCH_ARGS ?=
.PHONY: bench-pipeline
bench-pipeline: venv
	$(PY) -m benchmarks.pipeline_bench --output $(BENCH_OUTPUT) $(BENCH_ARGS)

# Re-resolve requirements.in against the verified TFX 1.16 pin set (needs ../shared).
lock:
	$(UV) pip compile --quiet requirements.in -c ../shared/constraints/tfx-1.16-py3.10.txt \
		--python $(PYTHON_310) --python-version 3.10 -o requirements.lock

clean:
	rm -rf $(VENV) outputs build *.egg-info .mypy_cache
