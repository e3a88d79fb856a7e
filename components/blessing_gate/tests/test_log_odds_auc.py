"""LogOddsAUC: exact ROC-AUC where TFMA's bucketed AUC ties most scores, through its TFMA combiner too."""

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing import util
from sklearn import metrics
from tensorflow_model_analysis.metrics import metric_types, metric_util

from components.blessing_gate import log_odds_auc


def _fraud_like_scores(seed: int = 0, rows: int = 20_000, positives: int = 40):
    """Probabilities like a fraud model's: most far below 1e-4, positives higher but overlapping."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(rows)
    labels[:positives] = 1.0
    log_odds = np.where(labels > 0, rng.normal(-4.0, 4.0, rows), rng.normal(-14.0, 3.0, rows))
    return labels, 1.0 / (1.0 + np.exp(-log_odds))


def _counted_auc(labels, probabilities, weights=None):
    weights = np.ones_like(labels) if weights is None else weights
    return log_odds_auc.auc_from_counts(log_odds_auc.add_scores({}, labels, probabilities, weights))


def test_matches_scikit_learn_on_scores_that_tfma_buckets_together():
    labels, probabilities = _fraud_like_scores()
    assert np.mean(probabilities < 1e-4) > 0.9  # the case TFMA's 10,000 even buckets cannot rank
    assert _counted_auc(labels, probabilities) == pytest.approx(metrics.roc_auc_score(labels, probabilities), abs=1e-4)


def test_weighted_examples_count_as_scikit_learn_sample_weights():
    labels, probabilities = _fraud_like_scores(seed=1, rows=5_000, positives=30)
    weights = np.random.default_rng(2).uniform(0.5, 3.0, labels.size)
    expected = metrics.roc_auc_score(labels, probabilities, sample_weight=weights)
    assert _counted_auc(labels, probabilities, weights) == pytest.approx(expected, abs=1e-4)


def test_equal_scores_count_half_a_pair_and_saturated_scores_rank_at_the_ends():
    assert _counted_auc(np.array([0.0, 1.0]), np.array([0.3, 0.3])) == 0.5
    labels = np.array([0.0, 0.0, 1.0, 1.0])
    assert _counted_auc(labels, np.array([0.0, 1e-30, 0.5, 1.0])) == 1.0
    assert _counted_auc(labels, np.array([1.0, 0.5, 1e-30, 0.0])) == 0.0


def test_one_class_only_gives_nan():
    assert np.isnan(_counted_auc(np.zeros(3), np.array([0.1, 0.2, 0.3])))
    assert np.isnan(log_odds_auc.auc_from_counts({}))


def _assert_combiner_gives(examples, computation, expected, tolerance=1e-4):
    """One slice through the metric's Beam combiner, as TFMA's own metric tests run theirs."""

    def check(got):
        try:
            assert len(got) == 1, got
            assert got[0][1] == pytest.approx(expected, abs=tolerance)
        except AssertionError as error:
            raise util.BeamAssertException(error) from error

    with beam.Pipeline() as pipeline:
        computed = (
            pipeline
            | beam.Create(examples, reshuffle=False)
            | beam.Map(metric_util.to_standard_metric_inputs)
            | beam.Map(lambda inputs: ((), inputs))
            | beam.CombinePerKey(computation.combiner)
        )
        util.assert_that(computed, check)


def test_the_tfma_combiner_reads_weighted_binary_examples():
    labels, probabilities = _fraud_like_scores(seed=3, rows=2_000, positives=25)
    weights = np.linspace(0.5, 2.0, labels.size)
    examples = [
        {"labels": np.array([label]), "predictions": np.array([probability]), "example_weights": np.array([weight])}
        for label, probability, weight in zip(labels, probabilities, weights, strict=True)
    ]
    (computation,) = log_odds_auc.LogOddsAUC().computations(example_weighted=True)
    expected = metrics.roc_auc_score(labels, probabilities, sample_weight=weights)
    _assert_combiner_gives(examples, computation, {metric_types.MetricKey(name="auc", example_weighted=True): expected})


# Scores within a factor of 1.002 in odds share a bucket and count as tied. On mid-range
# probabilities that moves average precision more than ROC-AUC: by 2.6e-4 on this fixture with
# logits 1.5 apart instead of 2.0 (class 1); hence its wider tolerance.
@pytest.mark.parametrize(
    "metric, name, scikit_learn, tolerance",
    [
        (log_odds_auc.LogOddsAUC, "auc", metrics.roc_auc_score, 1e-4),
        (log_odds_auc.LogOddsAveragePrecision, "pr_auc", metrics.average_precision_score, 5e-4),
    ],
)
def test_the_tfma_combiner_binarizes_a_class_of_a_multiclass_output(metric, name, scikit_learn, tolerance):
    rng = np.random.default_rng(4)
    classes = rng.integers(0, 3, 600)
    logits = rng.normal(0.0, 1.0, (600, 3)) + 2.0 * np.eye(3)[classes]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    examples = [
        {"labels": np.array([label]), "predictions": row, "example_weights": np.array([1.0])}
        for label, row in zip(classes, probabilities, strict=True)
    ]
    sub_key = metric_types.SubKey(class_id=2)
    (computation,) = metric().computations(sub_keys=[sub_key])
    expected = scikit_learn(classes == 2, probabilities[:, 2])
    key = metric_types.MetricKey(name=name, sub_key=sub_key)
    _assert_combiner_gives(examples, computation, {key: expected}, tolerance)


def test_tfma_builds_each_metric_again_from_its_config():
    for metric in (log_odds_auc.LogOddsAUC("macro_auc"), log_odds_auc.LogOddsAveragePrecision("macro_pr_auc")):
        again = type(metric).from_config(metric.get_config())
        assert (again.name, again.kwargs) == (metric.name, metric.kwargs)
