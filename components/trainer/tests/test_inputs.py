"""The input pipeline's sizing, its disk cache and its one-pass class counts."""

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import inputs

# The credit-card data: 30 numeric features, 170,939 training rows.
CREDIT_CARD_FEATURES = 30


def test_shuffle_buffer_holds_the_whole_split_up_to_its_memory_budget():
    assert inputs.shuffle_buffer_rows(170_939, CREDIT_CARD_FEATURES) == 170_939
    per_row = 4 * (CREDIT_CARD_FEATURES + 1) + inputs.ROW_OVERHEAD_BYTES
    capped = inputs.shuffle_buffer_rows(50_000_000, CREDIT_CARD_FEATURES)
    assert capped == inputs.SHUFFLE_BUFFER_BYTES // per_row
    assert capped * per_row <= inputs.SHUFFLE_BUFFER_BYTES


def test_class_counts_and_cached_rows_match_the_data(tmp_path):
    rng = np.random.default_rng(0)
    # A standardised column and a categorical id column (ids travel as exact floats).
    matrix = np.stack([rng.normal(size=500), rng.integers(0, 1000, size=500)], axis=1).astype(np.float32)
    labels = (rng.random(500) < 0.2).astype(np.float32).reshape(-1, 1)
    keys = ("a", "b")
    batches = tf.data.Dataset.from_tensor_slices(
        ({key: matrix[:, [index]] for index, key in enumerate(keys)}, labels)
    ).batch(64)
    rows = inputs.disk_cached_rows(batches, keys, str(tmp_path / "cache"))
    stats = inputs.compute_training_statistics(rows.batch(100))
    assert (stats.rows, stats.positives, stats.negatives) == (500, int(labels.sum()), 500 - int(labels.sum()))
    cached = np.stack([row.numpy() for row, _ in rows])
    np.testing.assert_array_equal(cached, matrix)
    unstacked = next(iter(inputs.unstack_features(rows.batch(500), keys)))[0]
    np.testing.assert_array_equal(unstacked["b"].numpy().reshape(-1), matrix[:, 1])


def test_an_empty_split_is_a_training_data_error():
    empty = tf.data.Dataset.from_tensor_slices(({"a": np.zeros((0, 1), np.float32)}, np.zeros((0, 1), np.float32)))
    with pytest.raises(inputs.TrainingDataError, match="the training split is empty"):
        inputs.compute_training_statistics(empty.batch(8))


def _rows(matrix, labels):
    return tf.data.Dataset.from_tensor_slices((matrix, labels))


def _listed(rows):
    return [(row.numpy().tolist(), label.numpy().tolist()) for row, label in rows]


def test_rows_in_any_order_come_out_in_one_order():
    """Beam may write a split's records in another order each run; sorted, the batches are the same."""
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(300, 3)).astype(np.float32)
    matrix[10] = matrix[20]  # a duplicate row, with another label
    labels = (rng.random(300) < 0.1).astype(np.float32).reshape(-1, 1)
    labels[10], labels[20] = 0.0, 1.0
    shuffled = rng.permutation(300)
    in_order = _listed(inputs.in_content_order(_rows(matrix, labels), 3))
    assert in_order == _listed(inputs.in_content_order(_rows(matrix[shuffled], labels[shuffled]), 3))
    assert sorted(in_order) == sorted(_listed(_rows(matrix, labels))), "the same rows, none lost"
    first, second = (
        [batch["a"].numpy().tolist() for batch, _ in inputs.shuffled_batches(sorted_rows, "abc", 32, 7, 300)]
        for sorted_rows in (
            inputs.in_content_order(_rows(m, y), 3) for m, y in ((matrix, labels), (matrix[shuffled], labels[shuffled]))
        )
    )
    assert first == second


def test_a_split_larger_than_the_shuffle_buffer_keeps_its_order(monkeypatch, caplog):
    matrix = np.arange(60, dtype=np.float32).reshape(20, 3)[::-1].copy()
    labels = np.zeros((20, 1), np.float32)
    per_row = 4 * (3 + 1) + inputs.ROW_OVERHEAD_BYTES
    monkeypatch.setattr(inputs, "SHUFFLE_BUFFER_BYTES", 10 * per_row)
    with caplog.at_level("WARNING"):
        kept = _listed(inputs.in_content_order(_rows(matrix, labels), 3))
    assert kept == _listed(_rows(matrix, labels))
    assert "larger than the shuffle buffer (10 rows)" in caplog.text
