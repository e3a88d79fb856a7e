"""The gate's verdict, from plain per-slice metric dicts and the paired comparison (no TFMA, no files).

TFMA applies a `MetricConfig.threshold` to every slice by its point estimate, so a slice holding
three fraud cases fails recall by chance. Here every slice with at least
`min_slice_positives` positives (true positives + false negatives of the served decision) is
judged with intervals (`rules`, `intervals`): recall >= min_recall and AUC >= min_auc on every
such slice, PR-AUC >= min_pr_auc on the overall slice, and, when there is a baseline, no drop of
recall or PR-AUC beyond `max_recall_drop` / `max_pr_auc_drop` on the overall slice, measured
paired on the same examples (`regression`). Smaller slices are listed as too small to judge,
with the reason: neither passed nor failed.

The overall slice is always judged (it is what TFMA's own thresholds hold too); an eval split
with no positives at all cannot be judged and raises `NoPositivesError`.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

from components.blessing_gate import spec
from components.blessing_gate.errors import GateInputError, NoPositivesError
from components.blessing_gate.regression import PairedComparison
from components.blessing_gate.rules import (
    FAIL,
    PASS,
    UNCERTAIN,
    drop_check,
    format_pair,
    is_finite,
    metric_interval,
    minimum_check,
    rule_text,
    worst,
)
from components.blessing_gate.spec import BlessingGateParameters

__all__ = ["FAIL", "PASS", "UNCERTAIN", "TOO_SMALL", "REPORTED", "format_pair", "is_finite", "judge"]

OVERALL_SLICE = "overall"

TOO_SMALL = "too_small"
REPORTED = "reported"  # A metric no check applies to; shown, never judged.

BLESSED = "BLESSED"
NOT_BLESSED = "NOT BLESSED"

# Metrics every slice must have: the gate reads them, counts positives and negatives with them.
REQUIRED_METRICS = (
    spec.AUC,
    spec.PR_AUC,
    spec.RECALL,
    spec.TRUE_POSITIVES,
    spec.FALSE_NEGATIVES,
    spec.FALSE_POSITIVES,
    spec.TRUE_NEGATIVES,
)
# Judged metrics come first in the report (and the verdict names the first failure), recall
# leading as the metric that matters most on rare positives; the rest follow by name.
_METRIC_ORDER = (spec.RECALL, spec.AUC, spec.PR_AUC)

SliceMetrics = Mapping[str, float]
MetricsBySlice = Mapping[str, SliceMetrics]


def judged_settings(parameters: BlessingGateParameters) -> Dict[str, Any]:
    """The settings the checks use, as the report lists them under `thresholds`.

    `recall_at_fpr` is left out: it judges nothing, it only sets where the Evaluator measures a reported metric.
    """
    return {name: value for name, value in parameters.to_json_dict().items() if name != "recall_at_fpr"}


def positives(metrics: SliceMetrics, slice_name: str) -> int:
    """Positive examples of a slice: true positives + false negatives of the decision."""
    missing = [name for name in (spec.TRUE_POSITIVES, spec.FALSE_NEGATIVES) if name not in metrics]
    if missing:
        raise GateInputError(
            f"slice {slice_name} has no {missing} metrics, so its positives cannot be counted; compute "
            "TruePositives and FalseNegatives on the decision output (see blessing_gate.eval_config.gate_eval_config)"
        )
    total = metrics[spec.TRUE_POSITIVES] + metrics[spec.FALSE_NEGATIVES]
    if not is_finite(total) or total < 0:
        raise GateInputError(f"slice {slice_name}: true_positives + false_negatives is {total!r}, not a count")
    return int(round(total))


def _require_metrics(metrics: SliceMetrics, slice_name: str, model: str) -> None:
    missing = [name for name in REQUIRED_METRICS if name not in metrics]
    if missing:
        raise GateInputError(
            f"the {model} model's evaluation has no {missing} on slice {slice_name} (it has {sorted(metrics)}); "
            "the Evaluator's EvalConfig must compute them under these names (see "
            "blessing_gate.eval_config.gate_eval_config)"
        )


def _slice_order(names: Sequence[str]) -> List[str]:
    return [OVERALL_SLICE] + sorted(name for name in names if name != OVERALL_SLICE)


def _metric_order(names: Sequence[str]) -> List[str]:
    first = [name for name in _METRIC_ORDER if name in names]
    return first + sorted(name for name in names if name not in _METRIC_ORDER)


def _drop_checks(paired: PairedComparison, parameters: BlessingGateParameters, where: str) -> Dict[str, Dict]:
    """The two regression checks on the overall slice, from the paired comparison."""
    recall_detail = (
        f"paired on {paired.positives} positives: {paired.baseline_only} caught by the baseline only, "
        f"{paired.candidate_only} by the candidate only; McNemar p={paired.mcnemar_p_value:.3g}"
    )
    ap_detail = (
        f"average precision {paired.baseline_average_precision:.4f} -> {paired.candidate_average_precision:.4f} "
        f"on the same {paired.examples} examples"
    )
    level = parameters.confidence
    # On the overall slice, where regression is judged, an UNCERTAIN verdict always blocks.
    return {
        spec.RECALL: drop_check(
            spec.RECALL,
            paired.recall_drop,
            paired.recall_drop_interval,
            parameters.max_recall_drop,
            recall_detail,
            where,
            level,
            blocks_uncertain=True,
        ),
        spec.PR_AUC: drop_check(
            spec.PR_AUC,
            paired.average_precision_drop,
            paired.average_precision_drop_interval,
            parameters.max_pr_auc_drop,
            ap_detail,
            where,
            level,
            blocks_uncertain=True,
        ),
    }


def _judge_slice(
    slice_name: str,
    metrics: SliceMetrics,
    baseline_metrics: Optional[SliceMetrics],
    paired: Optional[PairedComparison],
    parameters: BlessingGateParameters,
) -> Dict[str, Any]:
    """One slice's entry: every metric with its interval, the checks that apply and their verdicts."""
    n_pos = positives(metrics, slice_name)
    is_overall = slice_name == OVERALL_SLICE
    judged = is_overall or n_pos >= parameters.min_slice_positives
    where = f"on slice {slice_name} (n_pos={n_pos})"
    blocks_uncertain = is_overall or parameters.uncertain_blocks
    minimums = {spec.AUC: parameters.min_auc, spec.RECALL: parameters.min_recall}
    if is_overall:
        minimums[spec.PR_AUC] = parameters.min_pr_auc
    drops = _drop_checks(paired, parameters, where) if is_overall and paired is not None else {}
    rows = []
    for metric in _metric_order(list(metrics)):
        value = float(metrics[metric])
        interval, method = metric_interval(metric, metrics, parameters.confidence)
        checks = []
        if judged and metric in minimums:
            checks.append(
                minimum_check(metric, value, interval, minimums[metric], where, parameters.confidence, blocks_uncertain)
            )
        if judged and metric in drops:
            checks.append(drops[metric])
        baseline = None
        if baseline_metrics is not None and metric in baseline_metrics:
            baseline = float(baseline_metrics[metric])
        if metric not in minimums:
            status = REPORTED
        elif not judged:
            status = TOO_SMALL
        else:
            status = worst(check["verdict"] for check in checks)
        rows.append(
            {
                "metric": metric,
                "value": value,
                "interval": None if interval is None else list(interval),
                "interval_method": method or None,
                "baseline": baseline,
                "change": value - baseline
                if baseline is not None and is_finite(value) and is_finite(baseline)
                else None,
                "min": minimums.get(metric),
                "max_drop": drops[metric]["limit"] if metric in drops else None,
                "status": status,
                "checks": checks,
            }
        )
    entry: Dict[str, Any] = {"slice": slice_name, "positives": n_pos, "judged": judged, "metrics": rows}
    if not judged:
        noun = "positive" if n_pos == 1 else "positives"
        entry["reason"] = f"{n_pos} {noun} < evaluator.min_slice_positives={parameters.min_slice_positives}"
        entry["note"] = f"too small to judge: {entry['reason']}"
    return entry


def _verdict_line(report: Mapping[str, Any], blocking: List[Dict[str, Any]]) -> str:
    counts = report["counts"]
    if blocking:
        more = len(blocking) - 1
        return f"{NOT_BLESSED}: {blocking[0]['message']}" + (f" (+{more} more blocking checks)" if more else "")
    if not report["evaluator_blessed"]:
        failures = report["evaluator_failures"]
        reason = failures[0] if failures else "its TFMA validation failed"
        return f"{NOT_BLESSED}: the Evaluator did not bless the model: {reason}"
    against = "absolute and paired against the baseline" if report["has_baseline"] else "absolute only, no baseline"
    if report["uncertain"]:
        line = (
            f"{BLESSED}: no check failed on {counts['judged_slices']} slices ({against}); "
            f"{counts['passed_checks']} of {counts['checks']} passed, uncertain (not blocking): "
            + ", ".join(f"{entry['metric']} on {entry['slice']}" for entry in report["uncertain"])
        )
    else:
        line = f"{BLESSED}: all {counts['checks']} checks passed on {counts['judged_slices']} slices ({against})"
    if report["too_small"]:
        line += "; too small to judge: " + ", ".join(
            f"{entry['slice']} (n_pos={entry['positives']})" for entry in report["too_small"]
        )
    return line


def judge(
    candidate: MetricsBySlice,
    parameters: BlessingGateParameters,
    baseline: Optional[MetricsBySlice] = None,
    paired: Optional[PairedComparison] = None,
    evaluator_blessed: bool = True,
    evaluator_failures: Sequence[str] = (),
) -> Dict[str, Any]:
    """The gate report as a JSON-able dict: every slice, metric, interval, check and verdict, and the blessing.

    Args:
      candidate: slice name -> metric name -> value; must hold `OVERALL_SLICE`.
      parameters: the gate's settings (`recall_at_fpr` is not used: it only says where the
        Evaluator measured a reported metric).
      baseline: the baseline model's TFMA metrics, same shape (shown beside the candidate's); None on a first run.
      paired: both models on the same eval examples (`regression.compare`); required with a baseline,
        it is what the regression checks judge.
      evaluator_blessed: the TFX Evaluator's own blessing; the verdict is BLESSED only if it is.
      evaluator_failures: why the Evaluator did not bless (TFMA validation failures), for the report.

    Raises:
      GateInputError: a required metric, the overall slice or the paired comparison is missing.
      NoPositivesError: the overall slice has no positives.
    """
    if OVERALL_SLICE not in candidate:
        raise GateInputError(f"the evaluation has no overall slice (slices: {sorted(candidate)})")
    for slice_name, metrics in candidate.items():
        _require_metrics(metrics, slice_name, "candidate")
    if baseline is not None:
        if OVERALL_SLICE not in baseline:
            raise GateInputError(f"the baseline's evaluation has no overall slice (slices: {sorted(baseline)})")
        _require_metrics(baseline[OVERALL_SLICE], OVERALL_SLICE, "baseline")
        if paired is None:
            raise GateInputError("a baseline is given but no paired comparison: the regression checks need one")

    if positives(candidate[OVERALL_SLICE], OVERALL_SLICE) == 0:
        examples = candidate[OVERALL_SLICE].get(spec.EXAMPLE_COUNT)
        raise NoPositivesError(
            f"the eval split has no positive examples (true_positives + false_negatives = 0 over "
            f"{'all' if examples is None else int(examples)} examples): the gate cannot judge recall, so the model "
            "is not blessed. Check that the eval split contains positives and that the label key is right"
        )

    slices = [
        _judge_slice(
            name,
            candidate[name],
            baseline.get(name) if baseline is not None else None,
            paired if baseline is not None else None,
            parameters,
        )
        for name in _slice_order(list(candidate))
    ]
    judged_checks = [
        {"slice": entry["slice"], "metric": row["metric"], "positives": entry["positives"], **check}
        for entry in slices
        for row in entry["metrics"]
        for check in row["checks"]
    ]
    # FAIL before a blocking UNCERTAIN, so the verdict names a confident failure first.
    blocking = sorted((check for check in judged_checks if check["blocks"]), key=lambda c: c["verdict"] != FAIL)
    too_small = [
        {"slice": entry["slice"], "positives": entry["positives"], "reason": entry["reason"]}
        for entry in slices
        if not entry["judged"]
    ]
    verdicts = [check["verdict"] for check in judged_checks]
    report: Dict[str, Any] = {
        "evaluator_blessed": bool(evaluator_blessed),
        "evaluator_failures": list(evaluator_failures),
        "has_baseline": baseline is not None,
        "rule": rule_text(parameters),
        "thresholds": judged_settings(parameters),
        "counts": {
            "slices": len(slices),
            "judged_slices": len(slices) - len(too_small),
            "too_small_slices": len(too_small),
            "checks": len(judged_checks),
            "passed_checks": verdicts.count(PASS),
            "uncertain_checks": verdicts.count(UNCERTAIN),
            "failed_checks": verdicts.count(FAIL),
            "blocking_checks": len(blocking),
        },
        "failures": [_summary(check) for check in blocking],
        "uncertain": [_summary(c) for c in judged_checks if c["verdict"] == UNCERTAIN and not c["blocks"]],
        "too_small": too_small,
        "paired": paired.to_json() if paired is not None and baseline is not None else None,
        "slices": slices,
    }
    blessed = bool(evaluator_blessed) and not blocking
    report.update(
        verdict=BLESSED if blessed else NOT_BLESSED, blessed=blessed, verdict_line=_verdict_line(report, blocking)
    )
    return report


def _summary(check: Mapping[str, Any]) -> Dict[str, Any]:
    keys = ("slice", "metric", "positives", "kind", "verdict", "value", "interval", "limit", "message")
    return {key: check[key] for key in keys}
