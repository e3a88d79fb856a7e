"""ServedMetric: every binary gate metric from one combiner, equal to scikit-learn and to the confusion counts."""

import pickle

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from sklearn import metrics
from tensorflow_model_analysis.metrics import metric_types, metric_util

from components.blessing_gate import served_metrics
from components.blessing_gate.served_metrics import ServedCounts, ServedMetric


def _fraud_like(seed: int = 0, rows: int = 20_000, positives: int = 40):
    """Labels, probabilities like a fraud model's (most far below 1e-4) and a decision cut at 0.02."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(rows)
    labels[:positives] = 1.0
    log_odds = np.where(labels > 0, rng.normal(-3.0, 4.0, rows), rng.normal(-14.0, 3.0, rows))
    probabilities = 1.0 / (1.0 + np.exp(-log_odds))
    return labels, probabilities, (probabilities >= 0.02).astype(np.float64)


def _counts(labels, probabilities, decisions, weights=None) -> ServedCounts:
    counts = ServedCounts()
    weights = np.ones_like(labels) if weights is None else weights
    for row in zip(labels, probabilities, decisions, weights, strict=True):
        counts.add(*(float(value) for value in row))
    return counts


def test_pr_auc_is_scikit_learns_average_precision():
    labels, probabilities, decisions = _fraud_like()
    counts = _counts(labels, probabilities, decisions)
    expected = metrics.average_precision_score(labels, probabilities)
    assert served_metrics.statistic(counts, served_metrics.AVERAGE_PRECISION) == pytest.approx(expected, abs=1e-4)
    assert served_metrics.statistic(counts, served_metrics.ROC_AUC) == pytest.approx(
        metrics.roc_auc_score(labels, probabilities), abs=1e-4
    )


def test_weighted_examples_count_as_scikit_learn_sample_weights():
    labels, probabilities, decisions = _fraud_like(seed=1, rows=5_000, positives=30)
    weights = np.random.default_rng(2).uniform(0.5, 3.0, labels.size)
    counts = _counts(labels, probabilities, decisions, weights)
    expected = metrics.average_precision_score(labels, probabilities, sample_weight=weights)
    assert served_metrics.statistic(counts, served_metrics.AVERAGE_PRECISION) == pytest.approx(expected, abs=1e-4)
    assert served_metrics.statistic(counts, served_metrics.EXAMPLE_COUNT) == pytest.approx(weights.sum())


def test_recall_at_fpr_is_the_best_recall_with_at_most_that_share_of_negatives_called():
    # Scores far apart in log-odds (one per bucket): the bucketed figure is the exact one.
    labels = np.array([1, 0, 1, 1, 0, 0, 1, 0, 0, 0], dtype=float)
    probabilities = 1.0 / (1.0 + np.exp(-np.linspace(9.0, -9.0, labels.size)))
    counts = _counts(labels, probabilities, np.zeros_like(labels))
    # Ranked: P N P P N N P N N N. No negative called: 1 of 4 positives; one of six (0.17): 3 of 4.
    assert served_metrics.statistic(counts, served_metrics.RECALL_AT_FPR, 0.1) == 0.25
    assert served_metrics.statistic(counts, served_metrics.RECALL_AT_FPR, 0.2) == 0.75
    assert served_metrics.statistic(counts, served_metrics.RECALL_AT_FPR, 0.5) == 1.0
    false_positive_rate, true_positive_rate, _ = metrics.roc_curve(labels, probabilities)
    assert served_metrics.statistic(counts, served_metrics.RECALL_AT_FPR, 0.2) == max(
        true_positive_rate[false_positive_rate <= 0.2]
    )


def test_confusion_statistics_are_read_at_the_served_decision():
    labels = np.array([1, 1, 1, 0, 0, 0, 0], dtype=float)
    decisions = np.array([1, 1, 0, 1, 0, 0, 0], dtype=float)
    counts = _counts(labels, np.full(labels.size, 0.5), decisions)
    got = {name: served_metrics.statistic(counts, name) for name in served_metrics.STATISTICS}
    assert (got["true_positives"], got["false_negatives"], got["false_positives"], got["true_negatives"]) == (
        2,
        1,
        1,
        3,
    )
    assert got["recall"] == pytest.approx(2 / 3) and got["precision"] == pytest.approx(2 / 3)
    assert got["f1"] == pytest.approx(metrics.f1_score(labels, decisions))
    assert got["roc_auc"] == 0.5  # every score tied


def test_a_slice_without_positives_reads_nan_where_a_ratio_has_no_denominator():
    counts = _counts(np.zeros(4), np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 0, 1, 1.0]))
    for name in (served_metrics.ROC_AUC, served_metrics.AVERAGE_PRECISION, served_metrics.RECALL):
        assert np.isnan(served_metrics.statistic(counts, name)), name
    # Two negatives called positive: precision and F1 have a denominator, and are 0.
    assert served_metrics.statistic(counts, served_metrics.PRECISION) == 0.0
    assert served_metrics.statistic(counts, served_metrics.F1) == 0.0


def test_counts_merge_and_survive_pickling_as_beam_moves_accumulators():
    labels, probabilities, decisions = _fraud_like(seed=5, rows=3_000, positives=20)
    whole = _counts(labels, probabilities, decisions)
    merged = _counts(labels[:1000], probabilities[:1000], decisions[:1000])
    merged.merge(pickle.loads(pickle.dumps(_counts(labels[1000:], probabilities[1000:], decisions[1000:]))))
    for name in served_metrics.STATISTICS:
        assert served_metrics.statistic(merged, name) == pytest.approx(served_metrics.statistic(whole, name)), name


def _through_tfma(metric, examples, **computation_args):
    """A metric's computations as TFMA runs them on one slice: combiners (two accumulators merged), then derived."""
    results = {}
    computations = metric.computations(**computation_args)
    for computation in computations:
        if isinstance(computation, metric_types.MetricComputation):
            combiner = computation.combiner
            halves = [combiner.create_accumulator(), combiner.create_accumulator()]
            for index, example in enumerate(examples):
                combiner.add_input(halves[index % 2], metric_util.to_standard_metric_inputs(example))
            results.update(combiner.extract_output(combiner.merge_accumulators(halves)))
    for computation in computations:
        if isinstance(computation, metric_types.DerivedMetricComputation):
            results.update(computation.result(results))
    return results


def test_one_model_through_its_tfma_computations():
    labels, probabilities, decisions = _fraud_like(seed=6, rows=2_000, positives=30)
    examples = [
        {
            # TFMA keys the label by output when ModelSpec.label_keys names one per output.
            "labels": {"probability": np.array([label]), "decision": np.array([label])},
            "predictions": {"probability": np.array([probability]), "decision": np.array([decision])},
        }
        for label, probability, decision in zip(labels, probabilities, decisions, strict=True)
    ]
    results = _through_tfma(ServedMetric("pr_auc", served_metrics.AVERAGE_PRECISION), examples)
    expected = metrics.average_precision_score(labels, probabilities)
    assert results[metric_types.MetricKey(name="pr_auc")] == pytest.approx(expected, abs=1e-4)


def test_candidate_and_baseline_are_counted_apart():
    labels, probabilities, decisions = _fraud_like(seed=7, rows=2_000, positives=30)
    flipped = 1.0 - decisions
    examples = [
        {
            "labels": np.array([label]),
            "predictions": {
                "candidate": {"probability": np.array([probability]), "decision": np.array([decision])},
                "baseline": {"probability": np.array([1.0 - probability]), "decision": np.array([other])},
            },
        }
        for label, probability, decision, other in zip(labels, probabilities, decisions, flipped, strict=True)
    ]
    config = tfma.EvalConfig(model_specs=[tfma.ModelSpec(name="candidate"), tfma.ModelSpec(name="baseline")])
    results = _through_tfma(
        ServedMetric("recall", served_metrics.RECALL),
        examples,
        eval_config=config,
        model_names=["candidate", "baseline"],
    )
    positive = labels == 1
    candidate_recall = float(np.mean(decisions[positive]))
    assert results[metric_types.MetricKey(name="recall", model_name="candidate")] == pytest.approx(candidate_recall)
    assert results[metric_types.MetricKey(name="recall", model_name="baseline")] == pytest.approx(
        1.0 - candidate_recall
    )


def test_metrics_of_one_model_share_one_combiner_which_tfma_runs_once():
    recall = ServedMetric("recall", served_metrics.RECALL).computations()
    auc = ServedMetric("auc", served_metrics.ROC_AUC).computations()
    assert recall[0] == auc[0]  # TFMA removes equal computations before it runs them
    assert recall[1] != auc[1]


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: ServedMetric("x", "accuracy"), "unknown statistic 'accuracy'"),
        (lambda: ServedMetric("x", served_metrics.RECALL_AT_FPR, false_positive_rate=1.0), "false_positive_rate"),
        (lambda: ServedMetric("x", "recall").computations(output_names=["probability"]), "no output_names"),
    ],
)
def test_a_misconfigured_metric_is_refused_with_its_name(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_a_model_without_the_decision_output_is_named_with_what_it_serves():
    (counts, _) = ServedMetric("recall", served_metrics.RECALL).computations()
    combiner = counts.combiner
    element = metric_util.to_standard_metric_inputs(
        {"labels": np.array([1.0]), "predictions": {"probability": np.array([0.3]), "logits": np.array([-0.8])}}
    )
    with pytest.raises(ValueError, match=r"serves no output 'decision' \(it serves \['logits', 'probability'\]\)"):
        combiner.add_input(combiner.create_accumulator(), element)


def test_every_positive_ranked_first_is_exactly_one_not_a_rounding_step_below():
    # Seven positives in seven buckets, each a share of 1/7: summing the shares misses 1.0 by 2**-53.
    labels = np.array([1.0] * 7 + [0.0] * 50)
    probabilities = 1.0 / (1.0 + np.exp(-np.linspace(10.0, -10.0, labels.size)))
    counts = _counts(labels, probabilities, labels)
    assert served_metrics.statistic(counts, served_metrics.AVERAGE_PRECISION) == 1.0


def test_example_weights_reach_the_counts_when_tfma_asks_for_weighted_metrics():
    labels, probabilities, decisions = _fraud_like(seed=8, rows=2_000, positives=30)
    weights = np.linspace(0.5, 2.0, labels.size)
    examples = [
        {
            "labels": np.array([label]),
            "predictions": {"probability": np.array([probability]), "decision": np.array([decision])},
            "example_weights": np.array([weight]),
        }
        for label, probability, decision, weight in zip(labels, probabilities, decisions, weights, strict=True)
    ]
    metric = ServedMetric("pr_auc", served_metrics.AVERAGE_PRECISION)
    weighted = _through_tfma(metric, examples, example_weighted=True)
    expected = metrics.average_precision_score(labels, probabilities, sample_weight=weights)
    assert weighted[metric_types.MetricKey(name="pr_auc", example_weighted=True)] == pytest.approx(expected, abs=1e-4)
    unweighted = _through_tfma(metric, examples)
    assert unweighted[metric_types.MetricKey(name="pr_auc")] == pytest.approx(
        metrics.average_precision_score(labels, probabilities), abs=1e-4
    )
