"""The judge on hand-built per-slice metrics: the three verdicts, too small, regression, first run, no positives."""

import dataclasses
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
    UNCERTAIN,
    format_pair,
    judge,
)
from components.blessing_gate.regression import PairedComparison
from components.blessing_gate.tests import fixtures

PARAMETERS = fixtures.UNIT_PARAMETERS


def metrics(true_positives, false_negatives, auc=0.95, pr_auc=0.70, recall=None, negatives=5020, **extra):
    """One slice's metrics as TFMA writes them; recall follows from the counts unless given."""
    positives = true_positives + false_negatives
    if recall is None:
        recall = true_positives / positives if positives else float("nan")
    values = {
        spec.AUC: auc,
        spec.PR_AUC: pr_auc,
        spec.RECALL: recall,
        spec.TRUE_POSITIVES: float(true_positives),
        spec.FALSE_NEGATIVES: float(false_negatives),
        spec.FALSE_POSITIVES: 20.0,
        spec.TRUE_NEGATIVES: float(negatives - 20),
        spec.PRECISION: 0.5,
    }
    values.update(extra)
    return values


def paired(baseline_only=0, candidate_only=0, positives=100, recall_drop_interval=None, ap_drop=0.0, ap_interval=None):
    """A paired comparison as `regression.compare` would return it (its arithmetic is tested in test_regression)."""
    drop = (baseline_only - candidate_only) / positives
    return PairedComparison(
        examples=5120,
        positives=positives,
        caught_by_both=80,
        candidate_only=candidate_only,
        baseline_only=baseline_only,
        missed_by_both=positives - 80 - candidate_only - baseline_only,
        recall_drop=drop,
        recall_drop_interval=recall_drop_interval or (drop - 0.01, drop),
        mcnemar_p_value=0.5,
        candidate_average_precision=0.70 - ap_drop,
        baseline_average_precision=0.70,
        average_precision_drop=ap_drop,
        average_precision_drop_interval=ap_interval or (ap_drop - 0.01, ap_drop + 0.01),
        bootstrap_samples=1000,
        seed=42,
        confidence=0.95,
    )


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
    assert report["failures"] == [] and report["uncertain"] == [] and report["too_small"] == []
    assert [entry["slice"] for entry in report["slices"]] == [OVERALL_SLICE, "hour_band=day", "hour_band=night"]
    assert _row(report, OVERALL_SLICE, spec.PR_AUC)["status"] == PASS
    # PR-AUC is held on the overall slice only; precision is shown with its interval, never judged.
    assert _row(report, "hour_band=day", spec.PR_AUC)["status"] == REPORTED
    precision = _row(report, "hour_band=day", spec.PRECISION)
    assert precision["status"] == REPORTED and precision["interval_method"] == "Clopper-Pearson"
    assert "evaluator.uncertain_blocks=false" in report["rule"]


def test_every_judged_metric_carries_its_interval():
    report = judge(good_candidate(), PARAMETERS)
    recall = _row(report, "hour_band=night", spec.RECALL)
    assert recall["interval"] == pytest.approx([0.76869, 0.97277], abs=1e-5)  # 37 of 41, Clopper-Pearson
    assert recall["checks"][0]["interval"] == recall["interval"]
    assert _row(report, OVERALL_SLICE, spec.AUC)["interval_method"] == "Hanley-McNeil"
    assert _row(report, OVERALL_SLICE, spec.PR_AUC)["interval_method"] == "logit (Boyd et al.)"
    for entry in report["slices"]:
        for row in entry["metrics"]:
            if row["checks"]:
                low, high = row["interval"]
                assert low <= row["value"] <= high, (entry["slice"], row["metric"])


@pytest.mark.parametrize(
    "night, verdict, message",
    [
        (metrics(37, 4), PASS, "recall 0.90 >= 0.80 (95% interval 0.77-0.97) on slice hour_band=night (n_pos=41)"),
        (
            metrics(30, 11),
            UNCERTAIN,
            "recall 0.73 < 0.80 (95% interval 0.57-0.86 reaches it: uncertain) on slice hour_band=night (n_pos=41)",
        ),
        (
            metrics(25, 16),
            FAIL,
            "recall 0.61 < 0.80 (95% interval 0.45-0.76, all below) on slice hour_band=night (n_pos=41)",
        ),
    ],
)
def test_the_three_verdicts_on_a_slice(night, verdict, message):
    candidate = good_candidate()
    candidate["hour_band=night"] = night
    report = judge(candidate, PARAMETERS)
    check = _row(report, "hour_band=night", spec.RECALL)["checks"][0]
    assert (check["verdict"], check["message"]) == (verdict, message)
    assert _row(report, "hour_band=night", spec.RECALL)["status"] == verdict
    # Only FAIL blocks on a slice other than overall (evaluator.uncertain_blocks is off by default).
    assert report["blessed"] is (verdict != FAIL)
    assert [entry["message"] for entry in report["uncertain"]] == ([message] if verdict == UNCERTAIN else [])
    strict = judge(candidate, dataclasses.replace(PARAMETERS, uncertain_blocks=True))
    assert strict["blessed"] is (verdict == PASS)


def test_uncertain_is_named_in_a_blessed_verdict():
    candidate = good_candidate()
    candidate["hour_band=night"] = metrics(30, 11)
    report = judge(candidate, PARAMETERS)
    assert report["verdict_line"] == (
        "BLESSED: no check failed on 3 slices (absolute only, no baseline); 6 of 7 passed, "
        "uncertain (not blocking): recall on hour_band=night"
    )
    assert report["counts"]["uncertain_checks"] == 1 and report["counts"]["blocking_checks"] == 0


def test_uncertain_on_the_overall_slice_always_blocks():
    candidate = good_candidate()
    candidate[OVERALL_SLICE] = metrics(75, 25)  # 0.75 < 0.80; interval 0.65-0.83 reaches 0.80
    report = judge(candidate, PARAMETERS)
    assert report["blessed"] is False
    assert report["verdict_line"] == (
        "NOT BLESSED: recall 0.75 < 0.80 (95% interval 0.65-0.83 reaches it: uncertain) on slice overall (n_pos=100)"
    )
    assert report["failures"][0]["verdict"] == UNCERTAIN


@pytest.mark.parametrize(
    "slice_name, slice_metrics, failed, passed, verdict_line",
    [
        (
            "hour_band=night",
            metrics(25, 16, recall=0.61),
            spec.RECALL,
            spec.AUC,
            "NOT BLESSED: recall 0.61 < 0.80 (95% interval 0.45-0.76, all below) on slice hour_band=night (n_pos=41)",
        ),
        (
            "hour_band=day",
            metrics(53, 6, auc=0.80),
            spec.AUC,
            spec.RECALL,
            "NOT BLESSED: auc 0.80 < 0.90 (95% interval 0.73-0.87, all below) on slice hour_band=day (n_pos=59)",
        ),
    ],
)
def test_a_metric_confidently_below_minimum_on_a_slice_fails_and_is_named_in_the_verdict(
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


def test_more_blocking_checks_are_counted_and_a_confident_failure_is_named_first():
    candidate = good_candidate()
    # recall 0.70 (interval 0.60-0.79, all below 0.80), auc and pr_auc all fail outright.
    candidate[OVERALL_SLICE] = metrics(70, 30, auc=0.80, pr_auc=0.40)
    report = judge(candidate, PARAMETERS)
    assert report["verdict_line"] == (
        "NOT BLESSED: recall 0.70 < 0.80 (95% interval 0.60-0.79, all below) on slice overall (n_pos=100) "
        "(+2 more blocking checks)"
    )
    assert report["counts"]["failed_checks"] == 3
    candidate[OVERALL_SLICE] = metrics(75, 25, auc=0.80)  # recall UNCERTAIN (blocks on overall), auc FAIL
    report = judge(candidate, PARAMETERS)
    assert [(f["metric"], f["verdict"]) for f in report["failures"]] == [(spec.AUC, FAIL), (spec.RECALL, UNCERTAIN)]


def test_slice_with_few_positives_is_too_small_to_judge_not_failed():
    candidate = good_candidate()
    candidate["amount_bucket=ge_1000"] = metrics(0, 3, auc=0.20)
    report = judge(candidate, PARAMETERS)
    assert report["blessed"] is True
    reason = "3 positives < evaluator.min_slice_positives=10"
    assert report["too_small"] == [{"slice": "amount_bucket=ge_1000", "positives": 3, "reason": reason}]
    entry = next(entry for entry in report["slices"] if entry["slice"] == "amount_bucket=ge_1000")
    assert entry["judged"] is False and entry["note"] == f"too small to judge: {reason}"
    assert {row["metric"]: row["status"] for row in entry["metrics"]}[spec.RECALL] == TOO_SMALL
    assert all(row["checks"] == [] for row in entry["metrics"])
    # Shown with its interval all the same.
    assert _row(report, "amount_bucket=ge_1000", spec.RECALL)["interval"] == pytest.approx([0.0, 0.7076], abs=1e-4)
    assert "too small to judge: amount_bucket=ge_1000 (n_pos=3)" in report["verdict_line"]
    assert report["counts"] == {
        "slices": 4,
        "judged_slices": 3,
        "too_small_slices": 1,
        "checks": 7,
        "passed_checks": 7,
        "uncertain_checks": 0,
        "failed_checks": 0,
        "blocking_checks": 0,
    }


def test_slice_with_exactly_the_minimum_positives_is_judged():
    candidate = good_candidate()
    candidate["amount_bucket=ge_1000"] = metrics(5, 5)
    report = judge(candidate, PARAMETERS)
    check = _row(report, "amount_bucket=ge_1000", spec.RECALL)["checks"][0]
    assert check["verdict"] == UNCERTAIN  # 5 of 10: interval 0.19-0.81 reaches 0.80
    assert report["counts"]["judged_slices"] == 4


def test_regression_uses_the_paired_comparison():
    baseline = good_candidate()
    candidate = good_candidate()
    candidate[OVERALL_SLICE] = metrics(90, 10, pr_auc=0.67)
    # Average precision dropped 0.03 on the same examples, the whole paired interval beyond 0.02.
    report = judge(candidate, PARAMETERS, baseline=baseline, paired=paired(ap_drop=0.03, ap_interval=(0.025, 0.035)))
    assert report["blessed"] is False
    assert report["verdict_line"] == (
        "NOT BLESSED: pr_auc dropped 0.03 (average precision 0.7000 -> 0.6700 on the same 5120 examples; paired "
        "95% interval of the drop +0.0250 to +0.0350) beyond max drop 0.02, the whole interval too on slice overall "
        "(n_pos=100)"
    )
    row = _row(report, OVERALL_SLICE, spec.PR_AUC)
    assert row["baseline"] == pytest.approx(0.70) and row["change"] == pytest.approx(-0.03)
    assert report["paired"]["average_precision_drop"] == pytest.approx(0.03)


def test_regression_beyond_the_delta_but_within_noise_is_uncertain_and_blocks():
    baseline = {OVERALL_SLICE: metrics(95, 5)}
    candidate = {OVERALL_SLICE: metrics(88, 12)}  # 0.95 -> 0.88: a drop of 0.07 > 0.05
    report = judge(
        candidate,
        PARAMETERS,
        baseline=baseline,
        paired=paired(baseline_only=9, candidate_only=2, recall_drop_interval=(0.01, 0.09)),
    )
    assert [(f["metric"], f["kind"], f["verdict"]) for f in report["failures"]] == [
        (spec.RECALL, "max_drop", UNCERTAIN)
    ]
    assert "9 caught by the baseline only, 2 by the candidate only" in report["verdict_line"]


def test_regression_within_the_delta_is_blessed():
    baseline = good_candidate()
    candidate = good_candidate()
    candidate[OVERALL_SLICE] = metrics(86, 14, pr_auc=0.69)
    report = judge(candidate, PARAMETERS, baseline=baseline, paired=paired(baseline_only=4, ap_drop=0.01))
    assert report["blessed"] is True
    assert "paired against the baseline" in report["verdict_line"]
    assert _row(report, OVERALL_SLICE, spec.RECALL)["status"] == PASS
    assert report["counts"]["checks"] == 9


def test_drop_of_exactly_the_delta_passes():
    baseline = {OVERALL_SLICE: metrics(95, 5, recall=0.85)}
    candidate = {OVERALL_SLICE: metrics(90, 10, recall=0.80)}
    assert judge(candidate, PARAMETERS, baseline=baseline, paired=paired(baseline_only=5))["blessed"] is True


def test_a_baseline_without_a_paired_comparison_is_an_input_error():
    with pytest.raises(GateInputError, match="no paired comparison"):
        judge(good_candidate(), PARAMETERS, baseline=good_candidate())


def test_first_run_without_baseline_uses_absolute_thresholds_only():
    candidate = good_candidate()
    candidate[OVERALL_SLICE] = metrics(90, 10, pr_auc=0.55)  # would be a big drop against any good baseline
    report = judge(candidate, PARAMETERS)
    assert report["blessed"] is True and report["has_baseline"] is False and report["paired"] is None
    assert "no baseline" in report["verdict_line"]
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
