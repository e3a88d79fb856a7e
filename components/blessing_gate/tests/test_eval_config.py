"""The Evaluator's EvalConfig: thresholds on the overall slice only, every metric the gate reads."""

import json

import pytest
import tensorflow_model_analysis as tfma

from components.blessing_gate import keys
from components.blessing_gate.eval_config import gate_eval_config
from components.blessing_gate.judge import REQUIRED_METRICS, GateConfigError, GateThresholds

THRESHOLDS = GateThresholds(
    min_auc=0.9, min_pr_auc=0.5, min_recall=0.7, min_slice_positives=10, max_pr_auc_drop=0.02, max_recall_drop=0.05
)


def _metrics(config):
    return {
        json.loads(metric.config)["name"]: (spec.output_names[0], metric)
        for spec in config.metrics_specs
        for metric in spec.metrics
    }


def test_thresholds_hold_on_the_overall_slice_only():
    config = gate_eval_config(THRESHOLDS, "Class", ["hour_band", "amount_bucket"])
    metrics = _metrics(config)
    for _, metric in metrics.values():
        assert not metric.HasField("threshold"), "a MetricConfig.threshold would apply to every slice"
        for per_slice in metric.per_slice_thresholds:
            assert list(per_slice.slicing_specs) == [tfma.SlicingSpec()]
    thresholded = {name for name, (_, metric) in metrics.items() if metric.per_slice_thresholds}
    assert thresholded == {keys.AUC, keys.PR_AUC, keys.RECALL}
    recall = metrics[keys.RECALL][1].per_slice_thresholds[0].threshold
    assert recall.value_threshold.lower_bound.value == pytest.approx(0.7)
    assert recall.change_threshold.absolute.value == pytest.approx(-0.05)
    assert recall.change_threshold.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    pr_auc = metrics[keys.PR_AUC][1].per_slice_thresholds[0].threshold
    assert pr_auc.change_threshold.absolute.value == pytest.approx(-0.02)
    assert not metrics[keys.AUC][1].per_slice_thresholds[0].threshold.HasField("change_threshold")
    # The Evaluator validates (and so writes a blessing) only when TFMA finds thresholds.
    assert tfma.metrics.metric_thresholds_from_metrics_specs(config.metrics_specs, eval_config=config)


def test_metrics_outputs_and_slices():
    config = gate_eval_config(THRESHOLDS, "Class", ["hour_band", "amount_bucket"], recall_at_fpr=0.01)
    metrics = _metrics(config)
    assert set(REQUIRED_METRICS) <= set(metrics)
    assert {name for name, (output, _) in metrics.items() if output == "decision"} == {
        keys.RECALL,
        keys.PRECISION,
        keys.F1,
        keys.TRUE_POSITIVES,
        keys.FALSE_POSITIVES,
        keys.TRUE_NEGATIVES,
        keys.FALSE_NEGATIVES,
    }
    assert json.loads(metrics[keys.RECALL_AT_FPR][1].config)["specificity"] == pytest.approx(0.99)
    assert dict(config.model_specs[0].label_keys) == {"probability": "Class", "decision": "Class"}
    assert [list(spec.feature_keys) for spec in config.slicing_specs] == [[], ["hour_band"], ["amount_bucket"]]


@pytest.mark.parametrize("rate", [0.0, 1.0, -0.5])
def test_recall_at_fpr_must_be_a_rate(rate):
    with pytest.raises(GateConfigError, match=f"recall_at_fpr must be in \\(0, 1\\), got {rate!r}"):
        gate_eval_config(THRESHOLDS, "Class", [], recall_at_fpr=rate)
