"""The Evaluator's EvalConfig: thresholds on the overall slice only, every metric the gate reads."""

import dataclasses
import json

import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_specs

from components.blessing_gate import served_metrics, spec
from components.blessing_gate.eval_config import gate_eval_config
from components.blessing_gate.judge import REQUIRED_METRICS
from components.blessing_gate.served_metrics import ServedMetric
from components.blessing_gate.spec import BlessingGateParameters

PARAMETERS = BlessingGateParameters(
    min_auc=0.9, min_pr_auc=0.5, min_recall=0.7, min_slice_positives=10, max_pr_auc_drop=0.02, max_recall_drop=0.05
)


def _metrics(config):
    return {
        json.loads(metric.config)["name"]: (tuple(metrics_spec.output_names), metric)
        for metrics_spec in config.metrics_specs
        for metric in metrics_spec.metrics
    }


def test_thresholds_hold_on_the_overall_slice_only():
    config = gate_eval_config(PARAMETERS, "Class", ["hour_band", "amount_bucket"])
    metrics = _metrics(config)
    for _, metric in metrics.values():
        assert not metric.HasField("threshold"), "a MetricConfig.threshold would apply to every slice"
        for per_slice in metric.per_slice_thresholds:
            assert list(per_slice.slicing_specs) == [tfma.SlicingSpec()]
    thresholded = {name for name, (_, metric) in metrics.items() if metric.per_slice_thresholds}
    assert thresholded == {spec.AUC, spec.PR_AUC, spec.RECALL}
    recall = metrics[spec.RECALL][1].per_slice_thresholds[0].threshold
    assert recall.value_threshold.lower_bound.value == pytest.approx(0.7)
    assert recall.change_threshold.absolute.value == pytest.approx(-0.05)
    assert recall.change_threshold.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    pr_auc = metrics[spec.PR_AUC][1].per_slice_thresholds[0].threshold
    assert pr_auc.change_threshold.absolute.value == pytest.approx(-0.02)
    assert not metrics[spec.AUC][1].per_slice_thresholds[0].threshold.HasField("change_threshold")
    # The Evaluator validates (and so writes a blessing) only when TFMA finds thresholds.
    assert tfma.metrics.metric_thresholds_from_metrics_specs(config.metrics_specs, eval_config=config)


def test_metrics_outputs_and_slices():
    parameters = dataclasses.replace(PARAMETERS, recall_at_fpr=0.01)
    config = gate_eval_config(parameters, "Class", ["hour_band", "amount_bucket"])
    metrics = _metrics(config)
    assert set(REQUIRED_METRICS) <= set(metrics)
    # One spec without outputs: ServedMetric reads probability and decision itself.
    assert [tuple(metrics_spec.output_names) for metrics_spec in config.metrics_specs] == [()]
    statistics = {name: json.loads(metric.config)["statistic"] for name, (_, metric) in metrics.items()}
    assert statistics == {
        spec.EXAMPLE_COUNT: served_metrics.EXAMPLE_COUNT,
        spec.AUC: served_metrics.ROC_AUC,
        spec.PR_AUC: served_metrics.AVERAGE_PRECISION,
        spec.RECALL_AT_FPR: served_metrics.RECALL_AT_FPR,
        spec.RECALL: served_metrics.RECALL,
        spec.PRECISION: served_metrics.PRECISION,
        spec.F1: served_metrics.F1,
        spec.TRUE_POSITIVES: served_metrics.TRUE_POSITIVES,
        spec.FALSE_POSITIVES: served_metrics.FALSE_POSITIVES,
        spec.TRUE_NEGATIVES: served_metrics.TRUE_NEGATIVES,
        spec.FALSE_NEGATIVES: served_metrics.FALSE_NEGATIVES,
    }
    assert json.loads(metrics[spec.RECALL_AT_FPR][1].config)["false_positive_rate"] == pytest.approx(0.01)
    assert json.loads(metrics[spec.RECALL][1].config)["decision_output"] == "decision"
    assert dict(config.model_specs[0].label_keys) == {"probability": "Class", "decision": "Class"}
    assert [list(slicing.feature_keys) for slicing in config.slicing_specs] == [[], ["hour_band"], ["amount_bucket"]]


def test_every_binary_metric_is_a_served_metric_that_tfma_can_build():
    config = gate_eval_config(PARAMETERS, "Class", ["hour_band"])
    for name, (_, metric) in _metrics(config).items():
        assert (metric.class_name, metric.module) == ("ServedMetric", "components.blessing_gate.served_metrics")
        # What the Evaluator does with the config: import the module and build the metric from it.
        built = metric_specs.metric_instance(metric)
        assert isinstance(built, ServedMetric) and built.name == name
