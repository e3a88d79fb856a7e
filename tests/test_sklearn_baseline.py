"""The hand-made baseline's own data handling (`benchmarks/sklearn_baseline.py`), on tiny arrays."""

import warnings

import numpy as np

from benchmarks.sklearn_baseline import encode_categories, impute_medians, scores_at, threshold_for_recall_at_precision


def test_missing_numbers_take_the_train_median_and_an_empty_column_zero_without_warnings():
    train = np.array([[1.0, np.nan, np.nan], [3.0, 2.0, np.nan], [np.nan, 4.0, np.nan]])
    other = np.full((1, 3), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy's "All-NaN slice" would be one
        imputed_train, imputed_other = impute_medians(train, other)
    np.testing.assert_array_equal(imputed_train, [[1.0, 3.0, 0.0], [3.0, 2.0, 0.0], [2.0, 4.0, 0.0]])
    np.testing.assert_array_equal(imputed_other, [[2.0, 3.0, 0.0]])


def test_categories_are_coded_by_the_train_vocabulary_and_unseen_ones_are_missing():
    train = [["b", "x"], ["a", "x"]]
    other = [["a", "y"]]
    coded_train, coded_other = encode_categories(train, other)
    np.testing.assert_array_equal(coded_train, [[1.0, 0.0], [0.0, 0.0]])
    assert coded_other[0, 0] == 0.0 and np.isnan(coded_other[0, 1])


def test_scores_at_a_threshold_count_decisions_at_or_above_it():
    labels = np.array([0, 0, 1, 1, 0])
    scores = np.array([0.1, 0.6, 0.6, 0.9, 0.2])
    figures = scores_at(labels, scores, 0.6)
    assert figures["precision"] == 2 / 3 and figures["recall"] == 1.0 and figures["threshold"] == 0.6


def test_the_baseline_threshold_breaks_a_recall_tie_towards_precision_as_the_trainer_does():
    labels = np.array([1, 0, 1, 0, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.1])
    # 0.7 and 0.6 both catch every positive with precision >= 0.5; 0.7 does it at 2/3 instead of 1/2
    assert threshold_for_recall_at_precision(labels, scores, 0.5) == 0.7


def test_the_baseline_threshold_falls_back_to_the_best_f1_when_no_threshold_reaches_the_precision():
    labels = np.array([0, 0, 1])
    scores = np.array([0.9, 0.8, 0.1])
    assert threshold_for_recall_at_precision(labels, scores, 0.5) == 0.1
