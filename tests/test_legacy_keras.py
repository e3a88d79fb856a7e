"""`TF_USE_LEGACY_KERAS` is set once, by importing the package, before TensorFlow loads.

`components/__init__.py` sets it; `pipeline` imports `components` first. These tests check that
this holds against a shell that says otherwise, and that the entry scripts import a first-party
module before anything that loads TensorFlow (so they need no preamble of their own).
"""

import ast
import pathlib

import pytest

from tests.script_runs import run_python

REPO = pathlib.Path(__file__).resolve().parent.parent
FIRST_PARTY = ("components", "pipeline", "benchmarks")
# Top-level packages that import TensorFlow (and so fix the Keras version) when imported.
LOADS_TENSORFLOW = ("tensorflow", "tfx", "tf_keras", "keras", "tensorflow_model_analysis", "tensorflow_data_validation")
ENTRY_SCRIPTS = ("kubeflow_runner.py", "local_runner.py", "benchmarks/model_sweep.py")


@pytest.mark.parametrize("first_import", ["pipeline.config", "components"])
def test_importing_the_package_gives_tensorflow_keras_2_whatever_the_shell_says(first_import):
    result = run_python(
        "-c",
        f"import {first_import}\nimport tensorflow as tf\nprint(tf.keras.__name__)",
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "TF_USE_LEGACY_KERAS": "0"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # Keras 2 is the tf_keras package; Keras 3 would be keras._tf_keras.keras.
    assert result.stdout.strip().startswith("tf_keras."), result.stdout


def _top_level_modules(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


@pytest.mark.parametrize("script", ENTRY_SCRIPTS)
def test_entry_scripts_import_the_package_before_tensorflow_and_set_nothing_themselves(script):
    source = (REPO / script).read_text()
    roots = [name.split(".")[0] for name in _top_level_modules(ast.parse(source))]
    assert any(root in FIRST_PARTY for root in roots), f"{script} imports no first-party module at its top"
    first_party_at = next(i for i, root in enumerate(roots) if root in FIRST_PARTY)
    early = [root for root in roots[:first_party_at] if root in LOADS_TENSORFLOW]
    assert not early, f"{script} imports {early} before the package sets TF_USE_LEGACY_KERAS"
    assert 'environ["TF_USE_LEGACY_KERAS"]' not in source
    assert 'setdefault("TF_USE_LEGACY_KERAS"' not in source
