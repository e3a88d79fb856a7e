"""The whole pipeline on a real Apache Flink cluster, started here, against the DirectRunner (issue #19).

The cluster fixture runs scripts/flink_cluster.sh on free ports with a run folder of its own (the first run on a
clean machine fetches Flink from PyPI and the job server from Maven Central into tools/, cached after), and stops it
at teardown, also when a run failed. Both pipelines run `local_runner.py` on the small credit-card sample, one with
`--engine flink`, one with the default `--engine direct`, into fresh folders. What must agree:

- ExampleGen: the same records per split (a multiset of serialized tf.Examples; their order is not compared).
- Rebalance: the same class counts before and after, every positive kept, and the same records: its choices are a
  seeded hash of each record's bytes, so the same Examples give the same rows on any runner.
- StatisticsGen: counts, min and max exactly; mean and standard deviation within 1e-9 relative (Beam's combiners
  may add the floats in another order on another runner).
- Evaluator: every metric of every slice within 1e-6, (a) between the two pipelines and (b) for the Flink run's own
  model and eval split evaluated again with the DirectRunner, which tells a runner difference in the Evaluator from
  one upstream. Measured: (a) and (b) were equal to the last digit, and both pipelines trained byte-identical
  weights (same records in the same order: ImportExampleGen copies each gzip file, which Beam reads unsplit). A
  runner that wrote the Examples in another order would give the Trainer other batches and fail (a), not (b).
- Flink's REST API lists a finished job of ExampleGen, StatisticsGen, Rebalance and the Evaluator, and none of the
  Transform, which runs with the DirectRunner under --engine flink (pipeline/engines.py says why).
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import re
import subprocess
import sys

import pytest

from pipeline import engines
from pipeline import pipeline as pipeline_module
from tests import flink_support, tables

REPO = pathlib.Path(__file__).resolve().parent.parent
PIPELINE_NAME = "flink-e2e"
SETTINGS = [
    "--set", "trainer.max_epochs=4",
    "--set", "trainer.batch_size=256",
    "--set", "trainer.ensemble_members=1",
    "--set", "rebalance.strategy=undersample",
    "--set", "rebalance.target_ratio=0.2",
]  # fmt: skip
SPLITS = ("train", "valid", "eval")
STATISTICS_REL_TOL = 1e-9
METRIC_ABS_TOL = 1e-6
# A Flink job's operators carry Beam's transform labels; one label each component's job always has.
JOB_MARKERS = {
    pipeline_module.EXAMPLE_GEN: "WriteSplit",
    pipeline_module.STATISTICS_GEN: "GenerateStatistics",
    pipeline_module.REBALANCE: "Rebalance",
    pipeline_module.EVALUATOR: "ExtractEvaluateAndWriteResults",
}


def test_flink_engine_args_and_overrides():
    assert engines.beam_args_for("flink") == engines.FLINK_BEAM_ARGS
    merged = engines.beam_args_for("flink", ["--job_endpoint=localhost:1234", "--experiments=x", "--job_name=a"])
    assert "--job_endpoint=localhost:1234" in merged and "--job_endpoint=localhost:8099" not in merged
    assert "--experiments=pre_optimize=all" in merged and "--experiments=x" in merged
    assert merged[-1] == "--job_name=a"
    assert engines.beam_args_for("direct", ["--direct_num_workers=2"]) == (
        "--direct_running_mode=in_memory",
        "--direct_num_workers=2",
        engines.SDK_CONTAINER_ARG,
    )


def test_only_flink_runners_send_the_transform_to_the_direct_runner():
    flink = engines.beam_args_for("flink")
    assert engines.component_beam_args(engines.TRANSFORM_NODE, flink)[0] == "--runner=DirectRunner"
    assert engines.component_beam_args(pipeline_module.STATISTICS_GEN, flink) == ()
    assert engines.component_beam_args(engines.TRANSFORM_NODE, engines.beam_args_for("direct")) == ()
    back_to_direct = engines.beam_args_for("flink", ["--runner=DirectRunner"])
    assert engines.component_beam_args(engines.TRANSFORM_NODE, back_to_direct) == ()


def test_unknown_engine_is_one_line():
    from pipeline.errors import UserInputError

    with pytest.raises(
        UserInputError, match=re.escape("--engine 'dataflow': unknown engine; engines: direct, flink, spark")
    ):
        engines.beam_args_for("dataflow")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    flink = flink_support.FlinkCluster(tmp_path_factory.mktemp("flink-run"))
    try:
        started = flink.script("start", timeout=flink_support.START_TIMEOUT_S)
        assert started.returncode == 0, f"the cluster did not start:\n{started.stdout}\n{started.stderr}"
        yield flink
    finally:
        flink.script("stop", timeout=300)


def _run_local(output: pathlib.Path, *extra: str) -> subprocess.CompletedProcess:
    description = tables.creditcard(output.parent / "dataset")
    (description.parent / "schema.pbtxt").write_bytes((REPO / "schema" / "creditcard" / "schema.pbtxt").read_bytes())
    command = [
        sys.executable, str(REPO / "local_runner.py"), "--dataset", str(description), "--output", str(output),
        "--pipeline-name", PIPELINE_NAME, *SETTINGS, *extra,
    ]  # fmt: skip
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1800, check=False)


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    from pipeline import run_summary

    root = tmp_path_factory.mktemp("flink-vs-direct")
    endpoint = f"--beam-arg=--job_endpoint={cluster.job_endpoint}"
    flink_run = _run_local(root / "flink" / "out", "--engine", "flink", endpoint)
    assert flink_run.returncode == 0, (
        f"the Flink run failed:\n{flink_run.stdout[-3000:]}\n{flink_run.stderr[-5000:]}\n{cluster.logs_tail()}"
    )
    jobs = cluster.jobs()
    direct_run = _run_local(root / "direct" / "out")
    assert direct_run.returncode == 0, (
        f"the direct run failed:\n{direct_run.stdout[-3000:]}\n{direct_run.stderr[-5000:]}"
    )
    stores = {
        name: run_summary.open_store(str(root / name / "out" / "metadata.sqlite")) for name in ("flink", "direct")
    }
    return {"root": root, "jobs": jobs, "stores": stores}


def _output(runs, run: str, node_id: str, key: str):
    from ml_metadata.proto import metadata_store_pb2

    store = runs["stores"][run]
    execution = flink_support.node_execution(store, PIPELINE_NAME, node_id)
    [artifact] = flink_support.node_artifacts(store, execution, metadata_store_pb2.Event.OUTPUT)[key]
    return artifact


@pytest.mark.e2e
def test_every_beam_component_but_the_transform_ran_as_a_flink_job(runs):
    jobs = runs["jobs"]
    assert jobs and all(job["state"] == "FINISHED" for job in jobs), [(j["name"], j["state"]) for j in jobs]
    for node_id, marker in JOB_MARKERS.items():
        assert any(marker in job["operators"] for job in jobs), f"no Flink job of {node_id} (no operator {marker!r})"
    assert not any("AnalyzeDataset" in job["operators"] for job in jobs), "the Transform ran on Flink"


@pytest.mark.e2e
def test_examples_hold_the_same_records_per_split(runs):
    flink = _output(runs, "flink", pipeline_module.EXAMPLE_GEN, "examples")
    direct = _output(runs, "direct", pipeline_module.EXAMPLE_GEN, "examples")
    for split in SPLITS:
        on_flink = flink_support.records(flink.uri, split)
        assert sum(on_flink.values()) > 0, split
        assert on_flink == flink_support.records(direct.uri, split), split


@pytest.mark.e2e
def test_rebalance_keeps_the_same_records_and_counts(runs):
    summaries, records = {}, {}
    for run in ("flink", "direct"):
        artifact = _output(runs, run, pipeline_module.REBALANCE, "rebalanced_examples")
        with open(os.path.join(artifact.uri, "rebalance_summary.json")) as handle:
            summaries[run] = {split: (s["before"], s["after"]) for split, s in json.load(handle)["splits"].items()}
        records[run] = {split: flink_support.records(artifact.uri, split) for split in SPLITS}
    assert summaries["flink"] == summaries["direct"]
    before, after = summaries["flink"]["train"]
    assert after["1"] == before["1"] and after["0"] < before["0"], summaries["flink"]
    for split in SPLITS:
        assert records["flink"][split] == records["direct"][split], split
    labels = [flink_support.label_of(record, "Class") for record in records["flink"]["train"].elements()]
    assert {str(label): labels.count(label) for label in (0, 1)} == after


@pytest.mark.e2e
def test_statistics_agree(runs):
    flink = flink_support.statistics_by_split(_output(runs, "flink", pipeline_module.STATISTICS_GEN, "statistics").uri)
    direct = flink_support.statistics_by_split(
        _output(runs, "direct", pipeline_module.STATISTICS_GEN, "statistics").uri
    )
    assert sorted(flink) == sorted(direct) == sorted(SPLITS)
    for split, features in flink.items():
        assert features.keys() == direct[split].keys(), split
        for name, figures in features.items():
            other = direct[split][name]
            if not isinstance(figures, dict):
                assert figures == other, (split, name)
                continue
            for figure, value in figures.items():
                exact = figure in ("num_non_missing", "min", "max")
                assert math.isclose(value, other[figure], rel_tol=0 if exact else STATISTICS_REL_TOL, abs_tol=0), (
                    split,
                    name,
                    figure,
                    value,
                    other[figure],
                )


def _assert_same_metrics(first, second):
    assert first and first.keys() == second.keys()
    for key, value in first.items():
        both_nan = math.isnan(value) and math.isnan(second[key])
        close = both_nan or math.isclose(value, second[key], rel_tol=0, abs_tol=METRIC_ABS_TOL)
        assert close, (key, value, second[key])


@pytest.mark.e2e
def test_both_pipelines_metrics_agree(runs):
    figures = [
        flink_support.metrics_by_slice(_output(runs, run, pipeline_module.EVALUATOR, "evaluation").uri)
        for run in ("flink", "direct")
    ]
    assert ("overall", ":auc:") in figures[0]
    _assert_same_metrics(*figures)


@pytest.mark.e2e
def test_the_flink_runs_model_scores_the_same_with_the_direct_runner(runs):
    rerun = flink_support.rerun_with_direct_runner(
        runs["stores"]["flink"], PIPELINE_NAME, pipeline_module.EVALUATOR, runs["root"] / "rerun-evaluator"
    )["evaluation"]
    on_flink = _output(runs, "flink", pipeline_module.EVALUATOR, "evaluation")
    _assert_same_metrics(flink_support.metrics_by_slice(on_flink.uri), flink_support.metrics_by_slice(rerun.uri))
