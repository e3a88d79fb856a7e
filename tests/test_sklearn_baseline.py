"""The hand-made baseline's own data handling (`benchmarks/sklearn_baseline.py`), on tiny arrays."""

import warnings

import numpy as np
import pytest

from benchmarks.sklearn_baseline import encode_categories, impute_medians, scores_at, threshold_for_recall_at_precision
from benchmarks.sklearn_tuning import GRIDS, build_model, grid_points, ranking_score, tune


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
    # 0.7 and 0.6 both catch every positive with precision >= 0.5; 0.7 does it at 2/3 instead of 1/2,
    # and is served a float32 margin below that score, above 0.6
    assert threshold_for_recall_at_precision(labels, scores, 0.5) == pytest.approx(0.7, rel=1e-4)


def test_the_baseline_threshold_falls_back_to_the_best_f1_when_no_threshold_reaches_the_precision():
    labels = np.array([0, 0, 1])
    scores = np.array([0.9, 0.8, 0.1])
    assert threshold_for_recall_at_precision(labels, scores, 0.5) == pytest.approx(0.1, rel=1e-4)


def test_every_grid_point_is_a_distinct_setting_of_the_estimator():
    for model in GRIDS:
        points = grid_points(model)
        assert len(points) == int(np.prod([len(values) for values in GRIDS[model].values()]))
        assert len({tuple(sorted(point.items(), key=str)) for point in points}) == len(points)
        build_model(model, points[0], [False, False], seed=0)  # every key is one the estimator takes


def test_the_ranking_score_is_binary_pr_auc_or_the_protected_classes_mean():
    from sklearn.metrics import average_precision_score

    labels = np.array([0, 1, 0, 1, 0])
    scores = np.array([0.2, 0.7, 0.8, 0.9, 0.1])
    two_columns = np.stack([1 - scores, scores], axis=1)
    assert ranking_score(labels, two_columns, ()) == average_precision_score(labels, scores)
    labels3 = np.array([0, 1, 2, 2, 1, 0])
    probabilities = np.array(
        [[0.8, 0.1, 0.1], [0.2, 0.5, 0.3], [0.1, 0.6, 0.3], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4], [0.5, 0.4, 0.1]]
    )
    expected = np.mean([average_precision_score(labels3 == c, probabilities[:, c]) for c in (1, 2)])
    assert ranking_score(labels3, probabilities, (1, 2)) == expected


def test_tuning_keeps_the_setting_best_on_valid_and_never_reads_eval():
    rng = np.random.default_rng(0)
    # One informative column; valid's labels follow it, so any sensible setting ranks valid perfectly,
    # and the first grid point, which is first among equals, must win.
    features = rng.normal(size=(400, 2))
    labels = (features[:, 0] > 1.0).astype(int)
    matrices = {"train": features[:300], "valid": features[300:]}
    model, chosen, rows = tune(
        "extra_trees",
        matrices,
        {"train": labels[:300], "valid": labels[300:]},
        [False, False],
        (),
        seed=0,
    )
    assert len(rows) == len(grid_points("extra_trees"))
    best = max(row["valid_ranking_score"] for row in rows)
    assert chosen == next(row["settings"] for row in rows if row["valid_ranking_score"] == best)
    assert model.get_params()["min_samples_leaf"] == chosen["min_samples_leaf"]
