"""Runs a script of this repository in a child Python, as a user would, for the tests that check what it prints.

Every such test wants the same call: this interpreter, the repository as the working folder, the output
captured as text, and a failing exit code returned rather than raised (the tests assert on it).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from typing import Any, Dict, Mapping, Optional

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
# TensorFlow's C++ log down to errors, so that stderr holds what the script itself says.
QUIET_TENSORFLOW = {"TF_CPP_MIN_LOG_LEVEL": "2"}


def run_python(*args: str, timeout: float, env: Optional[Mapping[str, str]] = None) -> subprocess.CompletedProcess:
    """`python ARGS...` run in the repository; `env` is the child's whole environment (None: this process's)."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=None if env is None else dict(env),
    )


def quiet_environment() -> dict:
    """This process's environment with TensorFlow's C++ log quiet."""
    return {**os.environ, **QUIET_TENSORFLOW}


def run_strategy_report(*args: str, timeout: float) -> subprocess.CompletedProcess:
    """`python -m benchmarks.strategy_report ARGS...` with TensorFlow quiet; fails the test unless it exits 0."""
    completed = run_python("-m", "benchmarks.strategy_report", *args, timeout=timeout, env=quiet_environment())
    assert completed.returncode == 0, completed.stderr[-4000:]
    return completed


def read_report(report_dir: pathlib.Path) -> dict:
    """The strategy report's report.json in `report_dir`."""
    from benchmarks.strategy_report import cli

    return json.loads((report_dir / cli.REPORT_JSON).read_text())


def saved_predictions(report_dir: pathlib.Path, result: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    """The eval predictions a strategy's `result` in report.json saved (labels, probabilities, ...), by name."""
    with np.load(report_dir / result["predictions_file"]) as saved:
        return {name: saved[name] for name in saved.files}
