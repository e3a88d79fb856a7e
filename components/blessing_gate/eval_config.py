"""The TFMA EvalConfig the gate expects from the TFX Evaluator.

Same metrics as the pipeline's first EvalConfig plus the issue's F1 and recall at a
fixed false-positive rate, with one change: the thresholds hold on the overall slice
only (`per_slice_thresholds` with the overall SlicingSpec). A `MetricConfig.threshold`
would apply to every slice, and a slice holding three positives would fail recall by
chance; the per-slice judgement, with its "too small to judge", is BlessingGate's job.

The serving signature returns `probability` (ranking metrics) and `decision` (the
0/1 cut at the tuned threshold): recall, precision, F1 and the confusion counts on
`decision` are therefore measured at the served threshold; TFMA's default 0.5 cut of
a 0/1 value reproduces it exactly.
"""

from __future__ import annotations

import json
from typing import Sequence

import tensorflow_model_analysis as tfma

from components.blessing_gate import spec
from components.blessing_gate.errors import GateConfigError
from components.blessing_gate.spec import BlessingGateParameters
from components.trainer.model import DECISION_OUTPUT, PROBABILITY_OUTPUT


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


def gate_eval_config(
    parameters: BlessingGateParameters,
    label_key: str,
    slice_feature_keys: Sequence[str],
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
      probability_output, decision_output: the serving signature's output names.
    """
    if not label_key:
        raise GateConfigError("gate_eval_config: label_key must not be empty")
    ranking = tfma.MetricsSpec(
        output_names=[probability_output],
        metrics=[
            tfma.MetricConfig(class_name="ExampleCount", config=json.dumps({"name": spec.EXAMPLE_COUNT})),
            _metric("AUC", spec.AUC, _overall_only(parameters.min_auc)),
            _metric("AUC", spec.PR_AUC, _overall_only(parameters.min_pr_auc, parameters.max_pr_auc_drop), curve="PR"),
            _metric("SensitivityAtSpecificity", spec.RECALL_AT_FPR, specificity=1.0 - parameters.recall_at_fpr),
        ],
    )
    at_served_threshold = tfma.MetricsSpec(
        output_names=[decision_output],
        metrics=[
            _metric("Recall", spec.RECALL, _overall_only(parameters.min_recall, parameters.max_recall_drop)),
            _metric("Precision", spec.PRECISION),
            _metric("F1Score", spec.F1),
            _metric("TruePositives", spec.TRUE_POSITIVES),
            _metric("FalsePositives", spec.FALSE_POSITIVES),
            _metric("TrueNegatives", spec.TRUE_NEGATIVES),
            _metric("FalseNegatives", spec.FALSE_NEGATIVES),
        ],
    )
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name="serving_default",
                label_keys={probability_output: label_key, decision_output: label_key},
                preprocessing_function_names=[],
            )
        ],
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[key]) for key in slice_feature_keys],
        metrics_specs=[ranking, at_served_threshold],
    )
