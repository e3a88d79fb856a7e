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
	$(UV) pip sync --quiet --python $(PY) requirements.lock
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

# A standalone Flink cluster and Beam's Flink job server on loopback for `local_runner.py --engine flink`:
# fetches Flink (PyPI, outside .venv) and the job server (Maven Central) into the git-ignored tools/ once.
.PHONY: flink-up flink-down flink-status
flink-up:
	PYTHON_310=$(PYTHON_310) scripts/flink_cluster.sh start

flink-down:
	scripts/flink_cluster.sh stop

flink-status:
	scripts/flink_cluster.sh status

# A standalone Spark master and worker and Beam's Spark job server on loopback for `local_runner.py --engine spark`:
# fetches Spark (the pyspark wheel, outside .venv) and the job server (Maven Central) into tools/ once.
.PHONY: spark-up spark-down spark-status
spark-up:
	PYTHON_310=$(PYTHON_310) scripts/spark_cluster.sh start

spark-down:
	scripts/spark_cluster.sh stop

spark-status:
	scripts/spark_cluster.sh status

# Re-resolve requirements.in against the verified TFX 1.16 pin set (needs ../shared).
lock:
	$(UV) pip compile --quiet requirements.in -c ../shared/constraints/tfx-1.16-py3.10.txt \
		--python $(PYTHON_310) --python-version 3.10 -o requirements.lock

clean:
	rm -rf $(VENV) outputs build *.egg-info .mypy_cache
