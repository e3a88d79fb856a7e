"""Interval arithmetic against known values: scipy's exact binomial intervals, a bootstrap of a fixed prediction set."""

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score

from components.blessing_gate import intervals
from components.blessing_gate.regression import bootstrap_draws, resampled_average_precision

# A fixed prediction set: 25 positives scored N(2, 1), 2500 negatives N(0, 1), drawn with seed 0.
POSITIVES, NEGATIVES = 25, 2500
BOOTSTRAP_SEED, RESAMPLES = 1, 1000


@pytest.fixture(scope="module")
def prediction_set():
    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.normal(2.0, 1.0, POSITIVES), rng.normal(0.0, 1.0, NEGATIVES)])
    labels = np.concatenate([np.ones(POSITIVES, dtype=int), np.zeros(NEGATIVES, dtype=int)])
    return labels, scores


@pytest.fixture(scope="module")
def bootstrap(prediction_set):
    """AUC and average precision on each of RESAMPLES stratified resamples (seed BOOTSTRAP_SEED)."""
    labels, scores = prediction_set
    aucs, precisions = [], []
    for positives, negatives in bootstrap_draws(labels, RESAMPLES, BOOTSTRAP_SEED):
        drawn = np.concatenate([positives, negatives], axis=1)
        aucs.extend(roc_auc_score(labels[row], scores[row]) for row in drawn)
        precisions.extend(resampled_average_precision(labels, scores, positives, negatives))
    return np.array(aucs), np.array(precisions)


@pytest.mark.parametrize("confidence", [0.95, 0.9, 0.99])
@pytest.mark.parametrize("successes, trials", [(0, 5), (5, 5), (3, 5), (14, 22), (80, 98), (1, 1), (0, 1), (500, 1000)])
def test_clopper_pearson_is_scipys_exact_binomial_interval(successes, trials, confidence):
    expected = stats.binomtest(successes, trials).proportion_ci(confidence_level=confidence, method="exact")
    assert intervals.clopper_pearson(successes, trials, confidence) == pytest.approx(
        (expected.low, expected.high), abs=1e-12
    )


def test_clopper_pearson_known_values_and_edges():
    # 14 of 22 caught: the default data's amount_bucket=100_to_1000 slice.
    assert intervals.clopper_pearson(14, 22, 0.95) == pytest.approx((0.406577, 0.828021), abs=1e-6)
    assert intervals.clopper_pearson(0, 0, 0.95) is None
    with pytest.raises(ValueError, match="0 <= successes <= trials"):
        intervals.clopper_pearson(6, 5, 0.95)
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
        intervals.clopper_pearson(1, 5, 1.0)


def _draws(labels, samples, seed):
    chunks = list(bootstrap_draws(labels, samples, seed))
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


def test_bootstrap_draws_are_stratified_and_reproducible(prediction_set):
    labels, _ = prediction_set
    positives, negatives = _draws(labels, 50, BOOTSTRAP_SEED)
    again = _draws(labels, 50, BOOTSTRAP_SEED)
    other = _draws(labels, 50, BOOTSTRAP_SEED + 1)
    assert positives.shape == (50, POSITIVES) and negatives.shape == (50, NEGATIVES)
    np.testing.assert_array_equal(positives, again[0])
    np.testing.assert_array_equal(negatives, again[1])
    assert not np.array_equal(negatives, other[1])
    # Each resample keeps the class counts: positives drawn from the positives, negatives from the negatives.
    assert (labels[positives] == 1).all() and (labels[negatives] == 0).all()


def test_resampled_average_precision_is_sklearns_on_the_resampled_rows(prediction_set):
    labels, scores = prediction_set
    positives, negatives = next(bootstrap_draws(labels, 20, BOOTSTRAP_SEED))
    ours = resampled_average_precision(labels, scores, positives, negatives)
    for value, drawn in zip(ours, np.concatenate([positives, negatives], axis=1), strict=True):
        assert value == pytest.approx(average_precision_score(labels[drawn], scores[drawn]), abs=1e-12)


def test_average_precision_counts_ties_as_scikit_learn_does():
    labels = np.array([1, 0, 1, 0, 0, 1, 0, 1])
    scores = np.array([0.9, 0.9, 0.5, 0.5, 0.5, 0.2, 0.1, 0.1])
    every = np.arange(len(labels))
    ours = resampled_average_precision(labels, scores, every[labels == 1][None], every[labels == 0][None])
    assert ours[0] == pytest.approx(average_precision_score(labels, scores), abs=1e-12)


def test_bootstrap_of_the_fixed_prediction_set_gives_known_values(bootstrap):
    aucs, precisions = bootstrap
    # Pinned: the same prediction set and seed give the same resamples on every machine.
    assert np.quantile(precisions, [0.025, 0.975]) == pytest.approx([0.15652025, 0.50239133], abs=1e-8)
    assert np.quantile(aucs, [0.025, 0.975]) == pytest.approx([0.874144, 0.9689948], abs=1e-7)
    assert aucs.std() == pytest.approx(0.0252014, abs=1e-7)


def test_pr_auc_logit_interval_agrees_with_the_bootstrap(prediction_set, bootstrap):
    labels, scores = prediction_set
    _, precisions = bootstrap
    average_precision = average_precision_score(labels, scores)
    lower, upper = intervals.logit_interval(average_precision, POSITIVES, 0.95)
    assert lower < average_precision < upper
    assert (lower, upper) == pytest.approx(tuple(np.quantile(precisions, [0.025, 0.975])), abs=0.02)


def test_auc_hanley_mcneil_is_conservative_against_the_bootstrap(prediction_set, bootstrap):
    """On binormal scores Hanley-McNeil's exponential model overstates the spread: wider, never narrower."""
    labels, scores = prediction_set
    aucs, _ = bootstrap
    auc = roc_auc_score(labels, scores)
    lower, upper = intervals.hanley_mcneil(auc, POSITIVES, NEGATIVES, 0.95)
    standard_error = (upper - auc) / intervals.z_value(0.95)
    assert 1.0 < standard_error / aucs.std() < 1.6
    bootstrap_lower, bootstrap_upper = np.quantile(aucs, [0.025, 0.975])
    assert lower < bootstrap_lower and upper > bootstrap_upper


def test_auc_and_pr_auc_intervals_at_the_edges():
    assert intervals.hanley_mcneil(1.0, 5, 600, 0.95) == (1.0, 1.0)
    assert intervals.hanley_mcneil(0.9, 0, 600, 0.95) is None
    assert intervals.hanley_mcneil(float("nan"), 5, 600, 0.95) is None
    lower, upper = intervals.hanley_mcneil(0.896, 5, 600, 0.95)
    assert 0.0 <= lower < 0.896 and upper == 1.0  # clipped
    assert intervals.logit_interval(1.0, 20, 0.95) is None
    assert intervals.logit_interval(0.0, 20, 0.95) is None
    assert intervals.logit_interval(0.5, 0, 0.95) is None
    # One rounding step from 1 (a sum of shares): the logit is finite, the half-width ~1e8; no overflow.
    lower, upper = intervals.logit_interval(1.0 - 2**-53, 3, 0.95)
    assert lower < 1e-6 and upper == 1.0
    assert intervals.z_value(0.95) == pytest.approx(1.959964, abs=1e-6)
