"""Balanced batches: the class mix over many batches, determinism by seed, and bad input."""

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import balanced_batches

LABEL = "Class"
NEGATIVES, POSITIVES = 500, 12


def examples() -> tf.data.Dataset:
    """Unbatched feature dicts: `row` is a unique id; the 12 positives are rows 0, 40, 80, ..."""
    rows = np.arange(NEGATIVES + POSITIVES)
    labels = np.zeros(rows.size, dtype=np.int64)
    labels[np.arange(POSITIVES) * 40] = 1
    return tf.data.Dataset.from_tensor_slices(
        {"row": rows.astype(np.float32), "amount": (rows % 7).astype(np.float32), LABEL: labels}
    )


def take_batches(dataset: tf.data.Dataset, count: int):
    return [{key: value.numpy() for key, value in batch.items()} for batch in dataset.take(count)]


def test_split_by_class_partitions_the_rows():
    streams = balanced_batches.split_by_class(examples(), LABEL, classes=(0, 1))
    positives = sorted(int(element["row"]) for element in streams[1])
    negatives = [int(element["row"]) for element in streams[0]]
    assert positives == list(range(0, 40 * POSITIVES, 40))
    assert len(negatives) == NEGATIVES and not set(negatives) & set(positives)


def test_split_by_class_accepts_feature_label_pairs_and_shape_one_labels():
    pairs = examples().map(lambda features: ({"row": features["row"]}, tf.reshape(features[LABEL], [1])))
    streams = balanced_batches.split_by_class(pairs, None, classes=(1,))
    assert sorted(int(features["row"]) for features, _ in streams[1]) == list(range(0, 40 * POSITIVES, 40))


@pytest.mark.parametrize("mix", [{0: 0.5, 1: 0.5}, {0: 0.8, 1: 0.2}, {0: 3.0, 1: 1.0}])
def test_class_mix_over_many_batches_is_near_the_target(mix):
    streams = balanced_batches.split_by_class(examples(), LABEL, classes=(0, 1))
    dataset = balanced_batches.balanced_dataset(streams, mix, batch_size=64, seed=11, cache_classes=(1,))
    batches = take_batches(dataset, 100)
    assert all(batch[LABEL].shape == (64,) for batch in batches)
    labels = np.concatenate([batch[LABEL] for batch in batches])
    target = mix[1] / sum(mix.values())
    # 6,400 draws: the share's standard deviation is at most sqrt(0.25 / 6400) = 0.00625; allow ~4 of them.
    assert abs(labels.mean() - target) < 0.025
    # Positives recycle: all 12 appear, each many times, and no row changes class.
    rows = np.concatenate([batch["row"] for batch in batches])
    positive_ids = set(range(0, 40 * POSITIVES, 40))
    assert set(rows[labels == 1].astype(int)) == positive_ids
    assert set(rows[labels == 0].astype(int)).isdisjoint(positive_ids)
    assert np.bincount(rows[labels == 1].astype(int) // 40).min() >= 5


def test_same_seed_gives_the_same_batches_and_another_seed_does_not():
    def build(seed):
        streams = balanced_batches.split_by_class(examples(), LABEL, classes=(0, 1))
        return balanced_batches.balanced_dataset(streams, {0: 0.5, 1: 0.5}, 32, seed, shuffle_buffer=64)

    first, again, other = (take_batches(build(seed), 20) for seed in (5, 5, 6))
    for left, right in zip(first, again, strict=True):
        np.testing.assert_array_equal(left["row"], right["row"])
    assert any(not np.array_equal(left["row"], right["row"]) for left, right in zip(first, other, strict=True))


def test_three_classes_with_string_labels():
    words = tf.data.Dataset.from_tensor_slices({"label": ["a"] * 50 + ["b"] * 30 + ["c"] * 5, "x": np.arange(85.0)})
    streams = balanced_batches.split_by_class(words, "label", classes=("a", "b", "c"))
    dataset = balanced_batches.balanced_dataset(streams, {"a": 0.2, "b": 0.3, "c": 0.5}, 50, seed=1)
    labels = np.concatenate([batch["label"] for batch in take_batches(dataset, 80)])
    for label, share in (("a", 0.2), ("b", 0.3), ("c", 0.5)):
        assert abs(np.mean(labels == label.encode()) - share) < 0.03


def test_a_keras_model_trains_on_balanced_batches():
    streams = balanced_batches.split_by_class(examples(), LABEL, classes=(0, 1))
    dataset = balanced_batches.balanced_dataset(streams, {0: 0.5, 1: 0.5}, 16, seed=2).map(
        lambda batch: ({"amount": tf.reshape(batch["amount"], [-1, 1])}, tf.reshape(batch[LABEL], [-1, 1]))
    )
    inputs = {"amount": tf.keras.Input(shape=(1,), name="amount")}
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(1)(inputs["amount"]))
    model.compile(optimizer="sgd", loss=tf.keras.losses.BinaryCrossentropy(from_logits=True))
    history = model.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize(
    "mix,kwargs,fragment",
    [
        ({0: 0.5}, {}, "missing from class_mix: [1]"),
        ({0: 0.5, 1: 0.5, 2: 0.1}, {}, "without a dataset: [2]"),
        ({0: 0.5, 1: 0.0}, {}, "must be finite and > 0"),
        ({0: 0.5, 1: -1.0}, {}, "must be finite and > 0"),
        ({0: 0.5, 1: 0.5}, {"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({0: 0.5, 1: 0.5}, {"shuffle_buffer": -1}, "shuffle_buffer"),
        ({0: 0.5, 1: 0.5}, {"cache_classes": (3,)}, "cache_classes names classes without a dataset: [3]"),
    ],
)
def test_bad_settings_raise_clear_errors(mix, kwargs, fragment):
    streams = balanced_batches.split_by_class(examples(), LABEL, classes=(0, 1))
    arguments = {"batch_size": 8, "seed": 0, **kwargs}
    with pytest.raises(balanced_batches.BalancedBatchesError) as raised:
        balanced_batches.balanced_dataset(streams, mix, **arguments)
    assert isinstance(raised.value, ValueError)
    assert fragment in str(raised.value)


def test_empty_class_stream_fails_before_training():
    streams = balanced_batches.split_by_class(examples(), LABEL, classes=(0, 1, 2))
    with pytest.raises(balanced_batches.BalancedBatchesError, match="class 2 is empty"):
        balanced_batches.balanced_dataset(streams, {0: 0.4, 1: 0.4, 2: 0.2}, 8, seed=0)


def test_split_by_class_rejects_batched_data_and_unknown_label():
    with pytest.raises(balanced_batches.BalancedBatchesError, match="unbatched"):
        balanced_batches.split_by_class(examples().batch(4, drop_remainder=True), LABEL, classes=(0, 1))
    with pytest.raises(balanced_batches.BalancedBatchesError, match="'label' is not among the features"):
        balanced_batches.split_by_class(examples(), "label", classes=(0, 1))
    with pytest.raises(balanced_batches.BalancedBatchesError, match="distinct"):
        balanced_batches.split_by_class(examples(), LABEL, classes=(0, 0))
