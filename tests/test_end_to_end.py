"""The whole pipeline through `local_runner.py` (the README's runner) with LocalDagRunner on the small data.

Checks every component executed, its artifacts are in the ML Metadata store, ClassSkew's
counts equal the true counts of ExampleGen's splits, the Evaluator decided, and a second
run with the same inputs is served from the cache.
"""

import glob
import json
import os
import pathlib
import subprocess
import sys

import pytest
import tensorflow as tf

from pipeline import pipeline as pipeline_module
from pipeline import run_summary
from pipeline.splits import split_targets
from tests import tables

REPO = pathlib.Path(__file__).resolve().parent.parent
LABEL_KEY = "Class"
TARGET_RATIO = 0.2
FAST_SETTINGS = [
    "--set", "trainer.max_epochs=8",
    "--set", "trainer.batch_size=256",
    # The default strategy is "none" (see RebalanceParameters); resample here so the run covers Rebalance.
    "--set", "rebalance.strategy=undersample",
    "--set", f"rebalance.target_ratio={TARGET_RATIO}",
    # Every Beam step in two worker processes: the distributed path, not the in-process default.
    "--beam-arg=--direct_running_mode=multi_processing",
    "--beam-arg=--direct_num_workers=2",
]  # fmt: skip
PIPELINE_NAME = "e2e-test"

ALL_COMPONENTS = (
    pipeline_module.EXAMPLE_GEN,
    pipeline_module.SCHEMA_GEN,
    pipeline_module.STATISTICS_GEN,
    pipeline_module.EXAMPLE_VALIDATOR,
    pipeline_module.CLASS_SKEW,
    pipeline_module.REBALANCE,
    pipeline_module.TRANSFORM,
    pipeline_module.TRAINER,
    pipeline_module.EVALUATOR,
)
CACHEABLE = ALL_COMPONENTS


def _run_local(output: pathlib.Path, *extra: str) -> subprocess.CompletedProcess:
    """The credit-card layout on the small sample, with the shipped reviewed schema beside its description."""
    description = tables.creditcard(output.parent / "dataset")
    (description.parent / "schema.pbtxt").write_bytes((REPO / "schema" / "creditcard" / "schema.pbtxt").read_bytes())
    command = [
        sys.executable,
        str(REPO / "local_runner.py"),
        "--dataset",
        str(description),
        "--output",
        str(output),
        "--pipeline-name",
        PIPELINE_NAME,
        *FAST_SETTINGS,
        *extra,
    ]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1800, check=False)


def _states_by_node(store, run_name):
    run = [c for c in store.get_contexts_by_type("pipeline_run") if c.name == run_name][0]
    node_type = store.get_context_type("node")
    states = {}
    for execution in store.get_executions_by_context(run.id):
        nodes = [c for c in store.get_contexts_by_execution(execution.id) if c.type_id == node_type.id]
        states[nodes[0].name.split(".", 1)[1]] = execution.last_known_state
    return states


def _assert_every_node_ended(store, run_name, nodes, state_name):
    """Every one of `nodes` ended the run `state_name` (an MLMD execution state: COMPLETE, CACHED, ...)."""
    from ml_metadata.proto import metadata_store_pb2

    expected = metadata_store_pb2.Execution.State.Value(state_name)
    states = _states_by_node(store, run_name)
    wrong = {node: states.get(node) for node in nodes if states.get(node) != expected}
    assert not wrong, f"nodes that did not end {state_name} (node: state): {wrong}"


def _true_label_counts(split_dir: str):
    counts = {}
    for path in glob.glob(os.path.join(split_dir, "*.gz")):
        for record in tf.data.TFRecordDataset(path, compression_type="GZIP"):
            example = tf.train.Example.FromString(record.numpy())
            label = str(example.features.feature[LABEL_KEY].int64_list.value[0])
            counts[label] = counts.get(label, 0) + 1
    return counts


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    output = tmp_path_factory.mktemp("e2e") / "outputs"
    first = _run_local(output)
    assert first.returncode == 0, f"first run failed:\n{first.stdout[-3000:]}\n{first.stderr[-5000:]}"
    store = run_summary.open_store(str(output / "metadata.sqlite"))
    first_runs = {c.name for c in store.get_contexts_by_type("pipeline_run")}
    second = _run_local(output)
    assert second.returncode == 0, f"second run failed:\n{second.stdout[-3000:]}\n{second.stderr[-5000:]}"
    store = run_summary.open_store(str(output / "metadata.sqlite"))
    second_runs = {c.name for c in store.get_contexts_by_type("pipeline_run")} - first_runs
    assert len(first_runs) == 1 and len(second_runs) == 1
    return output, store, first, second, first_runs.pop(), second_runs.pop()


@pytest.mark.e2e
def test_every_component_executed_and_published_artifacts(two_runs):
    output, store, first, _, first_run, _ = two_runs
    _assert_every_node_ended(store, first_run, ALL_COMPONENTS, "COMPLETE")
    type_names = {store.get_artifact_types_by_id([a.type_id])[0].name for a in store.get_artifacts()}
    for expected in (
        "Examples",
        "ExampleStatistics",
        "Schema",
        "ExampleAnomalies",
        "imbalanced.ClassSkewReport",
        "imbalanced.GateReport",
        "HyperParameters",
        "TransformGraph",
        "Model",
        "ModelRun",
        "ModelEvaluation",
        "ModelBlessing",
    ):
        assert expected in type_names, f"no {expected} artifact in MLMD; found {sorted(type_names)}"
    assert "=== run summary" in first.stdout
    assert "gate: BLESSED" in first.stdout or "gate: NOT BLESSED" in first.stdout


@pytest.mark.e2e
def test_evaluator_decided_and_pusher_followed_the_decision(two_runs):
    output, store, first, _, _, _ = two_runs
    blessings = store.get_artifacts_by_type("ModelBlessing")
    assert blessings, "the Evaluator wrote no ModelBlessing"
    blessed = blessings[0].custom_properties["blessed"].int_value
    assert blessed in (0, 1)
    pushed = list((output / "serving_model").glob("*/saved_model.pb"))
    if blessed:
        assert len(pushed) == 1, "a blessed model must be pushed exactly once"
        assert "pusher: " + str(output / "serving_model") in first.stdout
    else:
        assert pushed == [], "an unblessed model must not be pushed"
        assert "not pushed: the gate did not bless the model" in first.stdout


@pytest.mark.e2e
def test_class_skew_counts_equal_the_true_split_counts(two_runs):
    _, store, _, _, _, _ = two_runs
    examples = [a for a in store.get_artifacts_by_type("Examples") if pipeline_module.EXAMPLE_GEN in a.uri]
    report_artifact = store.get_artifacts_by_type("imbalanced.ClassSkewReport")[0]
    with open(os.path.join(report_artifact.uri, "class_skew.json")) as handle:
        report = json.load(handle)
    total = {}
    for split in ("train", "valid", "eval"):
        truth = _true_label_counts(os.path.join(examples[0].uri, f"Split-{split}"))
        assert report["splits"][split]["class_counts"] == truth, split
        for label, count in truth.items():
            total[label] = total.get(label, 0) + count
    assert total == {"0": 2850, "1": 150}
    shares = {"train": 0.6, "valid": 0.2, "eval": 0.2}
    for label, count in total.items():
        expected = split_targets(count, shares)
        assert {split: report["splits"][split]["class_counts"][label] for split in shares} == expected, label


@pytest.mark.e2e
def test_second_run_is_served_from_cache(two_runs):
    _, store, _, second, _, second_run = two_runs
    _assert_every_node_ended(store, second_run, CACHEABLE, "CACHED")
    assert "cached" in second.stdout


@pytest.mark.e2e
def test_rebalance_undersampled_train_only_to_the_target_ratio(two_runs):
    _, store, _, _, _, _ = two_runs
    rebalanced = [a for a in store.get_artifacts_by_type("Examples") if "Rebalance" in a.uri]
    assert len(rebalanced) == 1
    with open(os.path.join(rebalanced[0].uri, "rebalance_summary.json")) as handle:
        splits = json.load(handle)["splits"]
    train = splits["train"]
    assert train["after"]["1"] == train["before"]["1"], "undersampling keeps every positive"
    assert train["after"]["0"] == round(train["before"]["1"] / TARGET_RATIO)
    for name in ("valid", "eval"):
        assert splits[name]["rebalanced"] is False
        assert splits[name]["after"] == splits[name]["before"]
