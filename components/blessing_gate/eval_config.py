"""The TFMA EvalConfig the gate expects from the TFX Evaluator.

Same metrics as the pipeline's first EvalConfig plus the issue's F1 and recall at a
fixed false-positive rate, with one change: the thresholds hold on the overall slice
only (`per_slice_thresholds` with the overall SlicingSpec). A `MetricConfig.threshold`
would apply to every slice, and a slice holding three positives would fail recall by
chance; the per-slice judgement, with its "too small to judge", is BlessingGate's job.

A binary model's metrics are all `served_metrics.ServedMetric`s in one MetricsSpec without output
names: one combiner per model reads the label, `probability` and `decision` of each example once
and every metric is derived from its counts per slice, where TFMA's own metrics would each look the
example up again (most of the Evaluator's time). ROC-AUC is counted per log-odds bucket (TFMA's
`AUC` puts most of a rare-class model's scores in its first bucket and reads it low), PR-AUC is
average precision, the figure the gate's paired rule judges.

The serving signature returns `probability` (ranking metrics) and `decision` (the
0/1 cut at the tuned threshold): recall, precision, F1 and the confusion counts on
`decision` are therefore measured at the served threshold.

Multiclass (`class_names` given; issue #15) uses TFMA's metrics with its binarization, ROC-AUC
and PR-AUC (average precision, as in binary) from `log_odds_auc`; it reads two
outputs of the multiclass signature, both labelled with the class index (`ModelSpec.label_keys`
per output):
- `probabilities` [batch, k], binarized one-vs-rest per class (`BinarizationOptions.class_ids`,
  metric sub-key `class_id`): ROC-AUC and PR-AUC per class, and their macro averages over all
  classes (`AggregationOptions(macro_average=True)` with unit class weights, key `macro_auc`...);
- `decision_scores` [batch, k], whose argmax is the served class: per class (`class_id`) recall,
  precision and the four confusion counts with `top_k=1` in each metric's config. TFMA then keeps
  a class's score only where it is the row's largest (the rest become -inf) and cuts at -inf, so
  "predicted class c" is exactly "c is the served class"; and the served class's multiclass
  confusion matrix (`MultiClassConfusionMatrixAtThresholds` at threshold 0: every row has a
  largest score >= 1/k, so no row goes unpredicted).
Macro recall and precision at the served class are not asked of TFMA: in 0.47 its macro
aggregation looks each class up without the metric's `top_k` (a KeyError on `_recall` with
`class_id=0`, tried), so the gate averages TFMA's per-class values itself (`multiclass`).
TFMA applies a threshold to every sub-key of its MetricsSpec, so the protected classes get a spec
of their own carrying the overall-slice thresholds (AUC, PR-AUC and its drop), and the other
classes one without. Recall carries no TFMA threshold in multiclass: TFMA 0.47 looks a threshold's
metric up by the spec's sub-key without the metric's `top_k`, finds nothing and fails validation
on every slice ("Metric not found", tried), so the Evaluator could never bless; recall and its
drop per protected class are judged by the gate alone.
"""

from __future__ import annotations

import json
from typing import Sequence

import tensorflow_model_analysis as tfma

from components.blessing_gate import log_odds_auc, served_metrics, spec
from components.blessing_gate.errors import GateConfigError
from components.blessing_gate.spec import BlessingGateParameters
from components.trainer.serving import DECISION_OUTPUT, PROBABILITY_OUTPUT


def _overall_only(lower_bound: float, max_drop: float | None = None) -> tfma.PerSliceMetricThreshold:
    """A threshold on the overall slice: a minimum, and optionally a largest drop against the baseline."""
    threshold = tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(lower_bound={"value": lower_bound}))
    if max_drop is not None:
        threshold.change_threshold.CopyFrom(
            tfma.GenericChangeThreshold(direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -max_drop})
        )
    return tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)


def _metric(class_name: str, name: str, *thresholds: tfma.PerSliceMetricThreshold, **settings) -> tfma.MetricConfig:
    return tfma.MetricConfig(
        class_name=class_name,
        config=json.dumps({"name": name, **settings}, sort_keys=True),
        per_slice_thresholds=list(thresholds),
    )


def _log_odds(metric: type, name: str, *thresholds: tfma.PerSliceMetricThreshold) -> tfma.MetricConfig:
    """ROC-AUC or PR-AUC as `log_odds_auc` computes them: exact where TFMA's `AUC` ties most scores."""
    config = _metric(metric.__name__, name, *thresholds)
    config.module = log_odds_auc.__name__
    return config


def _multiclass_specs(parameters: BlessingGateParameters, classes: int, protected: Sequence[int]) -> list:
    """The MetricsSpecs of a k-class model (see the module doc): TFMA's thresholds on the protected classes only."""
    every = list(range(classes))
    unprotected = [index for index in every if index not in protected]

    def ranking(class_ids: Sequence[int], thresholded: bool) -> tfma.MetricsSpec:
        auc = _overall_only(parameters.min_auc)
        pr_auc = _overall_only(parameters.min_pr_auc, parameters.max_pr_auc_drop)
        return tfma.MetricsSpec(
            output_names=[spec.PROBABILITIES_OUTPUT],
            binarize=tfma.BinarizationOptions(class_ids={"values": list(class_ids)}),
            metrics=[
                _log_odds(log_odds_auc.LogOddsAUC, spec.AUC, *([auc] if thresholded else [])),
                _log_odds(log_odds_auc.LogOddsAveragePrecision, spec.PR_AUC, *([pr_auc] if thresholded else [])),
            ],
        )

    def served(class_ids: Sequence[int]) -> tfma.MetricsSpec:
        names = (
            ("Recall", spec.RECALL),
            ("Precision", spec.PRECISION),
            ("TruePositives", spec.TRUE_POSITIVES),
            ("FalsePositives", spec.FALSE_POSITIVES),
            ("TrueNegatives", spec.TRUE_NEGATIVES),
            ("FalseNegatives", spec.FALSE_NEGATIVES),
        )
        return tfma.MetricsSpec(
            output_names=[spec.DECISION_SCORES_OUTPUT],
            binarize=tfma.BinarizationOptions(class_ids={"values": list(class_ids)}),
            metrics=[_metric(class_name, name, top_k=1) for class_name, name in names],
        )

    specs = [
        tfma.MetricsSpec(
            output_names=[spec.PROBABILITIES_OUTPUT],
            metrics=[tfma.MetricConfig(class_name="ExampleCount", config=json.dumps({"name": spec.EXAMPLE_COUNT}))],
        ),
        tfma.MetricsSpec(
            output_names=[spec.DECISION_SCORES_OUTPUT],
            metrics=[_metric("MultiClassConfusionMatrixAtThresholds", spec.CONFUSION_MATRIX, thresholds=[0.0])],
        ),
        ranking(protected, thresholded=True),
        served(every),
        tfma.MetricsSpec(
            output_names=[spec.PROBABILITIES_OUTPUT],
            aggregate=tfma.AggregationOptions(macro_average=True, class_weights={index: 1.0 for index in every}),
            metrics=[
                _log_odds(log_odds_auc.LogOddsAUC, spec.MACRO_PREFIX + spec.AUC),
                _log_odds(log_odds_auc.LogOddsAveragePrecision, spec.MACRO_PREFIX + spec.PR_AUC),
            ],
        ),
    ]
    if unprotected:
        specs.append(ranking(unprotected, thresholded=False))
    return specs


def gate_eval_config(
    parameters: BlessingGateParameters,
    label_key: str,
    slice_feature_keys: Sequence[str],
    class_names: Sequence[str] = (),
    protected_classes: Sequence[int] = (),
    *,
    probability_output: str = PROBABILITY_OUTPUT,
    decision_output: str = DECISION_OUTPUT,
) -> tfma.EvalConfig:
    """EvalConfig for the TFX Evaluator in front of BlessingGate.

    Args:
      parameters: the gate's settings, the very object BlessingGate gets (TFMA holds the overall-slice
        thresholds; change thresholds are dropped by the Evaluator on the first run, when there is no
        baseline); `recall_at_fpr` is the false-positive rate at which `recall_at_fpr` is reported (not judged).
      label_key: the label feature.
      slice_feature_keys: one slicing spec per feature, besides the overall slice.
      class_names: every class in class-index order; empty (the default) for a binary label.
      protected_classes: with `class_names`, the indices of the classes the gate protects (at least one):
        TFMA's own thresholds hold on these, on the overall slice.
      probability_output, decision_output: the binary serving signature's output names.
    """
    if not label_key:
        raise GateConfigError("gate_eval_config: label_key must not be empty")
    names, protected = spec.check_classes(class_names, protected_classes)
    slicing_specs = [tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[key]) for key in slice_feature_keys]
    if names:
        return tfma.EvalConfig(
            model_specs=[
                tfma.ModelSpec(
                    signature_name="serving_default",
                    label_keys={spec.PROBABILITIES_OUTPUT: label_key, spec.DECISION_SCORES_OUTPUT: label_key},
                    preprocessing_function_names=[],
                )
            ],
            slicing_specs=slicing_specs,
            metrics_specs=_multiclass_specs(parameters, len(names), protected),
        )
    outputs = {"probability_output": probability_output, "decision_output": decision_output}

    def served(name: str, statistic: str, *thresholds: tfma.PerSliceMetricThreshold, **settings) -> tfma.MetricConfig:
        config = _metric(
            served_metrics.ServedMetric.__name__, name, *thresholds, statistic=statistic, **outputs, **settings
        )
        config.module = served_metrics.__name__
        return config

    served_threshold = (
        served(spec.RECALL, served_metrics.RECALL, _overall_only(parameters.min_recall, parameters.max_recall_drop)),
        served(spec.PRECISION, served_metrics.PRECISION),
        served(spec.F1, served_metrics.F1),
        served(spec.TRUE_POSITIVES, served_metrics.TRUE_POSITIVES),
        served(spec.FALSE_POSITIVES, served_metrics.FALSE_POSITIVES),
        served(spec.TRUE_NEGATIVES, served_metrics.TRUE_NEGATIVES),
        served(spec.FALSE_NEGATIVES, served_metrics.FALSE_NEGATIVES),
    )
    # No output_names: ServedMetric reads both served outputs of an example itself (`served_metrics`).
    binary = tfma.MetricsSpec(
        metrics=[
            served(spec.EXAMPLE_COUNT, served_metrics.EXAMPLE_COUNT),
            served(spec.AUC, served_metrics.ROC_AUC, _overall_only(parameters.min_auc)),
            served(
                spec.PR_AUC,
                served_metrics.AVERAGE_PRECISION,
                _overall_only(parameters.min_pr_auc, parameters.max_pr_auc_drop),
            ),
            served(spec.RECALL_AT_FPR, served_metrics.RECALL_AT_FPR, false_positive_rate=parameters.recall_at_fpr),
            *served_threshold,
        ]
    )
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name="serving_default",
                label_keys={probability_output: label_key, decision_output: label_key},
                preprocessing_function_names=[],
            )
        ],
        slicing_specs=slicing_specs,
        metrics_specs=[binary],
    )
