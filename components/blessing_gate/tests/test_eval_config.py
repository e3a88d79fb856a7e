"""The Evaluator's EvalConfig: thresholds on the overall slice only, every metric the gate reads."""

import dataclasses
import json

import numpy
import pytest
import tensorflow_model_analysis as tfma
from sklearn import metrics as sklearn_metrics

from components.blessing_gate import spec
from components.blessing_gate.eval_config import gate_eval_config
from components.blessing_gate.judge import REQUIRED_METRICS
from components.blessing_gate.ranking_auc import RANKING_THRESHOLDS
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


def _tfma_value(metric_config: tfma.MetricConfig, labels, scores) -> float:
    """One metric of `metric_config`, computed by TFMA's own combiner and derived computations."""
    from tensorflow_model_analysis.metrics import metric_specs, metric_util

    histogram, matrices, metrics = metric_specs.metric_instance(metric_config).computations(example_weighted=False)
    combiner = histogram.combiner
    combiner.setup()
    # One input holding every row: the histogram flattens label-prediction pairs.
    example = {"labels": numpy.asarray(labels), "predictions": numpy.asarray(scores)}
    accumulator = combiner.add_input(combiner.create_accumulator(), metric_util.to_standard_metric_inputs(example))
    (value,) = metrics.result(matrices.result(combiner.extract_output(accumulator))).values()
    return float(value)


def test_ranking_metrics_are_exact_where_most_scores_are_tiny():
    """Scores like a rare-class model's (most below 1e-3): the log-odds grid gives the exact ROC-AUC and
    average precision, where TFMA's default grid, even in probability, counts the low scores as ties."""
    rng = numpy.random.default_rng(7)
    negatives = 1.0 / (1.0 + numpy.exp(-rng.normal(-11.0, 2.5, 3000)))
    positives = 1.0 / (1.0 + numpy.exp(-rng.normal(-3.0, 4.0, 60)))
    scores = numpy.concatenate([negatives, positives]).astype(numpy.float32)
    labels = numpy.concatenate([numpy.zeros(3000), numpy.ones(60)])
    metrics = _metrics(gate_eval_config(PARAMETERS, "Class", []))

    exact_auc = sklearn_metrics.roc_auc_score(labels, scores)
    ours = _tfma_value(metrics[spec.AUC][1], labels, scores)
    default_grid = tfma.MetricConfig(class_name="AUC", config=json.dumps({"name": spec.AUC}))
    assert ours == pytest.approx(exact_auc, abs=5e-4)
    assert _tfma_value(default_grid, labels, scores) < exact_auc - 0.01
    exact_ap = sklearn_metrics.average_precision_score(labels, scores)
    assert _tfma_value(metrics[spec.PR_AUC][1], labels, scores) == pytest.approx(exact_ap, abs=0.01)


def test_ranking_thresholds_are_fine_in_log_odds_and_in_probability():
    thresholds = numpy.array(RANKING_THRESHOLDS)
    assert thresholds[0] < 1e-10 and thresholds[-1] > 1.0 - 2e-7
    assert numpy.all(numpy.diff(thresholds) > 0) and numpy.all((thresholds > 0) & (thresholds < 1))
    assert numpy.diff(thresholds).max() <= 1.0 / 9999 + 1e-12, "never coarser than TFMA's default grid"
    # Up to probability 0.9999: above it float32 scores have too few values to need an even log-odds spacing.
    below = thresholds[thresholds < 0.9999]
    assert numpy.diff(numpy.log(below / (1.0 - below))).max() < 0.005
    for name in (spec.AUC, spec.PR_AUC):
        metric = _metrics(gate_eval_config(PARAMETERS, "Class", []))[name][1]
        assert (metric.module, metric.class_name) == ("components.blessing_gate.ranking_auc", "RankingAUC")
        assert "thresholds" not in json.loads(metric.config), "the EvalConfig stays small"
