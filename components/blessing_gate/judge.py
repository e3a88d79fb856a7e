"""The gate's verdict, from plain per-slice metric dicts (no TFMA, no files).

TFMA applies a `MetricConfig.threshold` to every slice, so a slice holding three
fraud cases fails recall by chance, and it cannot say "too small to judge". Here
every slice with at least `min_slice_positives` positives (true positives + false
negatives of the served decision) must hold recall >= min_recall and AUC >= min_auc;
the overall slice also PR-AUC >= min_pr_auc and, when there is a baseline, must not
lose more than `max_pr_auc_drop` of PR-AUC or `max_recall_drop` of recall. Smaller
slices are reported as too small to judge: neither passed nor failed.

The overall slice is always judged (it is what TFMA's own thresholds hold too); an
eval split with no positives at all cannot be judged and raises `NoPositivesError`.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence

from components.blessing_gate import spec
from components.blessing_gate.errors import GateInputError, NoPositivesError
from components.blessing_gate.spec import BlessingGateParameters

OVERALL_SLICE = "overall"

PASS = "pass"
FAIL = "fail"
TOO_SMALL = "too_small"
REPORTED = "reported"  # A metric no check applies to; shown, never judged.

BLESSED = "BLESSED"
NOT_BLESSED = "NOT BLESSED"

# Metrics every slice must have: the gate reads them or counts positives with them.
REQUIRED_METRICS = (spec.AUC, spec.PR_AUC, spec.RECALL, spec.TRUE_POSITIVES, spec.FALSE_NEGATIVES)
# Judged metrics come first in the report (and the verdict names the first failure), recall
# leading as the metric that matters most on rare positives; the rest follow by name.
_METRIC_ORDER = (spec.RECALL, spec.AUC, spec.PR_AUC)
# Float slack for "drop <= max drop", so 0.70 vs 0.75 with max drop 0.05 passes.
_TOLERANCE = 1e-9

SliceMetrics = Mapping[str, float]
MetricsBySlice = Mapping[str, SliceMetrics]


def judged_settings(parameters: BlessingGateParameters) -> Dict[str, Any]:
    """The settings the checks use, as the report lists them under `thresholds`.

    `recall_at_fpr` is left out: it judges nothing, it only sets where the Evaluator measures a reported metric.
    """
    return {name: value for name, value in parameters.to_json_dict().items() if name != "recall_at_fpr"}


def is_finite(value: Optional[float]) -> bool:
    return value is not None and not math.isnan(value) and not math.isinf(value)


def format_pair(value: float, limit: float) -> tuple:
    """Two numbers with as many decimals as it takes to tell them apart (2, 4 or 6)."""
    for digits in (2, 4):
        shown = (f"{value:.{digits}f}", f"{limit:.{digits}f}")
        if shown[0] != shown[1] or value == limit:
            return shown
    return f"{value:.6f}", f"{limit:.6f}"


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


def _where(slice_name: str, n_pos: int) -> str:
    return f"on slice {slice_name} (n_pos={n_pos})"


def _minimum_check(metric: str, value: float, limit: float, slice_name: str, n_pos: int) -> Dict[str, Any]:
    if not is_finite(value):
        return {
            "kind": "minimum",
            "limit": limit,
            "passed": False,
            "message": f"{metric} is undefined ({value}) {_where(slice_name, n_pos)}",
        }
    passed = value >= limit
    shown_value, shown_limit = format_pair(value, limit)
    relation = ">=" if passed else "<"
    return {
        "kind": "minimum",
        "limit": limit,
        "passed": passed,
        "message": f"{metric} {shown_value} {relation} {shown_limit} {_where(slice_name, n_pos)}",
    }


def _drop_check(
    metric: str, value: float, baseline: Optional[float], max_drop: float, slice_name: str, n_pos: int
) -> Dict[str, Any]:
    if value is None or baseline is None or not is_finite(value) or not is_finite(baseline):
        return {
            "kind": "max_drop",
            "limit": max_drop,
            "passed": False,
            "message": f"{metric} cannot be compared with the baseline (candidate {value}, baseline {baseline}) "
            f"{_where(slice_name, n_pos)}",
        }
    drop = baseline - value
    passed = drop <= max_drop + _TOLERANCE
    shown_drop, shown_max = format_pair(drop, max_drop)
    verb = "dropped" if drop > 0 else "changed by"
    amount = shown_drop if drop > 0 else f"{value - baseline:+.4f}"
    return {
        "kind": "max_drop",
        "limit": max_drop,
        "passed": passed,
        "message": f"{metric} {verb} {amount} from baseline {baseline:.4f} to {value:.4f} "
        f"({'within' if passed else 'beyond'} max drop {shown_max}) {_where(slice_name, n_pos)}",
    }


def _metric_row(
    metric: str,
    metrics: SliceMetrics,
    baseline_metrics: Optional[SliceMetrics],
    minimum: Optional[float],
    max_drop: Optional[float],
    judged: bool,
    slice_name: str,
    n_pos: int,
) -> Dict[str, Any]:
    value = float(metrics[metric])
    baseline = None
    if baseline_metrics is not None and metric in baseline_metrics:
        baseline = float(baseline_metrics[metric])
    checks = []
    if judged:
        if minimum is not None:
            checks.append(_minimum_check(metric, value, minimum, slice_name, n_pos))
        if max_drop is not None:
            checks.append(_drop_check(metric, value, baseline, max_drop, slice_name, n_pos))
    if minimum is None and max_drop is None:
        status = REPORTED
    elif not judged:
        status = TOO_SMALL
    else:
        status = PASS if all(check["passed"] for check in checks) else FAIL
    return {
        "metric": metric,
        "value": value,
        "baseline": baseline,
        "change": value - baseline
        if value is not None and baseline is not None and is_finite(value) and is_finite(baseline)
        else None,
        "min": minimum,
        "max_drop": max_drop,
        "status": status,
        "checks": checks,
    }


def _verdict_line(
    failures: List[Dict[str, Any]],
    evaluator_failures: Sequence[str],
    evaluator_blessed: bool,
    counts: Mapping[str, int],
    too_small: List[Dict[str, Any]],
    has_baseline: bool,
) -> str:
    if failures:
        more = len(failures) - 1
        return f"{NOT_BLESSED}: {failures[0]['message']}" + (f" (+{more} more failed checks)" if more else "")
    if not evaluator_blessed:
        reason = evaluator_failures[0] if evaluator_failures else "its TFMA validation failed"
        return f"{NOT_BLESSED}: the Evaluator did not bless the model: {reason}"
    against = "absolute and against the baseline" if has_baseline else "absolute only, first run without a baseline"
    line = f"{BLESSED}: all {counts['checks']} checks passed on {counts['judged_slices']} slices ({against})"
    if too_small:
        names = ", ".join(f"{entry['slice']} (n_pos={entry['positives']})" for entry in too_small)
        line += f"; too small to judge: {names}"
    return line


def judge(
    candidate: MetricsBySlice,
    parameters: BlessingGateParameters,
    baseline: Optional[MetricsBySlice] = None,
    evaluator_blessed: bool = True,
    evaluator_failures: Sequence[str] = (),
) -> Dict[str, Any]:
    """The gate report as a JSON-able dict: every slice, every metric, every check, and the verdict.

    Args:
      candidate: slice name -> metric name -> value; must hold `OVERALL_SLICE`.
      parameters: the gate's settings (`recall_at_fpr` is not used: it only says where the
        Evaluator measured a reported metric).
      baseline: the baseline model's metrics, same shape; None on the first run.
      evaluator_blessed: the TFX Evaluator's own blessing; the verdict is BLESSED only if it is.
      evaluator_failures: why the Evaluator did not bless (TFMA validation failures), for the report.

    Raises:
      GateInputError: a required metric or the overall slice is missing.
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

    overall_positives = positives(candidate[OVERALL_SLICE], OVERALL_SLICE)
    if overall_positives == 0:
        examples = candidate[OVERALL_SLICE].get(spec.EXAMPLE_COUNT)
        raise NoPositivesError(
            f"the eval split has no positive examples (true_positives + false_negatives = 0 over "
            f"{'all' if examples is None else int(examples)} examples): the gate cannot judge recall, so the model "
            "is not blessed. Check that the eval split contains positives and that the label key is right"
        )

    slices: List[Dict[str, Any]] = []
    failures: List[Dict[str, Any]] = []
    too_small: List[Dict[str, Any]] = []
    check_count = 0
    for slice_name in _slice_order(list(candidate)):
        metrics = candidate[slice_name]
        n_pos = positives(metrics, slice_name)
        is_overall = slice_name == OVERALL_SLICE
        judged = is_overall or n_pos >= parameters.min_slice_positives
        minimums = {spec.AUC: parameters.min_auc, spec.RECALL: parameters.min_recall}
        max_drops: Dict[str, float] = {}
        if is_overall:
            minimums[spec.PR_AUC] = parameters.min_pr_auc
            if baseline is not None:
                max_drops = {spec.PR_AUC: parameters.max_pr_auc_drop, spec.RECALL: parameters.max_recall_drop}
        baseline_metrics = baseline.get(slice_name) if baseline is not None else None
        rows = [
            _metric_row(
                metric,
                metrics,
                baseline_metrics,
                minimums.get(metric),
                max_drops.get(metric),
                judged,
                slice_name,
                n_pos,
            )
            for metric in _metric_order(list(metrics))
        ]
        for row in rows:
            check_count += len(row["checks"])
            failures.extend(
                {
                    "slice": slice_name,
                    "metric": row["metric"],
                    "positives": n_pos,
                    "kind": check["kind"],
                    "message": check["message"],
                }
                for check in row["checks"]
                if not check["passed"]
            )
        entry = {"slice": slice_name, "positives": n_pos, "judged": judged, "metrics": rows}
        if not judged:
            entry["note"] = f"too small to judge: {n_pos} positives < {parameters.min_slice_positives}"
            too_small.append({"slice": slice_name, "positives": n_pos})
        slices.append(entry)

    blessed = bool(evaluator_blessed) and not failures
    counts = {
        "slices": len(slices),
        "judged_slices": len(slices) - len(too_small),
        "too_small_slices": len(too_small),
        "checks": check_count,
        "failed_checks": len(failures),
    }
    has_baseline = baseline is not None
    return {
        "verdict": BLESSED if blessed else NOT_BLESSED,
        "blessed": blessed,
        "verdict_line": _verdict_line(failures, evaluator_failures, evaluator_blessed, counts, too_small, has_baseline),
        "evaluator_blessed": bool(evaluator_blessed),
        "evaluator_failures": list(evaluator_failures),
        "has_baseline": has_baseline,
        "thresholds": judged_settings(parameters),
        "counts": counts,
        "failures": failures,
        "too_small": too_small,
        "slices": slices,
    }
