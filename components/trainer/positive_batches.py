"""`trainer.min_batch_positives`: every training batch holds at least k positives.

A pairwise loss (`trainer.loss=auc`) learns only from batches holding both classes; with the
credit-card data's 0.17% positives a batch of 1024 rows has none about one time in six. Balanced batches fix the mix
instead, but train one model and draw the classes at random. This keeps the rows a model
trains on as they are and tops every batch up:

- each batch is `batch_size - k` rows of the model's own rows, reshuffled every epoch, plus `k`
  positives drawn from those rows' positives (cached in memory, reshuffled, recycled);
- one epoch is one pass over the model's rows: ceil(rows / (batch_size - k)) batches;
- the class mix the loss weights and the initial bias follow counts the added positives.

It applies to one model and to every ensemble member alike (each on its own rows).
"""

from __future__ import annotations

import math
from typing import Sequence, Tuple

import tensorflow as tf

from components.trainer.inputs import TrainingStatistics, shuffle_buffer_rows, shuffled_batches, unstack_features
from components.trainer.network import ClassBalance
from components.trainer.spec import TrainerParameters

# Seed offset of the positives' shuffle, so it differs from the rows' shuffle of the same model.
_POSITIVE_SEED_OFFSET = 17


def count_classes(rows: tf.data.Dataset) -> Tuple[int, int]:
    """(rows, positives) of unbatched (features, label) rows, in one pass (which also fills their `cache`)."""

    def accumulate(state, row):
        count, positives = state
        label = tf.reshape(row[1], [])
        return count + 1, positives + tf.cast(label > 0.5, tf.int64)

    count, positives = rows.reduce((tf.constant(0, tf.int64), tf.constant(0, tf.int64)), accumulate)
    return int(count.numpy()), int(positives.numpy())


def topped_up_batches(
    rows: tf.data.Dataset,
    feature_keys: Sequence[str],
    row_count: int,
    balance: ClassBalance,
    batch_size: int,
    min_positives: int,
    seed: int,
    buffer_rows: int,
) -> Tuple[tf.data.Dataset, ClassBalance]:
    """Batches of `batch_size` with at least `min_positives` positives each, and the class mix they show.

    `rows` are the model's unbatched (feature vector, label) rows in `feature_keys` order (see
    `inputs.disk_cached_rows`), `row_count` of them with class mix `balance`. The batches are
    finite, one epoch each time they are iterated, so `fit` needs no `steps_per_epoch` (given one,
    Keras would not restart a dataset of unknown length).
    """
    if not 0 < min_positives < batch_size:
        raise ValueError(f"min_batch_positives must be in [1, batch_size={batch_size}), got {min_positives}")
    positive_rows = rows.filter(lambda stacked, label: tf.reshape(label, []) > 0.5).cache()
    # One pass fills the in-memory cache of the positives, so no epoch reads the rows twice for them.
    positive_count, _ = count_classes(positive_rows)
    if positive_count == 0:
        raise ValueError("min_batch_positives needs positive rows to draw from; these rows have none")
    rest = rows.shuffle(buffer_rows, seed=seed, reshuffle_each_iteration=True).batch(batch_size - min_positives)
    added = (
        positive_rows.shuffle(
            min(buffer_rows, positive_count), seed=seed + _POSITIVE_SEED_OFFSET, reshuffle_each_iteration=True
        )
        .repeat()
        .batch(min_positives)
    )
    joined = tf.data.Dataset.zip((rest, added)).map(
        lambda batch, extra: (tf.concat([batch[0], extra[0]], axis=0), tf.concat([batch[1], extra[1]], axis=0))
    )
    steps = max(1, math.ceil(row_count / (batch_size - min_positives)))
    seen = ClassBalance(balance.positives + min_positives * steps, balance.negatives)
    return unstack_features(joined, feature_keys), seen


def batches_for(
    rows: tf.data.Dataset,
    feature_keys: Sequence[str],
    counts: TrainingStatistics,
    parameters: TrainerParameters,
    seed: int,
) -> Tuple[tf.data.Dataset, ClassBalance]:
    """A model's batches of its stacked rows (`counts` of them) and the class mix they show.

    Topped up to `trainer.min_batch_positives` positives a batch when that is > 0, else reshuffled every epoch.
    """
    row_count, balance = counts.rows, ClassBalance(counts.positives, counts.negatives)
    buffer_rows = shuffle_buffer_rows(row_count, len(feature_keys))
    batch_size, min_positives = parameters.batch_size, parameters.min_batch_positives
    if min_positives > 0:
        return topped_up_batches(rows, feature_keys, row_count, balance, batch_size, min_positives, seed, buffer_rows)
    return shuffled_batches(rows, feature_keys, batch_size, seed, buffer_rows), balance
