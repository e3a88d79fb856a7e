"""A four-class table with two rare, protected classes through the whole pipeline to a verdict.

Data prep writes class indices, SchemaGen infers the label's 0..3 domain, ClassSkew counts four
classes, the Trainer fits a softmax ensemble and tunes per-class weights on `valid`, TFMA computes
one-vs-rest metrics per class, and BlessingGate judges each protected class on every slice.
"""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from pipeline import pipeline as pipeline_module
from pipeline import run_summary
from tests import tables

REPO = pathlib.Path(__file__).resolve().parent.parent
SETTINGS = ["--set", "trainer.max_epochs=8", "--set", "trainer.batch_size=64", "--set", "trainer.ensemble_members=2"]


@pytest.fixture(scope="module")
def multiclass_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("multiclass")
    description = tables.failure_types(root / "machines", rows=1500)
    output = root / "outputs"
    command = [sys.executable, str(REPO / "local_runner.py"), "--dataset", str(description), "--output", str(output)]
    run = subprocess.run([*command, *SETTINGS], cwd=REPO, capture_output=True, text=True, timeout=1800, check=False)
    assert run.returncode == 0, f"the run failed:\n{run.stdout[-3000:]}\n{run.stderr[-5000:]}"
    return output, run


def _latest_artifact_uri(output: pathlib.Path, type_name: str, producer: str) -> pathlib.Path:
    store = run_summary.open_store(str(output / "metadata.sqlite"))
    artifacts = [a for a in store.get_artifacts_by_type(type_name) if producer in a.uri]
    return pathlib.Path(max(artifacts, key=lambda a: a.id).uri)


@pytest.mark.e2e
def test_the_run_reaches_a_verdict_that_judges_each_protected_class(multiclass_run):
    output, run = multiclass_run
    assert "gate: BLESSED" in run.stdout or "gate: NOT BLESSED" in run.stdout, run.stdout[-3000:]
    assert "trainer: class weights none 1" in run.stdout, run.stdout[-3000:]
    report_dir = _latest_artifact_uri(output, "imbalanced.GateReport", pipeline_module.BLESSING_GATE)
    report = json.loads((report_dir / "gate_report.json").read_text())
    overall = {entry["class"] for entry in report["slices"] if entry["slice"] == "overall" and "class" in entry}
    assert set(tables.PROTECTED_FAILURES) <= overall, overall
    judged = {entry["class"] for entry in report["slices"] if entry.get("metrics")}
    assert judged <= set(tables.FAILURE_CLASSES)


@pytest.mark.e2e
def test_the_served_model_returns_k_probabilities_and_a_class_from_raw_examples(multiclass_run):
    output, _ = multiclass_run
    model_dir = _latest_artifact_uri(output, "Model", pipeline_module.TRAINER)
    serving = tf.saved_model.load(str(model_dir / "Format-Serving")).signatures["serving_default"]
    example = tf.train.Example()
    example.features.feature["line"].bytes_list.value.append(b"Z")  # a line never seen in training
    example.features.feature["speed"].float_list.value.append(2050.0)
    example.features.feature["tool_minutes"].float_list.value.append(30.0)
    # torque is missing, as an NA in the CSV would be.
    outputs = serving(examples=tf.constant([example.SerializeToString()]))
    probabilities = outputs["probabilities"].numpy()
    assert probabilities.shape == (1, len(tables.FAILURE_CLASSES))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    weights = outputs["class_weights"].numpy()[0]
    expected = int(np.argmax(probabilities[0] * weights))
    assert int(outputs["class"].numpy().reshape(-1)[0]) == expected
