"""Ranking and threshold metrics of saved predictions, and the quality target they are judged by.

numpy only, so that the tests can check every figure against scikit-learn independently.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

CURVE_POINTS = 400

# The quality target for the best strategy on the credit-card eval split.
TARGET_PR_AUC = 0.85
TARGET_ROC_AUC = 0.98
TARGET_RECALL = 0.85
TARGET_PRECISION = 0.5


@dataclasses.dataclass(frozen=True)
class Curve:
    """Counts at every distinct score, highest first: decision `score >= thresholds[i]`."""

    thresholds: np.ndarray
    true_positives: np.ndarray
    false_positives: np.ndarray
    positives: int
    negatives: int


def ranking_curve(labels: np.ndarray, scores: np.ndarray) -> Curve:
    """The counts behind every ranking metric here; raises ValueError on mismatched or non-finite input."""
    labels = np.asarray(labels).reshape(-1).astype(bool)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if labels.size != scores.size:
        raise ValueError(f"labels ({labels.size}) and scores ({scores.size}) differ in length")
    if labels.size and not np.all(np.isfinite(scores)):
        raise ValueError("scores hold NaN or infinite values; the model's probabilities must be finite")
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_labels = scores[order], labels[order]
    # The last index of each run of equal scores: all rows scoring >= that value are predicted positive.
    distinct = np.flatnonzero(np.diff(sorted_scores)) if sorted_scores.size else np.array([], dtype=np.int64)
    ends = np.concatenate([distinct, [sorted_scores.size - 1]]) if sorted_scores.size else distinct
    true_positives = np.cumsum(sorted_labels)[ends] if sorted_scores.size else np.array([])
    false_positives = (ends + 1) - true_positives
    positives = int(labels.sum())
    return Curve(sorted_scores[ends], true_positives, false_positives, positives, int(labels.size - positives))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> Optional[float]:
    """sum_n (R_n - R_{n-1}) P_n over distinct thresholds (scikit-learn's definition); None without positives."""
    curve = ranking_curve(labels, scores)
    if curve.positives == 0:
        return None
    precision = curve.true_positives / (curve.true_positives + curve.false_positives)
    recall = curve.true_positives / curve.positives
    recall_steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(recall_steps * precision))


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> Optional[float]:
    """Trapezoidal area under the ROC curve (ties count half); None unless both classes are present."""
    curve = ranking_curve(labels, scores)
    if curve.positives == 0 or curve.negatives == 0:
        return None
    tpr = np.concatenate([[0.0], curve.true_positives / curve.positives])
    fpr = np.concatenate([[0.0], curve.false_positives / curve.negatives])
    return float(np.trapz(tpr, fpr))


def metrics_at_threshold(labels: np.ndarray, decisions: np.ndarray) -> Dict[str, Any]:
    """Confusion counts and precision/recall/F1 of hard decisions; an undefined ratio is 0 (as zero_division=0)."""
    labels = np.asarray(labels).reshape(-1).astype(bool)
    decisions = np.asarray(decisions).reshape(-1).astype(bool)
    tp = int(np.sum(labels & decisions))
    fp = int(np.sum(~labels & decisions))
    fn = int(np.sum(labels & ~decisions))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": int(labels.size - tp - fp - fn),
    }


def max_recall_at_precision(labels: np.ndarray, scores: np.ndarray, min_precision: float) -> Optional[float]:
    """The best recall any threshold reaches on these labels with precision >= min_precision (an oracle figure)."""
    curve = ranking_curve(labels, scores)
    if curve.positives == 0:
        return None
    precision = curve.true_positives / (curve.true_positives + curve.false_positives)
    recall = curve.true_positives / curve.positives
    ok = precision >= min_precision
    return float(recall[ok].max()) if np.any(ok) else 0.0


def _thin(xs: np.ndarray, ys: np.ndarray, points: int = CURVE_POINTS) -> Tuple[List[float], List[float]]:
    """At most `points` points of a curve, keeping both ends (for plots and the JSON)."""
    if xs.size > points:
        keep = np.unique(np.round(np.linspace(0, xs.size - 1, points)).astype(np.int64))
        xs, ys = xs[keep], ys[keep]
    return [round(float(x), 6) for x in xs], [round(float(y), 6) for y in ys]


def curves(labels: np.ndarray, scores: np.ndarray) -> Dict[str, Dict[str, List[float]]]:
    """PR and ROC curves through their corners (where a positive is added), thinned to CURVE_POINTS."""
    curve = ranking_curve(labels, scores)
    if curve.positives == 0 or curve.negatives == 0:
        return {}
    precision = curve.true_positives / (curve.true_positives + curve.false_positives)
    recall = curve.true_positives / curve.positives
    fpr = curve.false_positives / curve.negatives
    last = recall.size - 1
    # The first threshold that reaches each true-positive count: the PR curve's corners.
    rises = np.flatnonzero(np.diff(np.concatenate([[0], curve.true_positives])) > 0)
    pr_index = np.unique(np.concatenate([rises, [last]]))
    # ROC's staircase also needs the point just before each rise.
    roc_index = np.unique(np.concatenate([rises, rises - 1, [last]]))
    roc_index = roc_index[roc_index >= 0]
    pr_recall, pr_precision = _thin(
        np.concatenate([[0.0], recall[pr_index]]), np.concatenate([[1.0], precision[pr_index]])
    )
    roc_fpr, roc_tpr = _thin(np.concatenate([[0.0], fpr[roc_index]]), np.concatenate([[0.0], recall[roc_index]]))
    return {"pr": {"recall": pr_recall, "precision": pr_precision}, "roc": {"fpr": roc_fpr, "tpr": roc_tpr}}


def score_metrics(labels: np.ndarray, probabilities: np.ndarray, decisions: np.ndarray) -> Dict[str, Any]:
    """Rows, positives, PR-AUC and ROC-AUC of the probabilities, and the counts and ratios of the decisions."""
    labels = np.asarray(labels).reshape(-1)
    figures = {
        "rows": int(labels.size),
        "positives": int(np.sum(labels == 1)),
        "pr_auc": average_precision(labels, probabilities),
        "roc_auc": roc_auc(labels, probabilities),
    }
    figures.update(metrics_at_threshold(labels, decisions))
    return figures


def evaluate_predictions(predictions: Mapping[str, np.ndarray], slice_keys: Sequence[str]) -> Dict[str, Any]:
    """Overall and per-slice metrics of one strategy's saved eval predictions."""
    labels = predictions["labels"]
    probabilities = predictions["probabilities"]
    decisions = predictions["decisions"]
    overall = score_metrics(labels, probabilities, decisions)
    overall["max_recall_at_precision_0.5"] = max_recall_at_precision(labels, probabilities, TARGET_PRECISION)
    slices: Dict[str, Dict[str, Any]] = {}
    for key in slice_keys:
        values = predictions[f"slice_{key}"]
        slices[key] = {}
        for value in sorted(set(values.tolist())):
            mask = values == value
            slices[key][str(value)] = score_metrics(labels[mask], probabilities[mask], decisions[mask])
    return {"overall": overall, "slices": slices, "curves": curves(labels, probabilities)}


def quality_target(overall: Mapping[str, Any]) -> Dict[str, Any]:
    """The issue's target, judged at the strategy's own tuned threshold."""
    checks = {
        f"pr_auc >= {TARGET_PR_AUC}": (overall["pr_auc"] or 0.0) >= TARGET_PR_AUC,
        f"roc_auc >= {TARGET_ROC_AUC}": (overall["roc_auc"] or 0.0) >= TARGET_ROC_AUC,
        f"recall >= {TARGET_RECALL} at tuned threshold": overall["recall"] >= TARGET_RECALL,
        f"precision >= {TARGET_PRECISION} at tuned threshold": overall["precision"] >= TARGET_PRECISION,
    }
    return {"checks": checks, "met": all(checks.values())}
