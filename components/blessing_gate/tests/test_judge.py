"""The judge on hand-built per-slice metrics: pass, fail on a slice, too small, regression, first run, no positives."""

import math

import pytest

from components.blessing_gate import spec
from components.blessing_gate.errors import GateInputError, NoPositivesError
from components.blessing_gate.judge import (
    BLESSED,
    FAIL,
    OVERALL_SLICE,
    PASS,
    REPORTED,
    TOO_SMALL,
    format_pair,
    judge,
)
from components.blessing_gate.spec import BlessingGateParameters

PARAMETERS = BlessingGateParameters(
    min_auc=0.90, min_pr_auc=0.50, min_recall=0.80, min_slice_positives=10, max_pr_auc_drop=0.02, max_recall_drop=0.05
)


def metrics(true_positives, false_negatives, auc=0.95, pr_auc=0.70, recall=None, **extra):
    """One slice's metrics; recall follows from the counts unless given."""
    positives = true_positives + false_negatives
    if recall is None:
        recall = true_positives / positives if positives else float("nan")
    values = {
        spec.AUC: auc,
        spec.PR_AUC: pr_auc,
        spec.RECALL: recall,
        spec.TRUE_POSITIVES: float(true_positives),
        spec.FALSE_NEGATIVES: float(false_negatives),
        spec.PRECISION: 0.5,
    }
    values.update(extra)
    return values


def good_candidate():
    return {
        OVERALL_SLICE: metrics(90, 10),
        "hour_band=night": metrics(37, 4),
        "hour_band=day": metrics(53, 6),
    }


def _row(report, slice_name, metric):
    entry = next(entry for entry in report["slices"] if entry["slice"] == slice_name)
    return next(row for row in entry["metrics"] if row["metric"] == metric)


def test_good_model_passes_on_every_slice():
    report = judge(good_candidate(), PARAMETERS)
    assert report["blessed"] is True
    assert report["verdict"] == BLESSED
    assert report["verdict_line"].startswith("BLESSED: all 7 checks passed on 3 slices")
    assert report["failures"] == [] and report["too_small"] == []
    assert [entry["slice"] for entry in report["slices"]] == [OVERALL_SLICE, "hour_band=day", "hour_band=night"]
    assert _row(report, OVERALL_SLICE, spec.PR_AUC)["status"] == PASS
    # PR-AUC is held on the overall slice only; precision is shown, never judged.
    assert _row(report, "hour_band=day", spec.PR_AUC)["status"] == REPORTED
    assert _row(report, "hour_band=day", spec.PRECISION)["status"] == REPORTED


@pytest.mark.parametrize(
    "slice_name, slice_metrics, failed, passed, verdict_line",
    [
        (
            "hour_band=night",
            metrics(25, 16, recall=0.61),
            spec.RECALL,
            spec.AUC,
            "NOT BLESSED: recall 0.61 < 0.80 on slice hour_band=night (n_pos=41)",
        ),
        (
            "hour_band=day",
            metrics(53, 6, auc=0.84),
            spec.AUC,
            spec.RECALL,
            "NOT BLESSED: auc 0.84 < 0.90 on slice hour_band=day (n_pos=59)",
        ),
    ],
)
def test_a_metric_below_minimum_on_a_slice_fails_and_is_named_in_the_verdict(
    slice_name, slice_metrics, failed, passed, verdict_line
):
    candidate = good_candidate()
    candidate[slice_name] = slice_metrics
    report = judge(candidate, PARAMETERS)
    assert report["blessed"] is False
    assert report["verdict_line"] == verdict_line
    assert [(f["slice"], f["metric"]) for f in report["failures"]] == [(slice_name, failed)]
    assert _row(report, slice_name, failed)["status"] == FAIL
    assert _row(report, slice_name, passed)["status"] == PASS


def test_more_failures_are_counted_in_the_verdict():
    candidate = good_candidate()
    candidate[OVERALL_SLICE] = metrics(70, 30, auc=0.80, pr_auc=0.40)
    report = judge(candidate, PARAMETERS)
    assert report["verdict_line"] == (
        "NOT BLESSED: recall 0.70 < 0.80 on slice overall (n_pos=100) (+2 more failed checks)"
    )
    assert report["counts"]["failed_checks"] == 3


def test_slice_with_few_positives_is_too_small_to_judge_not_failed():
    candidate = good_candidate()
    candidate["amount_bucket=ge_1000"] = metrics(0, 3, auc=0.20)
    report = judge(candidate, PARAMETERS)
    assert report["blessed"] is True
    assert report["too_small"] == [{"slice": "amount_bucket=ge_1000", "positives": 3}]
    entry = next(entry for entry in report["slices"] if entry["slice"] == "amount_bucket=ge_1000")
    assert entry["judged"] is False and entry["note"] == "too small to judge: 3 positives < 10"
    assert {row["metric"]: row["status"] for row in entry["metrics"]}[spec.RECALL] == TOO_SMALL
    assert all(row["checks"] == [] for row in entry["metrics"])
    assert "too small to judge: amount_bucket=ge_1000 (n_pos=3)" in report["verdict_line"]
    assert report["counts"] == {
        "slices": 4,
        "judged_slices": 3,
        "too_small_slices": 1,
        "checks": 7,
        "failed_checks": 0,
    }


def test_slice_with_exactly_the_minimum_positives_is_judged():
    candidate = good_candidate()
    candidate["amount_bucket=ge_1000"] = metrics(5, 5)
    report = judge(candidate, PARAMETERS)
    assert report["verdict_line"] == "NOT BLESSED: recall 0.50 < 0.80 on slice amount_bucket=ge_1000 (n_pos=10)"


def test_regression_beyond_the_delta_is_not_blessed():
    baseline = good_candidate()
    candidate = good_candidate()
    candidate[OVERALL_SLICE] = metrics(90, 10, pr_auc=0.67)  # baseline 0.70: a drop of 0.03 > 0.02
    report = judge(candidate, PARAMETERS, baseline=baseline)
    assert report["blessed"] is False
    assert report["verdict_line"] == (
        "NOT BLESSED: pr_auc dropped 0.03 from baseline 0.7000 to 0.6700 (beyond max drop 0.02) "
        "on slice overall (n_pos=100)"
    )
    row = _row(report, OVERALL_SLICE, spec.PR_AUC)
    assert row["baseline"] == pytest.approx(0.70) and row["change"] == pytest.approx(-0.03)


def test_recall_regression_beyond_the_delta_is_not_blessed():
    baseline = {OVERALL_SLICE: metrics(95, 5)}
    candidate = {OVERALL_SLICE: metrics(88, 12)}  # 0.95 -> 0.88, still >= 0.80 but a drop of 0.07
    report = judge(candidate, PARAMETERS, baseline=baseline)
    assert [(f["metric"], f["kind"]) for f in report["failures"]] == [(spec.RECALL, "max_drop")]


def test_regression_within_the_delta_is_blessed():
    baseline = good_candidate()
    candidate = good_candidate()
    candidate[OVERALL_SLICE] = metrics(86, 14, pr_auc=0.69)  # pr_auc -0.01, recall 0.90 -> 0.86
    report = judge(candidate, PARAMETERS, baseline=baseline)
    assert report["blessed"] is True
    assert "against the baseline" in report["verdict_line"]
    assert _row(report, OVERALL_SLICE, spec.RECALL)["status"] == PASS
    assert report["counts"]["checks"] == 9


def test_drop_of_exactly_the_delta_passes():
    baseline = {OVERALL_SLICE: metrics(95, 5, recall=0.85)}
    candidate = {OVERALL_SLICE: metrics(90, 10, recall=0.80)}
    assert judge(candidate, PARAMETERS, baseline=baseline)["blessed"] is True


def test_first_run_without_baseline_uses_absolute_thresholds_only():
    candidate = good_candidate()
    candidate[OVERALL_SLICE] = metrics(90, 10, pr_auc=0.55)  # would be a big drop against any good baseline
    report = judge(candidate, PARAMETERS)
    assert report["blessed"] is True and report["has_baseline"] is False
    assert "first run without a baseline" in report["verdict_line"]
    assert all(
        check["kind"] == "minimum" for entry in report["slices"] for row in entry["metrics"] for check in row["checks"]
    )
    assert _row(report, OVERALL_SLICE, spec.PR_AUC)["baseline"] is None


def test_no_positives_in_the_eval_split_is_an_error():
    candidate = {OVERALL_SLICE: metrics(0, 0, auc=float("nan"), **{spec.EXAMPLE_COUNT: 500.0})}
    with pytest.raises(
        NoPositivesError, match=r"no positive examples .* over 500 examples\): the gate cannot judge recall"
    ):
        judge(candidate, PARAMETERS)


def test_evaluator_not_blessed_means_not_blessed():
    report = judge(good_candidate(), PARAMETERS, evaluator_blessed=False, evaluator_failures=["TFMA: auc = 0.8"])
    assert report["blessed"] is False and report["failures"] == []
    assert report["verdict_line"] == "NOT BLESSED: the Evaluator did not bless the model: TFMA: auc = 0.8"


def test_undefined_metric_on_a_judged_slice_fails():
    candidate = good_candidate()
    candidate["hour_band=day"] = metrics(53, 6, auc=float("nan"))
    report = judge(candidate, PARAMETERS)
    assert report["verdict_line"] == "NOT BLESSED: auc is undefined (nan) on slice hour_band=day (n_pos=59)"


def test_missing_metric_is_an_input_error():
    candidate = good_candidate()
    del candidate["hour_band=day"][spec.AUC]
    with pytest.raises(GateInputError, match=r"no \['auc'\] on slice hour_band=day"):
        judge(candidate, PARAMETERS)
    with pytest.raises(GateInputError, match="no overall slice"):
        judge({"hour_band=day": metrics(1, 1)}, PARAMETERS)


def test_report_does_not_depend_on_slice_order():
    candidate = good_candidate()
    reversed_candidate = dict(reversed(list(candidate.items())))
    assert judge(candidate, PARAMETERS) == judge(reversed_candidate, PARAMETERS)


def test_numbers_are_shown_with_enough_decimals_to_differ():
    assert format_pair(0.61, 0.8) == ("0.61", "0.80")
    assert format_pair(0.7951, 0.8) == ("0.7951", "0.8000")
    assert format_pair(0.79999, 0.8) == ("0.799990", "0.800000")
    assert format_pair(0.8, 0.8) == ("0.80", "0.80")
    assert not math.isnan(float(format_pair(0.5, 0.5)[0]))
