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

`judge_entry` and `assemble` are shared with the multiclass gate (`multiclass`), whose entries
are one per class and slice.
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
    drop_checks,
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


def judge_entry(
    slice_name: str,
    metrics: SliceMetrics,
    baseline_metrics: Optional[SliceMetrics],
    paired: Optional[PairedComparison],
    parameters: BlessingGateParameters,
    class_name: Optional[str] = None,
    protected: bool = True,
) -> Dict[str, Any]:
    """One slice's (or, multiclass, one class on one slice's) entry: every metric, its interval, checks, verdicts.

    Binary (`class_name` None): recall and AUC on every judged slice, PR-AUC on the overall slice.
    A protected class (multiclass): recall, AUC and PR-AUC on every judged slice. A class that is not
    protected is reported and never judged. Regression (`paired`) is judged on the overall slice.
    """
    label = slice_name if class_name is None else f"{slice_name}, class {class_name}"
    n_pos = positives(metrics, label)
    is_overall = slice_name == OVERALL_SLICE
    judged = protected and (is_overall or n_pos >= parameters.min_slice_positives)
    where = f"on slice {slice_name} (n_pos={n_pos})"
    if class_name is not None:
        where = f"for class {class_name} {where}"
    blocks_uncertain = is_overall or parameters.uncertain_blocks
    minimums = {spec.AUC: parameters.min_auc, spec.RECALL: parameters.min_recall} if protected else {}
    if protected and (is_overall or class_name is not None):
        minimums[spec.PR_AUC] = parameters.min_pr_auc
    drops = drop_checks(paired, parameters, where) if protected and is_overall and paired is not None else {}
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
    if class_name is not None:
        entry.update({"class": class_name, "protected": protected})
    if not protected:
        entry["note"] = f"class {class_name} is not protected: reported, not judged"
    elif not judged:
        noun = "positive" if n_pos == 1 else "positives"
        entry["reason"] = f"{n_pos} {noun} < evaluator.min_slice_positives={parameters.min_slice_positives}"
        entry["note"] = f"too small to judge: {entry['reason']}"
    return entry


def _naming(entry: Mapping[str, Any]) -> Dict[str, Any]:
    """The keys that name an entry: its slice, and its class in a multiclass report."""
    return {key: entry[key] for key in ("slice", "class") if key in entry}


def _where(entry: Mapping[str, Any]) -> str:
    """How the verdict line names an entry: the slice, or (multiclass) the class on the slice."""
    return entry["slice"] if "class" not in entry else f"{entry['class']} on {entry['slice']}"


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
    unit = "class-slice pairs" if "classes" in report else "slices"
    if report["uncertain"]:
        line = (
            f"{BLESSED}: no check failed on {counts['judged_slices']} {unit} ({against}); "
            f"{counts['passed_checks']} of {counts['checks']} passed, uncertain (not blocking): "
            + ", ".join(f"{e['metric']} {'of' if 'class' in e else 'on'} {_where(e)}" for e in report["uncertain"])
        )
    else:
        line = f"{BLESSED}: all {counts['checks']} checks passed on {counts['judged_slices']} {unit} ({against})"
    if report["too_small"]:
        line += "; too small to judge: " + ", ".join(
            f"{_where(entry)} (n_pos={entry['positives']})" for entry in report["too_small"]
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
        judge_entry(
            name,
            candidate[name],
            baseline.get(name) if baseline is not None else None,
            paired if baseline is not None else None,
            parameters,
        )
        for name in _slice_order(list(candidate))
    ]
    return assemble(
        slices,
        parameters,
        has_baseline=baseline is not None,
        evaluator_blessed=evaluator_blessed,
        evaluator_failures=evaluator_failures,
        extra={"paired": paired.to_json() if paired is not None and baseline is not None else None},
    )


def assemble(
    slices: List[Dict[str, Any]],
    parameters: BlessingGateParameters,
    *,
    has_baseline: bool,
    evaluator_blessed: bool,
    evaluator_failures: Sequence[str],
    extra: Mapping[str, Any],
) -> Dict[str, Any]:
    """The report around judged entries: counts, blocking and uncertain checks, too small ones, the verdict.

    `extra` adds keys of the caller's (binary: `paired`; multiclass: `classes`, `macro`, ...), set before
    the verdict line is written. Entries of classes that are not protected are shown but counted nowhere.
    """
    judged_checks = [
        {**_naming(entry), "metric": row["metric"], "positives": entry["positives"], **check}
        for entry in slices
        for row in entry["metrics"]
        for check in row["checks"]
    ]
    # FAIL before a blocking UNCERTAIN, so the verdict names a confident failure first.
    blocking = sorted((check for check in judged_checks if check["blocks"]), key=lambda c: c["verdict"] != FAIL)
    too_small = [
        {**_naming(entry), "positives": entry["positives"], "reason": entry["reason"]}
        for entry in slices
        if "reason" in entry
    ]
    counted = [entry for entry in slices if entry.get("protected", True)]
    verdicts = [check["verdict"] for check in judged_checks]
    report: Dict[str, Any] = {
        "evaluator_blessed": bool(evaluator_blessed),
        "evaluator_failures": list(evaluator_failures),
        "has_baseline": has_baseline,
        "rule": rule_text(parameters),
        "thresholds": judged_settings(parameters),
        "counts": {
            "slices": len(counted),
            "judged_slices": len(counted) - len(too_small),
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
        **extra,
        "slices": slices,
    }
    blessed = bool(evaluator_blessed) and not blocking
    report.update(
        verdict=BLESSED if blessed else NOT_BLESSED, blessed=blessed, verdict_line=_verdict_line(report, blocking)
    )
    return report


def _summary(check: Mapping[str, Any]) -> Dict[str, Any]:
    keys = ("slice", "class", "metric", "positives", "kind", "verdict", "value", "interval", "limit", "message")
    return {key: check[key] for key in keys if key in check}
