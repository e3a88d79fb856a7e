"""The Evaluator's EvalConfig: thresholds on the overall slice only, every metric the gate reads."""

import dataclasses
import json

import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_specs

from components.blessing_gate import spec
from components.blessing_gate.eval_config import gate_eval_config
from components.blessing_gate.judge import REQUIRED_METRICS
from components.blessing_gate.log_odds_auc import LogOddsAUC
from components.blessing_gate.spec import BlessingGateParameters

PARAMETERS = BlessingGateParameters(
    min_auc=0.9, min_pr_auc=0.5, min_recall=0.7, min_slice_positives=10, max_pr_auc_drop=0.02, max_recall_drop=0.05
)


def _metrics(config):
    return {
        json.loads(metric.config)["name"]: (metrics_spec.output_names[0], metric)
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
    assert {name for name, (output, _) in metrics.items() if output == "decision"} == {
        spec.RECALL,
        spec.PRECISION,
        spec.F1,
        spec.TRUE_POSITIVES,
        spec.FALSE_POSITIVES,
        spec.TRUE_NEGATIVES,
        spec.FALSE_NEGATIVES,
    }
    assert json.loads(metrics[spec.RECALL_AT_FPR][1].config)["specificity"] == pytest.approx(0.99)
    assert dict(config.model_specs[0].label_keys) == {"probability": "Class", "decision": "Class"}
    assert [list(slicing.feature_keys) for slicing in config.slicing_specs] == [[], ["hour_band"], ["amount_bucket"]]


def test_roc_auc_is_the_log_odds_metric_and_tfma_can_build_it():
    config = gate_eval_config(PARAMETERS, "Class", ["hour_band"])
    _, auc = _metrics(config)[spec.AUC]
    assert (auc.class_name, auc.module) == ("LogOddsAUC", "components.blessing_gate.log_odds_auc")
    # What the Evaluator does with the config: import the module and build the metric from it.
    metric = metric_specs.metric_instance(auc)
    assert isinstance(metric, LogOddsAUC) and metric.name == spec.AUC
