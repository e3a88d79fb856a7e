"""The gate's rule for one check: a point estimate, its interval, a threshold, and one of three verdicts.

- PASS: the point estimate meets the threshold.
- FAIL: the whole interval misses it (its upper bound lies below a minimum, or its lower bound
  above an allowed drop): confidently bad.
- UNCERTAIN: the point estimate misses the threshold but the interval reaches it: the data
  cannot tell the model from one that meets it.

FAIL always blocks. UNCERTAIN blocks on the overall slice (where the Evaluator's TFMA
thresholds also hold the point estimates, so the two agree) and, when
`evaluator.uncertain_blocks`, on every other slice too. A metric without an interval
(undefined, or at 0 or 1 where the logit interval is infinite) is judged by its point
estimate alone: PASS or FAIL.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional, Tuple

from components.blessing_gate import intervals, spec
from components.blessing_gate.intervals import Interval
from components.blessing_gate.regression import PairedComparison
from components.blessing_gate.spec import BlessingGateParameters

PASS = "pass"
FAIL = "fail"
UNCERTAIN = "uncertain"
_SEVERITY = {PASS: 0, UNCERTAIN: 1, FAIL: 2}
# Float slack for "drop <= max drop", so 0.70 vs 0.75 with max drop 0.05 passes.
TOLERANCE = 1e-9


def is_finite(value: Optional[float]) -> bool:
    return value is not None and not math.isnan(value) and not math.isinf(value)


def format_pair(value: float, limit: float) -> Tuple[str, str]:
    """Two numbers with as many decimals as it takes to tell them apart (2, 4 or 6)."""
    for digits in (2, 4):
        shown = (f"{value:.{digits}f}", f"{limit:.{digits}f}")
        if shown[0] != shown[1] or value == limit:
            return shown
    return f"{value:.6f}", f"{limit:.6f}"


def worst(verdicts) -> str:
    return max(verdicts, key=_SEVERITY.__getitem__, default=PASS)


def rule_text(parameters: BlessingGateParameters) -> str:
    """The rule in one paragraph, as the report states it."""
    level = f"{parameters.confidence:.0%}"
    others = "blocks too" if parameters.uncertain_blocks else "is reported but does not block"
    return (
        f"Each check has a point estimate and a {level} interval. PASS: the point estimate meets the threshold. "
        f"FAIL (blocks): the whole interval misses it. UNCERTAIN otherwise: it blocks on the overall slice, and on "
        f"other slices it {others} (evaluator.uncertain_blocks={str(parameters.uncertain_blocks).lower()}). "
        f"Slices with fewer than {parameters.min_slice_positives} positives are not judged. Intervals: recall and "
        "precision Clopper-Pearson from the confusion counts at the served threshold, ROC-AUC Hanley-McNeil, "
        "PR-AUC logit; drops against the baseline are paired on the same eval examples: recall exact McNemar, "
        f"PR-AUC (as average precision) a stratified bootstrap of {parameters.bootstrap_samples} resamples "
        f"(seed {parameters.seed})."
    )


def metric_interval(metric: str, metrics: Mapping[str, float], confidence: float) -> Tuple[Optional[Interval], str]:
    """The interval of one slice metric and how it was computed; (None, "") for metrics without one."""
    count = {name: int(round(metrics.get(name, 0.0))) for name in _COUNTS}
    positives = count[spec.TRUE_POSITIVES] + count[spec.FALSE_NEGATIVES]
    value = metrics[metric]
    if metric == spec.RECALL:
        return intervals.clopper_pearson(count[spec.TRUE_POSITIVES], positives, confidence), intervals.CLOPPER_PEARSON
    if metric == spec.PRECISION:
        called = count[spec.TRUE_POSITIVES] + count[spec.FALSE_POSITIVES]
        return intervals.clopper_pearson(count[spec.TRUE_POSITIVES], called, confidence), intervals.CLOPPER_PEARSON
    if metric == spec.AUC:
        negatives = count[spec.TRUE_NEGATIVES] + count[spec.FALSE_POSITIVES]
        return intervals.hanley_mcneil(value, positives, negatives, confidence), intervals.HANLEY_MCNEIL
    if metric == spec.PR_AUC:
        return intervals.logit_interval(value, positives, confidence), intervals.LOGIT
    return None, ""


_COUNTS = (spec.TRUE_POSITIVES, spec.FALSE_NEGATIVES, spec.FALSE_POSITIVES, spec.TRUE_NEGATIVES)


def _interval_text(interval: Interval, limit: float, confidence: float) -> str:
    lower = format_pair(interval[0], limit)[0]
    upper = format_pair(interval[1], limit)[0]
    return f"{confidence:.0%} interval {lower}-{upper}"


def _check(
    kind: str,
    limit: float,
    value: Optional[float],
    interval: Optional[Interval],
    verdict: str,
    blocks_uncertain: bool,
    message: str,
) -> Dict[str, Any]:
    return {
        "kind": kind,
        "limit": limit,
        "value": value,
        "interval": None if interval is None else list(interval),
        "verdict": verdict,
        "blocks": verdict == FAIL or (verdict == UNCERTAIN and blocks_uncertain),
        "message": message,
    }


def minimum_check(
    metric: str,
    value: float,
    interval: Optional[Interval],
    limit: float,
    where: str,
    confidence: float,
    blocks_uncertain: bool,
) -> Dict[str, Any]:
    """`metric` >= `limit`, judged with its interval."""
    if not is_finite(value):
        return _check(
            "minimum", limit, value, interval, FAIL, blocks_uncertain, f"{metric} is undefined ({value}) {where}"
        )
    shown_value, shown_limit = format_pair(value, limit)
    if value >= limit:
        verdict, relation, note = PASS, ">=", ""
    elif interval is None:
        verdict, relation, note = FAIL, "<", " (no interval)"
    elif interval[1] < limit:
        verdict, relation, note = FAIL, "<", f" ({_interval_text(interval, limit, confidence)}, all below)"
    else:
        verdict, relation = UNCERTAIN, "<"
        note = f" ({_interval_text(interval, limit, confidence)} reaches it: uncertain)"
    if verdict == PASS and interval is not None:
        note = f" ({_interval_text(interval, limit, confidence)})"
    message = f"{metric} {shown_value} {relation} {shown_limit}{note} {where}"
    return _check("minimum", limit, value, interval, verdict, blocks_uncertain, message)


def drop_check(
    metric: str,
    drop: Optional[float],
    interval: Optional[Interval],
    max_drop: float,
    detail: str,
    where: str,
    confidence: float,
    blocks_uncertain: bool,
) -> Dict[str, Any]:
    """baseline − candidate <= `max_drop`, judged with the paired interval of the drop."""
    if not is_finite(drop) or interval is None:
        message = f"{metric} cannot be compared with the baseline ({detail}) {where}"
        return _check("max_drop", max_drop, drop, interval, FAIL, blocks_uncertain, message)
    assert drop is not None
    shown_drop, shown_max = format_pair(drop, max_drop)
    amount = f"dropped {shown_drop}" if drop > 0 else f"changed by {-drop:+.4f}"
    bounds = f"paired {confidence:.0%} interval of the drop {interval[0]:+.4f} to {interval[1]:+.4f}"
    if drop <= max_drop + TOLERANCE:
        verdict, judgement = PASS, f"within max drop {shown_max}"
    elif interval[0] > max_drop + TOLERANCE:
        verdict, judgement = FAIL, f"beyond max drop {shown_max}, the whole interval too"
    else:
        verdict, judgement = UNCERTAIN, f"beyond max drop {shown_max}, but the interval reaches it: uncertain"
    message = f"{metric} {amount} ({detail}; {bounds}) {judgement} {where}"
    return _check("max_drop", max_drop, drop, interval, verdict, blocks_uncertain, message)


def drop_checks(paired: PairedComparison, parameters: BlessingGateParameters, where: str) -> Dict[str, Dict]:
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
