"""The ROC and PR curves `report.html` draws, as plain lists of points, from the gate's scoring pass.

Numbers only (numpy in, lists out), apart from the page that draws them (`html_report`, `svg`):
the executor computes them once per model (per protected class for a multiclass label) and the
page renders whatever it is given, so either can change without the other.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

import numpy as np

# Points kept per curve: enough to look smooth at 520 px, small enough to keep the page light.
MAX_CURVE_POINTS = 200


def _curve(labels: np.ndarray, probability: np.ndarray) -> Dict[str, List[List[float]]]:
    """ROC (fpr, tpr) and PR (recall, precision) points, one per distinct score, thinned to MAX_CURVE_POINTS."""
    order = np.argsort(-probability, kind="stable")
    sorted_scores, sorted_labels = probability[order], labels[order]
    distinct = np.r_[np.nonzero(np.diff(sorted_scores))[0], sorted_labels.size - 1]
    true_pos = np.cumsum(sorted_labels)[distinct]
    false_pos = (distinct + 1) - true_pos
    positives, negatives = max(int(labels.sum()), 1), max(int(labels.size - labels.sum()), 1)
    tpr, fpr = true_pos / positives, false_pos / negatives
    precision = true_pos / (true_pos + false_pos)
    keep = np.unique(np.linspace(0, distinct.size - 1, min(distinct.size, MAX_CURVE_POINTS)).round().astype(int))
    roc = [[0.0, 0.0]] + [[float(fpr[i]), float(tpr[i])] for i in keep]
    pr = [[float(tpr[i]), float(precision[i])] for i in keep]
    return {"roc": roc, "pr": pr}


def _served_point(labels: np.ndarray, decision: np.ndarray) -> Dict[str, List[float]]:
    """Where the served decision sits on each curve: its (fpr, tpr) and (recall, precision)."""
    caught = decision >= 0.5
    true_pos = float((caught & (labels == 1)).sum())
    false_pos = float((caught & (labels == 0)).sum())
    positives, negatives = max(float(labels.sum()), 1.0), max(float(labels.size - labels.sum()), 1.0)
    recall = true_pos / positives
    precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 1.0
    return {"roc": [false_pos / negatives, recall], "pr": [recall, precision]}


def curves(labels: np.ndarray, scores: Mapping[str, Mapping[str, np.ndarray]]) -> Dict[str, Any]:
    """Per model name: its ROC and PR curves and the served threshold's point on each (plain lists)."""
    labels = (np.asarray(labels).reshape(-1) > 0).astype(np.int64)
    result: Dict[str, Any] = {}
    for name, outputs in scores.items():
        entry: Dict[str, Any] = dict(_curve(labels, np.asarray(outputs["probability"], dtype=np.float64).reshape(-1)))
        entry["served"] = _served_point(labels, np.asarray(outputs["decision"]).reshape(-1))
        result[name] = entry
    return result
