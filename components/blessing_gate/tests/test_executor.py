"""The executor on REAL TFMA evaluations: the stock TFX Evaluator executor runs over tiny served models.

Four Evaluator runs (about 10 s each), shared by the tests through module-scoped fixtures:
good model alone, majority-class model alone, stricter model against the good one as
baseline, and the good model on an eval split without positives.
"""

import json
import os

import numpy as np
import pytest
from tfx.dsl.io import fileio
from tfx.types import standard_artifacts

from components.blessing_gate import executor, spec
from components.blessing_gate.errors import GateConfigError, GateInputError, NoPositivesError
from components.blessing_gate.intervals import clopper_pearson
from components.blessing_gate.report import read_report, render_verdict_line
from components.blessing_gate.spec import GateReport
from components.blessing_gate.tests import fixtures


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate")
    rows = fixtures.eval_rows()
    return {
        "root": root,
        "rows": rows,
        "examples": fixtures.write_examples(str(root / "examples"), rows),
        "good": fixtures.write_model(str(root / "good"), "good", model_id=1),
        "stricter": fixtures.write_model(str(root / "stricter"), "stricter", model_id=2),
        "majority": fixtures.write_model(str(root / "majority"), "majority", model_id=3),
        "schema": fixtures.write_schema(str(root / "schema")),
    }


@pytest.fixture(scope="module")
def good_alone(world):
    return fixtures.run_evaluator(str(world["root"] / "good_alone"), world["examples"], world["good"])


@pytest.fixture(scope="module")
def majority_alone(world):
    return fixtures.run_evaluator(str(world["root"] / "majority_alone"), world["examples"], world["majority"])


@pytest.fixture(scope="module")
def stricter_vs_good(world):
    return fixtures.run_evaluator(
        str(world["root"] / "stricter_vs_good"), world["examples"], world["stricter"], baseline=world["good"]
    )


def expected(rows, kind):
    """Positives per slice and overall recall at the model's served threshold, computed without TFMA."""
    labels = np.array([row[fixtures.LABEL_KEY] for row in rows])
    bands = np.array([row[fixtures.SLICE_KEY] for row in rows])
    decisions = fixtures.good_model_probability(rows) >= fixtures.THRESHOLDS_BY_KIND[kind]
    positives = {"overall": int(labels.sum())}
    positives.update({f"band={band}": int(labels[bands == band].sum()) for band in ("day", "night", "rare")})
    recall = float((decisions & (labels == 1)).sum() / labels.sum())
    return positives, recall


def run_gate(directory, evaluator_outputs, model, schema, baseline=None, examples=None, **overrides):
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = os.path.join(directory, "blessing")
    gate_report = GateReport()
    gate_report.uri = os.path.join(directory, "gate_report")
    input_dict = {
        spec.EVALUATION_KEY: [evaluator_outputs["evaluation"]],
        spec.EVALUATOR_BLESSING_KEY: [evaluator_outputs["evaluator_blessing"]],
        spec.EXAMPLES_KEY: [examples or evaluator_outputs["examples"]],
        spec.MODEL_KEY: [model],
        spec.SCHEMA_KEY: [schema],
        spec.BASELINE_MODEL_KEY: [] if baseline is None else [baseline],
    }
    exec_properties = {
        **fixtures.TEST_PARAMETERS.to_exec_properties(),
        spec.SLICE_FEATURE_KEYS: json.dumps([fixtures.SLICE_KEY]),
        spec.LABEL_KEY: fixtures.LABEL_KEY,
        spec.EVAL_SPLIT: "eval",
    }
    exec_properties.update(overrides)
    executor.Executor().Do(
        input_dict, {spec.BLESSING_KEY: [blessing], spec.GATE_REPORT_KEY: [gate_report]}, exec_properties
    )
    return blessing, gate_report


def _row(report, slice_name, metric):
    entry = next(entry for entry in report["slices"] if entry["slice"] == slice_name)
    return next(row for row in entry["metrics"] if row["metric"] == metric)


def _nothing_written(directory):
    return not fileio.exists(directory) or not fileio.listdir(directory)


def test_good_model_is_blessed_and_the_small_slice_reported(world, good_alone, tmp_path):
    blessing, gate_report = run_gate(str(tmp_path), good_alone, world["good"], world["schema"])
    report = read_report(gate_report.uri)
    positives, recall = expected(world["rows"], "good")

    assert report["verdict"] == "BLESSED", report["verdict_line"]
    assert render_verdict_line(report).startswith("BLESSED: all 7 checks passed on 3 slices")
    assert {entry["slice"]: entry["positives"] for entry in report["slices"]} == positives
    assert report["too_small"] == [
        {"slice": "band=rare", "positives": 3, "reason": "3 positives < evaluator.min_slice_positives=10"}
    ]
    # The good model misses all three rare positives; with 3 positives even 0 of 3 is not judged.
    rare_recall = _row(report, "band=rare", spec.RECALL)
    assert (rare_recall["value"], rare_recall["status"], rare_recall["checks"]) == (0.0, "too_small", [])
    # Recall is measured at the served threshold (0.3), not at 0.5.
    _, recall_at_half = expected(world["rows"], "stricter")
    assert _row(report, "overall", spec.RECALL)["value"] == pytest.approx(recall)
    assert recall != pytest.approx(recall_at_half)

    assert fileio.exists(os.path.join(blessing.uri, "BLESSED"))
    assert not fileio.exists(os.path.join(blessing.uri, "NOT_BLESSED"))
    assert blessing.get_int_custom_property("blessed") == 1
    assert blessing.get_int_custom_property("current_model_id") == 1
    assert blessing.get_string_custom_property("current_model") == world["good"].uri
    assert blessing.get_string_custom_property(spec.BLESSED_BY_PROPERTY) == spec.BLESSED_BY_VALUE
    assert not blessing.has_custom_property("baseline_model_id")
    assert gate_report.get_string_custom_property("verdict") == "BLESSED"
    assert gate_report.get_float_custom_property("overall_recall") == pytest.approx(recall)
    with fileio.open(os.path.join(gate_report.uri, spec.GATE_REPORT_MARKDOWN)) as handle:
        markdown = handle.read()
    assert markdown.splitlines()[2] == f"**{report['verdict_line']}**"
    assert "| band=rare | 3 | recall | 0.0000 | 0.000-0.708 | >= 0.70 | - | - | too small |" in markdown
    assert report["paired"] is None  # no baseline: the examples are not read


def test_majority_class_model_is_not_blessed_and_the_report_names_metric_and_slice(world, majority_alone, tmp_path):
    blessing, gate_report = run_gate(str(tmp_path), majority_alone, world["majority"], world["schema"])
    report = read_report(gate_report.uri)
    positives, _ = expected(world["rows"], "good")

    assert report["verdict"] == "NOT BLESSED"
    lower, upper = clopper_pearson(0, positives["overall"], 0.95)
    assert report["verdict_line"] == (
        f"NOT BLESSED: recall 0.00 < 0.70 (95% interval {lower:.2f}-{upper:.2f}, all below) on slice overall "
        f"(n_pos={positives['overall']}) (+6 more blocking checks)"
    )
    failed = {(failure["slice"], failure["metric"], failure["verdict"]) for failure in report["failures"]}
    assert failed == {
        ("overall", spec.RECALL, "fail"),
        ("overall", spec.AUC, "fail"),
        ("overall", spec.PR_AUC, "fail"),
        ("band=day", spec.RECALL, "fail"),
        ("band=day", spec.AUC, "fail"),
        ("band=night", spec.RECALL, "fail"),
        ("band=night", spec.AUC, "fail"),
    }
    lower, upper = clopper_pearson(0, positives["band=night"], 0.95)
    assert (
        f"recall 0.00 < 0.70 (95% interval {lower:.2f}-{upper:.2f}, all below) on slice band=night "
        f"(n_pos={positives['band=night']})"
    ) in [failure["message"] for failure in report["failures"]]
    assert [entry["slice"] for entry in report["too_small"]] == ["band=rare"]
    assert report["evaluator_blessed"] is False
    assert any(message.startswith("TFMA: recall = 0.0000 fails >= 0.7") for message in report["evaluator_failures"])
    assert fileio.exists(os.path.join(blessing.uri, "NOT_BLESSED"))
    assert blessing.get_int_custom_property("blessed") == 0
    assert blessing.get_string_custom_property(spec.BLESSED_BY_PROPERTY) == spec.BLESSED_BY_VALUE


def test_model_worse_than_the_baseline_is_not_blessed_by_the_paired_rule(world, stricter_vs_good, tmp_path):
    blessing, gate_report = run_gate(
        str(tmp_path), stricter_vs_good, world["stricter"], world["schema"], baseline=world["good"]
    )
    report = read_report(gate_report.uri)
    positives, recall = expected(world["rows"], "stricter")
    _, baseline_recall = expected(world["rows"], "good")
    # The same scores served at 0.5 instead of 0.3: the positives scored in [0.3, 0.5) are lost, none gained.
    labels = np.array([row[fixtures.LABEL_KEY] for row in world["rows"]])
    probability = fixtures.good_model_probability(world["rows"])
    lost = int(np.sum((labels == 1) & (probability >= 0.3) & (probability < 0.5)))
    paired = report["paired"]
    assert (paired["baseline_only"], paired["candidate_only"], paired["positives"]) == (lost, 0, positives["overall"])
    assert paired["examples"] == len(world["rows"])
    assert paired["recall_drop"] == pytest.approx(baseline_recall - recall)
    # Same ranking: average precision is unchanged, on every resample too.
    assert paired["average_precision_drop"] == 0.0 and paired["average_precision_drop_interval"] == [0.0, 0.0]

    # Above every absolute minimum; only the recall drop against the baseline blocks.
    assert [(f["slice"], f["metric"], f["kind"]) for f in report["failures"]] == [("overall", spec.RECALL, "max_drop")]
    assert report["verdict_line"].startswith(
        f"NOT BLESSED: recall dropped {baseline_recall - recall:.2f} (paired on {positives['overall']} positives: "
        f"{lost} caught by the baseline only, 0 by the candidate only; McNemar p="
    )
    overall_pr_auc = _row(report, "overall", spec.PR_AUC)
    assert overall_pr_auc["status"] == "pass" and overall_pr_auc["change"] == pytest.approx(0.0, abs=1e-9)
    assert _row(report, "overall", spec.RECALL)["baseline"] == pytest.approx(baseline_recall)
    assert blessing.get_int_custom_property("blessed") == 0
    assert blessing.get_int_custom_property("baseline_model_id") == 1
    assert blessing.get_string_custom_property("baseline_model") == world["good"].uri
    assert blessing.get_int_custom_property("current_model_id") == 2


def test_paired_comparison_on_other_examples_than_the_evaluators_is_an_error(world, stricter_vs_good, tmp_path):
    other = fixtures.write_examples(str(tmp_path / "other"), fixtures.eval_rows(seed=fixtures.SEED + 1))
    with pytest.raises(GateInputError, match="does not reproduce the Evaluator's counts"):
        run_gate(
            str(tmp_path / "a"), stricter_vs_good, world["stricter"], world["schema"], world["good"], examples=other
        )
    with pytest.raises(GateInputError, match="have no split 'valid'"):
        run_gate(
            str(tmp_path / "b"), stricter_vs_good, world["stricter"], world["schema"], world["good"], eval_split="valid"
        )
    assert _nothing_written(str(tmp_path / "a" / "blessing"))


def test_eval_split_without_positives_fails_and_writes_nothing(world, tmp_path):
    rows = fixtures.eval_rows(positives=False)
    examples = fixtures.write_examples(str(tmp_path / "negatives"), rows)
    outputs = fixtures.run_evaluator(str(tmp_path / "evaluator"), examples, world["good"])
    with pytest.raises(NoPositivesError, match="no positive examples .* the gate cannot judge recall"):
        run_gate(str(tmp_path / "gate"), outputs, world["good"], world["schema"])
    assert _nothing_written(str(tmp_path / "gate" / "blessing"))
    assert _nothing_written(str(tmp_path / "gate" / "gate_report"))


def test_slice_feature_not_in_schema_is_named(world, good_alone, tmp_path):
    with pytest.raises(GateInputError) as error:
        run_gate(
            str(tmp_path), good_alone, world["good"], world["schema"], slice_feature_keys=json.dumps(["hour_band"])
        )
    assert str(error.value) == (
        "BlessingGate: slice feature 'hour_band' is not in the schema; the schema's features are: "
        "Class, band, x1, x2. Fix slice_feature_keys or add the feature to the schema"
    )
    assert _nothing_written(str(tmp_path / "blessing"))


def test_slice_feature_the_evaluation_was_not_sliced_by_is_an_error(world, good_alone, tmp_path):
    with pytest.raises(GateInputError, match=r"has no slices for slice feature\(s\) \['x2'\]"):
        run_gate(
            str(tmp_path), good_alone, world["good"], world["schema"], slice_feature_keys=json.dumps(["band", "x2"])
        )


def test_miswired_models_are_errors(world, good_alone, stricter_vs_good, tmp_path):
    with pytest.raises(GateInputError, match="blessing is for model id 1, but the gate was given model id 3"):
        run_gate(str(tmp_path / "a"), good_alone, world["majority"], world["schema"])
    with pytest.raises(GateInputError, match="given baseline model id 3, but the evaluation holds no baseline"):
        run_gate(str(tmp_path / "b"), good_alone, world["good"], world["schema"], baseline=world["majority"])
    with pytest.raises(GateInputError, match="compares with a baseline model, but the gate was given none"):
        run_gate(str(tmp_path / "c"), stricter_vs_good, world["stricter"], world["schema"])


def test_bad_threshold_in_exec_properties_is_rejected(world, good_alone, tmp_path):
    with pytest.raises(GateConfigError, match=r"evaluator.min_recall must be in \[0, 1\], got 1.5"):
        run_gate(str(tmp_path), good_alone, world["good"], world["schema"], min_recall=1.5)
