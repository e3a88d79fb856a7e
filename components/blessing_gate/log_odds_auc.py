"""ROC-AUC and PR-AUC for the Evaluator that stay exact when almost every score is near 0: TFMA metrics.

TFMA's `AUC` counts examples in `num_thresholds` (10,000) buckets spread evenly over [0, 1]. A
fraud model puts most rows below a probability of 1e-4 (over 90% of the credit-card eval split),
so they share bucket 0, and every positive in it ties with every negative there: TFMA reads the
ROC-AUC about 0.02 below scikit-learn's exact figure on the same probabilities (benchmarks/
RESULTS.md). More buckets help little, and explicit thresholds cost a Python loop per example and
threshold.

`LogOddsAUC` counts the positives and negatives (weighted as TFMA weighs them) per bucket of the
log-odds log(p / (1 - p)), `BUCKETS_PER_UNIT` buckets per unit between -`LOG_ODDS_LIMIT` and
+`LOG_ODDS_LIMIT` (beyond it, the two end buckets). The log-odds spread the small probabilities
out, so a bucket holds only scores within 1/BUCKETS_PER_UNIT of each other in log-odds (a factor
of 1.002 in odds); two scores in one bucket count as a tie (half a pair), as scikit-learn
counts equal scores. The accumulator keeps only the buckets in use, a few thousand on 57k rows.

`LogOddsAveragePrecision` reads average precision (scikit-learn's step-wise PR-AUC, the figure
the gate's paired rule judges) from the same counts, a bucket's scores counted as tied. Both take
TFMA's binarization (`class_id` sub-keys) and macro averaging, so the multiclass EvalConfig names
them where it named TFMA's `AUC` and `AUC(curve="PR")`; the binary one reads them, and the
confusion counts, from one combiner (`served_metrics`).
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Iterable, Optional, Tuple

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.proto import config_pb2

# Scores beyond these log-odds (probabilities below ~4e-18 or above 1 - 4e-18) share an end bucket.
LOG_ODDS_LIMIT = 40.0
BUCKETS_PER_UNIT = 500
NAME = "auc"
PR_AUC_NAME = "pr_auc"
ROC_AUC = "roc_auc"
AVERAGE_PRECISION = "average_precision"
_END_BUCKET = int(LOG_ODDS_LIMIT * BUCKETS_PER_UNIT)

# bucket -> [negative weight, positive weight]
Counts = Dict[int, list]


def log_odds_bucket(probability: float) -> int:
    """The bucket of one probability: floor(log-odds * BUCKETS_PER_UNIT), clipped to the end buckets."""
    if not probability > 0.0:  # 0 and NaN: the lowest bucket
        return -_END_BUCKET
    if probability >= 1.0:
        return _END_BUCKET
    log_odds = math.log(probability) - math.log1p(-probability)
    return max(-_END_BUCKET, min(_END_BUCKET, math.floor(log_odds * BUCKETS_PER_UNIT)))


def auc_from_counts(counts: Counts) -> float:
    """ROC-AUC of bucketed counts: the weighted share of (positive, negative) pairs ranked right, ties half."""
    negatives_below = 0.0
    ranked_right = 0.0
    total_negatives = total_positives = 0.0
    for bucket in sorted(counts):
        negatives, positives = counts[bucket]
        ranked_right += positives * (negatives_below + 0.5 * negatives)
        negatives_below += negatives
        total_negatives += negatives
        total_positives += positives
    if total_negatives <= 0.0 or total_positives <= 0.0:
        return float("nan")
    return ranked_right / (total_negatives * total_positives)


def _from_the_top(counts: Counts) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Buckets highest first: each one's positive weight, and the positive and negative weight at or above it."""
    ordered = np.array([counts[bucket] for bucket in sorted(counts, reverse=True)], dtype=np.float64).reshape(-1, 2)
    called = np.cumsum(ordered, axis=0)
    return ordered[:, 1], called[:, 1], called[:, 0]


def average_precision_from_counts(counts: Counts) -> float:
    """Σ over buckets holding positives, highest first, of (positives' share) × precision at that bucket."""
    positives, called_positive, called_negative = _from_the_top(counts)
    if not called_positive.size or called_positive[-1] <= 0.0:
        return float("nan")
    holding = positives > 0.0
    precision = called_positive[holding] / (called_positive[holding] + called_negative[holding])
    # One division at the end: every positive ranked first gives exactly 1.0 (a sum of shares can miss it by 1e-16).
    return float(min(1.0, np.sum(positives[holding] * precision) / called_positive[-1]))


def recall_at_fpr_from_counts(counts: Counts, false_positive_rate: float) -> float:
    """The largest recall at a bucket boundary where at most `false_positive_rate` of the negatives are called."""
    _, called_positive, called_negative = _from_the_top(counts)
    if not called_positive.size or called_positive[-1] <= 0.0 or called_negative[-1] <= 0.0:
        return float("nan")
    within = called_negative / called_negative[-1] <= false_positive_rate  # a prefix: the share only grows
    return float(called_positive[within][-1] / called_positive[-1]) if within.any() else 0.0


# What a metric reads from a slice's bucket counts, by the statistic its config names.
READINGS: Dict[str, Callable[[Counts], float]] = {
    ROC_AUC: auc_from_counts,
    AVERAGE_PRECISION: average_precision_from_counts,
}


def add_score(counts: Counts, label: float, probability: float, weight: float) -> None:
    """Adds one example's weight to its bucket, on the positive side when the label is above 0.5."""
    pair = counts.setdefault(log_odds_bucket(probability), [0.0, 0.0])
    pair[1 if label > 0.5 else 0] += weight


def merge_counts(into: Counts, other: Counts) -> None:
    """Adds `other`'s bucket weights to `into`."""
    for bucket, (negatives, positives) in other.items():
        pair = into.setdefault(bucket, [0.0, 0.0])
        pair[0] += negatives
        pair[1] += positives


def add_scores(counts: Counts, labels: np.ndarray, probabilities: np.ndarray, weights: np.ndarray) -> Counts:
    """Adds (label in {0, 1}, probability, weight) triples to `counts`; returns it."""
    labels, probabilities, weights = (np.ravel(array) for array in np.broadcast_arrays(labels, probabilities, weights))
    for label, probability, weight in zip(labels, probabilities, weights, strict=True):
        add_score(counts, float(label), float(probability), float(weight))
    return counts


class _LogOddsMetric(metric_types.Metric):
    """A metric read from per-log-odds-bucket counts; subclasses name the reading (`STATISTIC`)."""

    STATISTIC: str

    def __init__(self, name: str):
        super().__init__(metric_util.merge_per_key_computations(_log_odds_metric), name=name, statistic=self.STATISTIC)

    def get_config(self) -> Dict[str, str]:
        """What TFMA serializes to build the metric again: the name (the statistic is the class's)."""
        return {"name": self.name}


class LogOddsAUC(_LogOddsMetric):
    """ROC-AUC from per-log-odds-bucket counts (see the module doc); name `auc` unless told otherwise."""

    STATISTIC = ROC_AUC

    def __init__(self, name: str = NAME):
        super().__init__(name)


class LogOddsAveragePrecision(_LogOddsMetric):
    """PR-AUC as average precision from the same counts; name `pr_auc` unless told otherwise."""

    STATISTIC = AVERAGE_PRECISION

    def __init__(self, name: str = PR_AUC_NAME):
        super().__init__(name)


def _log_odds_metric(
    name: str,
    statistic: str,
    eval_config: Optional[config_pb2.EvalConfig] = None,
    model_name: str = "",
    output_name: str = "",
    sub_key: Optional[metric_types.SubKey] = None,
    aggregation_type: Optional[metric_types.AggregationType] = None,
    class_weights: Optional[Dict[int, float]] = None,
    example_weighted: bool = False,
) -> metric_types.MetricComputations:
    key = metric_types.MetricKey(
        name=name,
        model_name=model_name,
        output_name=output_name,
        sub_key=sub_key,
        example_weighted=example_weighted,
    )
    combiner = _LogOddsCombiner(
        key, READINGS[statistic], eval_config, aggregation_type, class_weights, example_weighted
    )
    return [metric_types.MetricComputation(keys=[key], preprocessors=None, combiner=combiner)]


class _LogOddsCombiner(beam.CombineFn):
    """Bucket counts per slice; the metric (`read`) is read from them once at the end."""

    def __init__(
        self,
        key: metric_types.MetricKey,
        read: Callable[[Counts], float],
        eval_config: Optional[config_pb2.EvalConfig],
        aggregation_type: Optional[metric_types.AggregationType],
        class_weights: Optional[Dict[int, float]],
        example_weighted: bool,
    ):
        self._key = key
        self._read = read
        self._eval_config = eval_config
        self._aggregation_type = aggregation_type
        self._class_weights = class_weights
        self._example_weighted = example_weighted

    def create_accumulator(self) -> Counts:
        return {}

    def add_input(self, accumulator: Counts, element: metric_types.StandardMetricInputs) -> Counts:
        triples: Iterable[Tuple[np.ndarray, np.ndarray, np.ndarray]] = metric_util.to_label_prediction_example_weight(
            element,
            eval_config=self._eval_config,
            model_name=self._key.model_name,
            output_name=self._key.output_name,
            sub_key=self._key.sub_key,
            aggregation_type=self._aggregation_type,
            class_weights=self._class_weights,
            example_weighted=self._example_weighted,
        )
        for label, prediction, weight in triples:
            if prediction.size == 1 and label.size == 1 and weight.size == 1:
                # One score (binary, or one class binarized): the common case, without add_scores' broadcasting.
                add_score(accumulator, float(label.item()), float(prediction.item()), float(weight.item()))
            else:
                add_scores(accumulator, label, prediction, weight)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[Counts]) -> Counts:
        accumulators = iter(accumulators)
        merged = next(accumulators)
        for other in accumulators:
            merge_counts(merged, other)
        return merged

    def extract_output(self, accumulator: Counts) -> Dict[metric_types.MetricKey, float]:
        return {self._key: self._read(accumulator)}
