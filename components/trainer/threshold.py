"""Choose the decision threshold on held-out scores by a configurable rule.

Probability 0.5 is the wrong cut-off when positives are rare. `choose_threshold` evaluates
every distinct score as a candidate threshold t (decision: `score >= t`) exactly, with one
sort (O(n log n)), and picks one by a rule from `spec.THRESHOLD_RULES`:

- `max_f1`: the highest F1;
- `max_precision_at_recall`: the highest precision among thresholds with recall >= min_recall;
- `max_recall_at_precision`: the highest recall among thresholds with precision >= min_precision.

Ties are broken deterministically: for `max_f1` and `max_precision_at_recall` by the higher
recall (the lower threshold), for `max_recall_at_precision` by the higher precision (the higher
threshold). Because the lowest candidate flags every example (recall 1), `max_precision_at_recall`
is always satisfiable; `max_recall_at_precision` is not when no threshold reaches the precision.
Then the `fallback` rule is applied and the choice says so (`satisfied=False`, `message`), or,
with `fallback="error"`, a `ThresholdError` names the unmet rule and the best value reachable.

The chosen threshold is a tuning row's own score. `choose_served_threshold` lowers it into the gap
below that score before it is served (`served_threshold`), because the serving graph scores the same
row in float32 and keeps the threshold in float32: a row the rule counted could otherwise fall a few
ulps under its own score and be dropped.

The scores of a validation split (tens of thousands of rows) fit in memory; this is not a
streaming algorithm.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from components.trainer.spec import THRESHOLD_RULES

FALLBACK_ERROR = "error"
# How far below the chosen score the served threshold sits, relative to it: about 80 float32 ulps,
# far more than the serving graph's float32 rounding of a probability, far less than any gap a
# rule could care about. Never so far that a lower tuning score is flagged too.
SERVING_MARGIN = 1e-5


class ThresholdError(ValueError):
    """No threshold can be chosen: bad labels/scores, an unknown rule, or an unmet rule with no fallback."""


@dataclasses.dataclass(frozen=True)
class ThresholdChoice:
    """The chosen threshold and its precision/recall/F1 on the scores it was tuned on."""

    threshold: float
    precision: float
    recall: float
    f1: float
    # The rule whose optimum this is: the requested rule, or the fallback if the requested one was unmet.
    rule_applied: str
    # False when the requested rule could not be met and the fallback was used.
    satisfied: bool
    message: str
    rule_requested: str = ""
    # The highest tuning score below `threshold` (None: the threshold flags every row), which the
    # served threshold must stay above.
    next_lower_score: Optional[float] = None


@dataclasses.dataclass(frozen=True)
class _Curve:
    """Precision, recall and F1 at each distinct score, in decreasing threshold order."""

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray


def _as_binary_labels(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels).reshape(-1)
    if labels.dtype == bool:
        return labels
    if not np.issubdtype(labels.dtype, np.number):
        raise ThresholdError(f"labels must be numeric 0/1 or boolean, got dtype {labels.dtype}")
    unexpected = np.setdiff1d(np.unique(labels), [0, 1])
    if unexpected.size:
        raise ThresholdError(
            f"labels must be 0 or 1, found {unexpected[:5].tolist()}; map the positive class to 1 before tuning"
        )
    return labels == 1


def _as_scores(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores).reshape(-1)
    if not np.issubdtype(scores.dtype, np.number) or np.issubdtype(scores.dtype, np.complexfloating):
        raise ThresholdError(f"scores must be real numbers, got dtype {scores.dtype}")
    scores = scores.astype(np.float64)
    not_finite = ~np.isfinite(scores)
    if not_finite.any():
        first = int(np.flatnonzero(not_finite)[0])
        nan_count = int(np.isnan(scores).sum())
        raise ThresholdError(
            f"scores contain {int(not_finite.sum())} non-finite values ({nan_count} NaN), the first at index "
            f"{first} ({scores[first]!r}); the model produced invalid outputs, fix it before tuning a threshold"
        )
    return scores


def _curve(positive: np.ndarray, scores: np.ndarray) -> _Curve:
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    sorted_positive = positive[order]
    true_positives = np.cumsum(sorted_positive, dtype=np.int64)
    flagged = np.arange(1, scores.size + 1, dtype=np.int64)
    # Thresholding at a score flags every example with that score, so keep the last index of each run of ties.
    last_of_group = np.r_[np.flatnonzero(np.diff(sorted_scores) != 0), scores.size - 1]
    tp = true_positives[last_of_group]
    predicted = flagged[last_of_group]
    total_positives = int(positive.sum())
    precision = tp / predicted
    recall = tp / total_positives
    # F1 = 2TP / (2TP + FP + FN) = 2TP / (predicted + total positives); exact when TP = 0 (F1 = 0).
    f1 = 2.0 * tp / (predicted + total_positives)
    return _Curve(thresholds=sorted_scores[last_of_group], precision=precision, recall=recall, f1=f1)


def _best_index(curve: _Curve, rule: str, min_recall: float, min_precision: float) -> int | None:
    """Index of the rule's optimum on the curve, or None if no threshold meets the rule's constraint."""
    # The curve runs from the highest threshold to the lowest, so a larger index means a lower threshold.
    index = np.arange(curve.thresholds.size)
    if rule == "max_f1":
        allowed = np.ones_like(index, dtype=bool)
        keys = (index, curve.recall, curve.f1)  # np.lexsort: last key is primary.
    elif rule == "max_precision_at_recall":
        allowed = curve.recall >= min_recall
        keys = (index, curve.recall, curve.precision)
    elif rule == "max_recall_at_precision":
        allowed = curve.precision >= min_precision
        keys = (-index, curve.precision, curve.recall)
    else:
        raise ThresholdError(f"unknown threshold rule {rule!r}; choose one of {', '.join(THRESHOLD_RULES)}")
    if not allowed.any():
        return None
    candidates = np.flatnonzero(allowed)
    ranked = np.lexsort(tuple(key[candidates] for key in keys))
    return int(candidates[ranked[-1]])


def _unmet_message(curve: _Curve, rule: str, min_recall: float, min_precision: float) -> str:
    if rule == "max_recall_at_precision":
        best = int(np.argmax(curve.precision))
        return (
            f"no threshold reaches precision >= {min_precision:g} (rule {rule}); the best achievable precision is "
            f"{curve.precision[best]:.4f} (recall {curve.recall[best]:.4f} at threshold {curve.thresholds[best]:.6g})"
        )
    best = int(np.argmax(curve.recall))
    return (
        f"no threshold reaches recall >= {min_recall:g} (rule {rule}); the best achievable recall is "
        f"{curve.recall[best]:.4f} (precision {curve.precision[best]:.4f} at threshold {curve.thresholds[best]:.6g})"
    )


def _check_fraction(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ThresholdError(f"{name} must be in [0, 1], got {value!r}")
    return value


def choose_threshold(
    labels: np.ndarray,
    scores: np.ndarray,
    rule: str,
    *,
    min_recall: float = 0.85,
    min_precision: float = 0.5,
    fallback: str = "max_f1",
) -> ThresholdChoice:
    """The threshold on `scores` (decision `score >= threshold`) that is best by `rule`; see the module doc."""
    if rule not in THRESHOLD_RULES:
        raise ThresholdError(f"unknown threshold rule {rule!r}; choose one of {', '.join(THRESHOLD_RULES)}")
    if fallback not in (*THRESHOLD_RULES, FALLBACK_ERROR):
        raise ThresholdError(
            f"unknown threshold fallback {fallback!r}; choose one of {', '.join((*THRESHOLD_RULES, FALLBACK_ERROR))}"
        )
    min_recall = _check_fraction("min_recall", min_recall)
    min_precision = _check_fraction("min_precision", min_precision)
    positive = _as_binary_labels(labels)
    score_values = _as_scores(scores)
    if positive.size != score_values.size:
        raise ThresholdError(f"labels ({positive.size}) and scores ({score_values.size}) differ in length")
    if positive.size == 0:
        raise ThresholdError("no labels and scores to tune a threshold on; the tuning split is empty")
    total_positives = int(positive.sum())
    if total_positives == 0:
        raise ThresholdError(
            f"the tuning labels have no positives among {positive.size} rows, so precision and recall are undefined; "
            "tune on a split that holds positive examples"
        )

    curve = _curve(positive, score_values)
    best = _best_index(curve, rule, min_recall, min_precision)
    applied, satisfied = rule, True
    if best is None:
        unmet = _unmet_message(curve, rule, min_recall, min_precision)
        if fallback == FALLBACK_ERROR:
            raise ThresholdError(f"{unmet}; no fallback configured (fallback='error')")
        best = _best_index(curve, fallback, min_recall, min_precision)
        if best is None:
            fallback_unmet = _unmet_message(curve, fallback, min_recall, min_precision)
            raise ThresholdError(f"{unmet}; the fallback is unmet too: {fallback_unmet}")
        applied, satisfied = fallback, False
        message = f"{unmet}; fell back to {fallback}"
    else:
        message = f"{rule} met"
        if rule == "max_precision_at_recall":
            message += f" (recall >= {min_recall:g})"
        elif rule == "max_recall_at_precision":
            message += f" (precision >= {min_precision:g})"
    return ThresholdChoice(
        threshold=float(curve.thresholds[best]),
        precision=float(curve.precision[best]),
        recall=float(curve.recall[best]),
        f1=float(curve.f1[best]),
        rule_applied=applied,
        satisfied=satisfied,
        message=message,
        rule_requested=rule,
        next_lower_score=float(curve.thresholds[best + 1]) if best + 1 < curve.thresholds.size else None,
    )


def served_threshold(choice: ThresholdChoice) -> float:
    """A float32 threshold just below the chosen score that flags the same tuning rows as the score does.

    `SERVING_MARGIN` below the score, but never at or under `next_lower_score` (then the float32 value
    just above it, or the score itself when the two are one float32 value apart or less).
    """
    chosen = np.float32(choice.threshold)
    lowered = np.float32(choice.threshold - SERVING_MARGIN * abs(choice.threshold))
    if choice.next_lower_score is not None:
        floor = np.nextafter(np.float32(choice.next_lower_score), np.float32(np.inf))
        lowered = max(lowered, min(floor, chosen))
    return float(min(lowered, chosen))


def choose_served_threshold(labels: np.ndarray, scores: np.ndarray, rule: str, **rule_settings) -> ThresholdChoice:
    """`choose_threshold`, with the threshold replaced by the one to serve (`served_threshold`).

    Precision, recall and F1 are unchanged: on the tuning scores the served threshold flags exactly
    the rows the chosen score flags.
    """
    choice = choose_threshold(labels, scores, rule, **rule_settings)
    return dataclasses.replace(choice, threshold=served_threshold(choice))
