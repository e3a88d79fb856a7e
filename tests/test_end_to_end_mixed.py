"""A table with text and integer-coded categories, an id column and missing values, end to end.

First run: no reviewed schema, so SchemaGen infers one; the Transform builds vocabularies and
missing indicators; the gate decides; the runner saves the schema beside the description. Second
run: the saved schema is imported and ExampleValidator checks the data against it. The trained
model serves raw tf.Examples with a missing value and a category never seen in training.
"""

import pathlib
import subprocess
import sys

import pytest
import tensorflow as tf
import yaml

from pipeline import pipeline as pipeline_module
from pipeline import run_summary
from tests import tables

REPO = pathlib.Path(__file__).resolve().parent.parent
SETTINGS = ["--set", "trainer.max_epochs=6", "--set", "trainer.ensemble_members=2"]
# One setting comes from the description instead of --set, as a table's own settings would.
DESCRIPTION_SETTINGS = {"trainer": {"batch_size": 64}}


def _run(description: pathlib.Path, output: pathlib.Path) -> subprocess.CompletedProcess:
    command = [sys.executable, str(REPO / "local_runner.py"), "--dataset", str(description), "--output", str(output)]
    return subprocess.run([*command, *SETTINGS], cwd=REPO, capture_output=True, text=True, timeout=1800, check=False)


@pytest.fixture(scope="module")
def mixed_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    description = tables.mixed(root / "patients")
    tree = yaml.safe_load(description.read_text())
    description.write_text(yaml.safe_dump({**tree, "settings": DESCRIPTION_SETTINGS}, sort_keys=False))
    output = root / "outputs"
    first = _run(description, output)
    assert first.returncode == 0, f"first run failed:\n{first.stdout[-3000:]}\n{first.stderr[-5000:]}"
    saved = (
        (description.parent / "schema.pbtxt").read_text() if (description.parent / "schema.pbtxt").exists() else None
    )
    second = _run(description, output)
    assert second.returncode == 0, f"second run failed:\n{second.stdout[-3000:]}\n{second.stderr[-5000:]}"
    return description, output, first, second, saved


@pytest.mark.e2e
def test_first_run_infers_the_schema_reaches_a_verdict_and_saves_the_schema(mixed_runs):
    description, _, first, _, saved = mixed_runs
    assert "gate: BLESSED" in first.stdout or "gate: NOT BLESSED" in first.stdout, first.stdout[-3000:]
    assert f"schema: SchemaGen inferred one; saved to {description.parent / 'schema.pbtxt'}" in first.stdout
    assert saved is not None and 'name: "region"' in saved and 'name: "patient_id"' not in saved
    assert "is_categorical: true" in saved, "the label must stay categorical so StatisticsGen counts its classes"
    assert "data: 2 numeric (1 with missing values) and 2 categorical model inputs" in first.stdout
    assert "settings from dataset.yaml: trainer.batch_size=64" in first.stdout


@pytest.mark.e2e
def test_second_run_imports_the_reviewed_schema(mixed_runs):
    _, output, _, second, _ = mixed_runs
    assert "schema: SchemaGen inferred one" not in second.stdout
    store = run_summary.open_store(str(output / "metadata.sqlite"))
    types = {store.get_execution_types_by_id([e.type_id])[0].name for e in store.get_executions()}
    assert any(name.endswith("ImportSchemaGen") for name in types) and any(
        name.endswith(".SchemaGen") for name in types
    )
    assert "gate: BLESSED" in second.stdout or "gate: NOT BLESSED" in second.stdout


@pytest.mark.e2e
def test_the_model_serves_raw_examples_with_missing_values_and_unseen_categories(mixed_runs):
    _, output, _, _, _ = mixed_runs
    store = run_summary.open_store(str(output / "metadata.sqlite"))
    models = [a for a in store.get_artifacts_by_type("Model") if pipeline_module.TRAINER in a.uri]
    serving = tf.saved_model.load(str(pathlib.Path(models[-1].uri) / "Format-Serving")).signatures["serving_default"]
    example = tf.train.Example()
    example.features.feature["age"].float_list.value.append(61.0)
    example.features.feature["region"].bytes_list.value.append(b"west")  # never seen in training
    example.features.feature["clinic"].bytes_list.value.append(b"205")
    # "marker" is missing, as an NA in the CSV would be.
    outputs = serving(examples=tf.constant([example.SerializeToString()]))
    probability = float(outputs["probability"].numpy().reshape(-1)[0])
    assert 0.0 <= probability <= 1.0
    assert int(outputs["decision"].numpy().reshape(-1)[0]) in (0, 1)
