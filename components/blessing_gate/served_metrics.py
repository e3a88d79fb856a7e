"""Every metric the binary gate reads, from one pass of one TFMA combiner: `ServedMetric`.

TFMA runs each stock metric as its own combiner, and each combiner looks the label, prediction and
weight of every example up again, per slice and per model (`metric_util.
to_label_prediction_example_weight`, a generic Python path that also handles class ids, top-k and
label vocabularies). With eleven metrics over two outputs that bookkeeping, not the arithmetic,
is most of the Evaluator's time (benchmarks/RESULTS.md).

Here one combiner per model reads the example's label, `probability` and `decision` directly and
keeps two things per slice:
- the positives' and negatives' weights per log-odds bucket of the probability (`log_odds_auc`),
  from which ROC-AUC, PR-AUC and recall at a false-positive rate are read once per slice;
- the confusion counts of the served `decision` (called positive at 0.5 and above, as TFMA cuts it).

Each MetricConfig names one `ServedMetric` (its `statistic`), so TFMA's thresholds, its change
thresholds against a baseline and its validation work on them as on its own metrics; TFMA computes
the shared counts once per model because their computations are equal (same combiner, same key).

PR-AUC is average precision (the step-wise area, scikit-learn's `average_precision_score`), the
figure the gate's paired regression rule and the strategy report use, with the scores of one
log-odds bucket counted as tied. Recall at a false-positive rate is the largest recall over the
bucket boundaries at which the negatives called positive are at most that share, as TFMA's
`SensitivityAtSpecificity` defines it.

Binary only: the multiclass EvalConfig binarizes per class with TFMA's sub-keys and uses TFMA's
confusion metrics and `log_odds_auc`'s ROC-AUC and average precision (`eval_config`).
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types
from tensorflow_model_analysis.proto import config_pb2

from components.blessing_gate import spec
from components.blessing_gate.log_odds_auc import (
    AVERAGE_PRECISION,
    ROC_AUC,
    Counts,
    add_score,
    auc_from_counts,
    average_precision_from_counts,
    merge_counts,
    recall_at_fpr_from_counts,
)

EXAMPLE_COUNT = "example_count"
RECALL_AT_FPR = "recall_at_fpr"
RECALL = "recall"
PRECISION = "precision"
F1 = "f1"
TRUE_POSITIVES = "true_positives"
FALSE_POSITIVES = "false_positives"
TRUE_NEGATIVES = "true_negatives"
FALSE_NEGATIVES = "false_negatives"
STATISTICS = (
    EXAMPLE_COUNT,
    ROC_AUC,
    AVERAGE_PRECISION,
    RECALL_AT_FPR,
    RECALL,
    PRECISION,
    F1,
    TRUE_POSITIVES,
    FALSE_POSITIVES,
    TRUE_NEGATIVES,
    FALSE_NEGATIVES,
)
# The name of the shared counts' key: not a metric anyone reads (TFMA does not write keys without a derived result).
_COUNTS_NAME = "_served_counts"
# The gate's own default, for a ServedMetric built by hand (gate_eval_config always passes the setting).
_DEFAULT_FPR = spec.BlessingGateParameters().recall_at_fpr


class ServedCounts:
    """One slice's counts: bucket -> [negative weight, positive weight], and the decision's confusion counts."""

    __slots__ = ("buckets", "true_positives", "false_positives", "true_negatives", "false_negatives", "examples")

    def __init__(self) -> None:
        self.buckets: Counts = {}
        self.true_positives = self.false_positives = self.true_negatives = self.false_negatives = 0.0
        self.examples = 0.0

    def add(self, label: float, probability: float, decision: float, weight: float) -> None:
        add_score(self.buckets, label, probability, weight)
        self.examples += weight
        if label > 0.5:
            if decision >= 0.5:
                self.true_positives += weight
            else:
                self.false_negatives += weight
        else:
            if decision >= 0.5:
                self.false_positives += weight
            else:
                self.true_negatives += weight

    def merge(self, other: ServedCounts) -> None:
        merge_counts(self.buckets, other.buckets)
        self.true_positives += other.true_positives
        self.false_positives += other.false_positives
        self.true_negatives += other.true_negatives
        self.false_negatives += other.false_negatives
        self.examples += other.examples

    def __getstate__(self):
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            setattr(self, name, value)


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is not positive (as TFMA's confusion metrics)."""
    return numerator / denominator if denominator > 0 else float("nan")


def statistic(counts: ServedCounts, name: str, false_positive_rate: float = _DEFAULT_FPR) -> float:
    """One of `STATISTICS` from a slice's counts."""
    tp, fp, tn, fn = counts.true_positives, counts.false_positives, counts.true_negatives, counts.false_negatives
    values = {
        EXAMPLE_COUNT: lambda: counts.examples,
        ROC_AUC: lambda: auc_from_counts(counts.buckets),
        AVERAGE_PRECISION: lambda: average_precision_from_counts(counts.buckets),
        RECALL_AT_FPR: lambda: recall_at_fpr_from_counts(counts.buckets, false_positive_rate),
        RECALL: lambda: _ratio(tp, tp + fn),
        PRECISION: lambda: _ratio(tp, tp + fp),
        F1: lambda: _ratio(2.0 * tp, 2.0 * tp + fp + fn),
        TRUE_POSITIVES: lambda: tp,
        FALSE_POSITIVES: lambda: fp,
        TRUE_NEGATIVES: lambda: tn,
        FALSE_NEGATIVES: lambda: fn,
    }
    if name not in values:
        raise ValueError(f"ServedMetric: unknown statistic {name!r}; one of {', '.join(STATISTICS)}")
    return float(values[name]())


class ServedMetric(metric_types.Metric):
    """One statistic of the served outputs (see the module doc), e.g. `{"name": "recall", "statistic": "recall"}`."""

    def __init__(
        self,
        name: str = spec.RECALL,
        statistic: str = RECALL,
        probability_output: str = "probability",
        decision_output: str = "decision",
        false_positive_rate: float = _DEFAULT_FPR,
    ):
        if statistic not in STATISTICS:
            raise ValueError(f"ServedMetric {name!r}: unknown statistic {statistic!r}; one of {', '.join(STATISTICS)}")
        if not 0.0 < false_positive_rate < 1.0:
            raise ValueError(f"ServedMetric {name!r}: false_positive_rate must be in (0, 1), got {false_positive_rate}")
        super().__init__(
            _served_metric,
            name=name,
            statistic=statistic,
            probability_output=probability_output,
            decision_output=decision_output,
            false_positive_rate=false_positive_rate,
        )


def _served_metric(
    name: str,
    statistic: str,
    probability_output: str,
    decision_output: str,
    false_positive_rate: float,
    eval_config: Optional[config_pb2.EvalConfig] = None,
    model_names: Optional[List[str]] = None,
    output_names: Optional[List[str]] = None,
    sub_keys: Optional[List[Optional[metric_types.SubKey]]] = None,
    example_weighted: bool = False,
) -> metric_types.MetricComputations:
    """Per model: the shared counts (deduplicated by TFMA across metrics) and this metric derived from them."""
    if any(output for output in output_names or [""]) or any(key is not None for key in sub_keys or [None]):
        raise ValueError(
            f"ServedMetric {name!r} reads the served outputs itself: give its MetricsSpec no output_names and no "
            "binarization"
        )
    computations: metric_types.MetricComputations = []
    for model_name in model_names or [""]:
        counts_key = metric_types.MetricKey(name=_COUNTS_NAME, model_name=model_name, example_weighted=example_weighted)
        key = metric_types.MetricKey(name=name, model_name=model_name, example_weighted=example_weighted)
        computations.append(
            metric_types.MetricComputation(
                keys=[counts_key],
                preprocessors=None,
                combiner=_ServedCountsCombiner(
                    counts_key, (probability_output, decision_output), _is_multi_model(eval_config)
                ),
            )
        )
        computations.append(
            metric_types.DerivedMetricComputation(
                keys=[key], result=_Derive(key, counts_key, statistic, false_positive_rate)
            )
        )
    return computations


def _is_multi_model(eval_config: Optional[config_pb2.EvalConfig]) -> bool:
    """TFMA keys predictions (and labels) by model name only when the EvalConfig has more than one model."""
    return eval_config is not None and len(eval_config.model_specs) > 1


class _Derive:
    """A derived computation's result function: reads one statistic from the slice's counts."""

    def __init__(self, key: metric_types.MetricKey, counts_key: metric_types.MetricKey, name: str, fpr: float):
        self._key, self._counts_key, self._name, self._fpr = key, counts_key, name, fpr

    def __call__(self, metrics: Mapping[metric_types.MetricKey, Any]) -> Dict[metric_types.MetricKey, float]:
        return {self._key: statistic(metrics[self._counts_key], self._name, self._fpr)}


def _value(values: Any, key: str) -> Any:
    """values[key] where `values` is a mapping holding it; `values` itself otherwise (TFMA keys labels optionally)."""
    if isinstance(values, Mapping) and key in values:
        return values[key]
    return values


def _scalar(value: Any, what: str) -> float:
    array = np.asarray(value)
    if array.size != 1:
        raise ValueError(f"ServedMetric: {what} must be one value per example, got shape {array.shape}")
    return float(array.reshape(-1)[0])


class _ServedCountsCombiner(beam.CombineFn):
    """Per slice and model: `ServedCounts` of every example."""

    def __init__(self, key: metric_types.MetricKey, outputs: Tuple[str, str], multi_model: bool):
        """`key` names the model and whether examples are weighted; `outputs` are (probability, decision)."""
        self._key = key
        self._probability_output, self._decision_output = outputs
        self._multi_model = multi_model

    def create_accumulator(self) -> ServedCounts:
        return ServedCounts()

    def add_input(self, accumulator: ServedCounts, element: metric_types.StandardMetricInputs) -> ServedCounts:
        model = self._key.model_name
        predictions = element.prediction[model] if self._multi_model else element.prediction
        label = element.label
        if self._multi_model:
            label = _value(label, model)
        label = _value(label, self._probability_output)
        weight = 1.0
        if self._key.example_weighted and element.example_weight is not None:
            weight = _value(element.example_weight, model) if self._multi_model else element.example_weight
            weight = _scalar(_value(weight, self._probability_output), "the example weight")
        accumulator.add(
            _scalar(label, "the label"),
            _scalar(self._output(predictions, self._probability_output), f"output {self._probability_output!r}"),
            _scalar(self._output(predictions, self._decision_output), f"output {self._decision_output!r}"),
            weight,
        )
        return accumulator

    def _output(self, predictions: Any, name: str) -> Any:
        if not isinstance(predictions, Mapping) or name not in predictions:
            found = sorted(predictions) if isinstance(predictions, Mapping) else "one unnamed output"
            where = f"the {self._key.model_name} model" if self._key.model_name else "the model"
            raise ValueError(
                f"ServedMetric: {where} serves no output {name!r} (it serves {found}); the binary gate needs the "
                "Trainer's serving signature, with outputs probability and decision"
            )
        return predictions[name]

    def merge_accumulators(self, accumulators: Iterable[ServedCounts]) -> ServedCounts:
        accumulators = iter(accumulators)
        merged = next(accumulators)
        for other in accumulators:
            merged.merge(other)
        return merged

    def extract_output(self, accumulator: ServedCounts) -> Dict[metric_types.MetricKey, ServedCounts]:
        return {self._key: accumulator}
