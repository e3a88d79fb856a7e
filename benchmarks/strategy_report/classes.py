"""Per-class figures of a multiclass label's saved predictions, and how the strategies are ranked.

A multiclass model serves k probabilities (softmax) and one class, the argmax of the
probabilities times the per-class weights the Trainer tuned on `valid` (`decision_rule.py`).
So, per class c on eval, as the Evaluator and the gate judge them:
- recall and precision of the served class (c served / c actual; c actual / c served; 0 when
  undefined, as scikit-learn's zero_division=0);
- one-vs-rest PR-AUC (average precision) and ROC-AUC of the probability of c, which does not
  depend on the tuned weights;
- macro averages over the classes, and over the protected classes the lowest recall and PR-AUC
  and the mean PR-AUC, which ranks the strategies: the gate judges each protected class, so a
  strategy is as good as its rare classes are separable.
numpy only (the ranking functions of `metrics.py`), so the tests check every figure against scikit-learn.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from benchmarks.strategy_report.metrics import average_precision, curves, metrics_at_threshold, roc_auc

RANKING_METRIC = "mean PR-AUC of the protected classes"
MACRO_KEYS = ("recall", "precision", "f1", "pr_auc", "roc_auc")


def mean_of_defined(values: Sequence[Optional[float]]) -> Optional[float]:
    """The mean of the defined values (a class absent from a slice has no PR-AUC); None if none is."""
    defined = [value for value in values if value is not None]
    return float(np.mean(defined)) if defined else None


def class_figures(labels: np.ndarray, probabilities: np.ndarray, served: np.ndarray, index: int) -> Dict[str, Any]:
    """Rows, served rows, counts, recall/precision/F1 of the served class and one-vs-rest AUCs of class `index`."""
    actual = labels == index
    figures = metrics_at_threshold(actual, served == index)
    figures.pop("tn")
    return {
        "rows": int(actual.sum()),
        "served": int(np.sum(served == index)),
        **figures,
        "pr_auc": average_precision(actual, probabilities[:, index]),
        "roc_auc": roc_auc(actual, probabilities[:, index]),
    }


def class_metrics(
    labels: np.ndarray,
    probabilities: np.ndarray,
    served: np.ndarray,
    class_names: Sequence[str],
    protected: Sequence[int],
) -> Dict[str, Any]:
    """Every class's figures, the macro averages, the protected classes' summary and the confusion matrix."""
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    served = np.asarray(served).reshape(-1).astype(np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(labels.size, len(class_names))
    per_class = {
        name: {"class": index, "protected": index in protected, **class_figures(labels, probabilities, served, index)}
        for index, name in enumerate(class_names)
    }
    guarded = [per_class[class_names[index]] for index in protected]
    k = len(class_names)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (labels, served), 1)
    return {
        "rows": int(labels.size),
        "accuracy": float(np.mean(labels == served)) if labels.size else 0.0,
        "classes": per_class,
        "macro": {key: mean_of_defined([figures[key] for figures in per_class.values()]) for key in MACRO_KEYS},
        "protected": {
            "classes": [class_names[index] for index in protected],
            # Over the protected classes with rows here (a slice may have none of one).
            "min_recall": min((f["recall"] for f in guarded if f["rows"]), default=None),
            "mean_recall": mean_of_defined([f["recall"] for f in guarded if f["rows"]]),
            "min_pr_auc": min((f["pr_auc"] for f in guarded if f["pr_auc"] is not None), default=None),
            "mean_pr_auc": mean_of_defined([figures["pr_auc"] for figures in guarded]),
        },
        "confusion_matrix": confusion.tolist(),
    }


def evaluate_multiclass(
    predictions: Mapping[str, np.ndarray],
    slice_keys: Sequence[str],
    class_names: Sequence[str],
    protected: Sequence[int],
) -> Dict[str, Any]:
    """Overall and per-slice figures of one strategy's saved eval predictions, and a PR and ROC curve per class."""
    labels, probabilities, served = predictions["labels"], predictions["probabilities"], predictions["decisions"]
    overall = class_metrics(labels, probabilities, served, class_names, protected)
    slices: Dict[str, Dict[str, Any]] = {}
    for key in slice_keys:
        values = predictions[f"slice_{key}"]
        slices[key] = {
            str(value): class_metrics(
                labels[values == value], probabilities[values == value], served[values == value], class_names, protected
            )
            for value in sorted(set(values.tolist()))
        }
    per_class_curves = {
        name: curves(np.asarray(labels) == index, np.asarray(probabilities)[:, index])
        for index, name in enumerate(class_names)
    }
    return {"overall": overall, "slices": slices, "curves": per_class_curves}


def ranking(results: Mapping[str, Mapping[str, Any]]) -> List[str]:
    """Strategy names, best first by RANKING_METRIC, then by the lowest protected recall."""
    return sorted(
        results,
        key=lambda name: (
            -(results[name]["overall"]["protected"]["mean_pr_auc"] or 0.0),
            -(results[name]["overall"]["protected"]["min_recall"] or 0.0),
        ),
    )
