"""Scheduled retraining on spans, through `local_runner.py` with LocalDagRunner.

span 1 -> run -> blessed and pushed; span 2 with a shifted class ratio -> run -> ClassSkew
records the drift and the gate judges the new model against the span-1 model; a scheduled
run with no new data -> everything cached, nothing pushed.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from pipeline import run_summary

REPO = pathlib.Path(__file__).resolve().parent.parent
SMALL_CSV = REPO / "tests" / "data" / "creditcard_small.csv"
# Small data, small slices: a gate a decent model passes on the fixture, still judged per slice.
SETTINGS = [
    "--set", "trainer.max_epochs=10",
    "--set", "trainer.batch_size=256",
    "--set", "evaluator.min_recall=0.5",
    "--set", "evaluator.min_auc=0.8",
    "--set", "evaluator.min_pr_auc=0.3",
    "--set", "evaluator.min_slice_positives=20",
    "--set", "evaluator.max_recall_drop=0.5",
    "--set", "evaluator.max_pr_auc_drop=0.5",
    "--beam-arg=--direct_running_mode=in_memory",
]  # fmt: skip


def _run(data: pathlib.Path, output: pathlib.Path, *extra: str) -> subprocess.CompletedProcess:
    # The quick path: its first run infers the schema and saves it beside the description it writes,
    # so span 2 and the scheduled run import it.
    command = [
        sys.executable,
        str(REPO / "local_runner.py"),
        "--data",
        str(data),
        "--label",
        "Class",
        "--positive",
        "1",
    ]
    command += ["--output", str(output)]
    result = subprocess.run(
        [*command, "--pipeline-name", "spans-test", *SETTINGS, *extra],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
    return result


def _write_span(folder: pathlib.Path, keep_every_nth_negative: int) -> None:
    lines = SMALL_CSV.read_text().splitlines()
    negatives = [line for line in lines[1:] if line.endswith('"0"')]
    positives = [line for line in lines[1:] if line.endswith('"1"')]
    folder.mkdir(parents=True)
    kept = positives + negatives[::keep_every_nth_negative]
    (folder / "transactions.csv").write_text("\n".join([lines[0], *kept]) + "\n")


def _latest(store, type_name):
    return max(store.get_artifacts_by_type(type_name), key=lambda artifact: artifact.id)


@pytest.mark.e2e
def test_span_drift_baseline_and_cached_scheduled_run(tmp_path):
    data, output = tmp_path / "incoming", tmp_path / "outputs"
    _write_span(data / "span-1", keep_every_nth_negative=1)
    first = _run(data, output)
    assert "gate: BLESSED" in first.stdout, first.stdout[-3000:]
    assert (output / "dataset" / "schema.pbtxt").is_file(), "the inferred schema is saved for review"
    pushed = sorted((output / "serving_model").iterdir())
    assert len(pushed) == 1
    store = run_summary.open_store(str(output / "metadata.sqlite"))
    first_model = _latest(store, "Model")

    # Span 2: a third of the negatives, so the positive share rises from 5% to about 14%.
    _write_span(data / "span-2", keep_every_nth_negative=3)
    second = _run(data, output)
    store = run_summary.open_store(str(output / "metadata.sqlite"))
    report_artifact = _latest(store, "imbalanced.ClassSkewReport")
    with open(os.path.join(report_artifact.uri, "class_skew.json")) as handle:
        skew_report = json.load(handle)
    drift_findings = [finding for finding in skew_report["findings"] if finding["kind"] == "drift"]
    assert drift_findings, skew_report["findings"]
    assert "drift" in second.stdout
    gate_report_artifact = _latest(store, "imbalanced.GateReport")
    with open(os.path.join(gate_report_artifact.uri, "gate_report.json")) as handle:
        gate_report = json.load(handle)
    assert gate_report["has_baseline"] is True
    assert gate_report["models"]["baseline"].startswith(f"id {first_model.id},")
    pushed_after_second = sorted((output / "serving_model").iterdir())
    if gate_report["blessed"]:
        assert len(pushed_after_second) == 2
    else:
        assert pushed_after_second == pushed

    # No new data: a scheduled run (next whole minute) is a cached no-op that says so.
    third = _run(data, output, "--schedule", "* * * * *", "--max-runs", "1")
    assert "no new data: every component was served from the cache" in third.stdout
    assert "scheduled run 1 finished" in third.stdout
    assert sorted((output / "serving_model").iterdir()) == pushed_after_second
