"""The Trainer's input pipeline: decoding a split, caching its rows on disk, shuffling, class counts.

A split, as the Transform wrote it, is decoded by TFXIO once, into rows of (feature vector,
label) that are cached in a file on local disk. A training split the shuffle buffer holds is
then sorted by content in memory (`in_content_order`) and every later pass (each epoch, each
ensemble member) reads those sorted rows; a larger one is read from the disk cache, which its
counting pass writes. Categorical vocabulary ids travel in the float vector too (exact below
2**24, far above any vocabulary kept); the model splits the vector by position. The inputs need
no statistics of their own: the Transform standardised them.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import List, Sequence

import numpy as np
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

# Memory the per-epoch shuffle buffer may hold: a split of up to ~350k rows of 30 features is
# shuffled completely every epoch, a larger one within a window that size, so that batches mix
# the whole split as far as memory allows.
SHUFFLE_BUFFER_BYTES = 128 * 1024 * 1024
# A row in the buffer: float32 features and label, plus tf.data's per-tensor overhead (measured order).
ROW_OVERHEAD_BYTES = 256
# Batch size of the counting pass over the cached rows.
STATISTICS_BATCH_ROWS = 8192


class TrainingDataError(ValueError):
    """The training data cannot train a classifier (for example, it has no positives)."""


@dataclasses.dataclass(frozen=True)
class TrainingStatistics:
    """Class counts of the training split, as the Trainer reads it (after Rebalance)."""

    rows: int
    positives: int

    @property
    def negatives(self) -> int:
        return self.rows - self.positives


def model_schema(schema: schema_pb2.Schema, keep: Sequence[str]) -> schema_pb2.Schema:
    """The schema restricted to the model's inputs and label, so TFXIO decodes nothing else."""
    wanted = set(keep)
    found = {feature.name for feature in schema.feature}
    missing = sorted(wanted - found)
    if missing:
        raise ValueError(f"schema lacks features {missing}; found {sorted(found)}")
    narrowed = schema_pb2.Schema()
    narrowed.CopyFrom(schema)
    del narrowed.feature[:]
    narrowed.feature.extend(feature for feature in schema.feature if feature.name in wanted)
    return narrowed


def read_split(
    file_pattern: List[str],
    data_accessor: tfx.components.DataAccessor,
    schema: schema_pb2.Schema,
    label_key: str,
    feature_keys: Sequence[str],
    batch_size: int,
) -> tf.data.Dataset:
    """One pass over a split in file order: batches of ({feature: float32 [batch, 1]}, float32 label).

    `schema` is the Transform's output schema (`TFTransformOutput.transformed_metadata.schema`),
    which describes `transformed_feature_spec()`: float features and int64 ids, one value a row.
    """
    options = tfxio.TensorFlowDatasetOptions(
        batch_size=batch_size, label_key=label_key, num_epochs=1, shuffle=False, sloppy_ordering=False
    )
    dataset = data_accessor.tf_dataset_factory(file_pattern, options, schema)
    keys = tuple(feature_keys)
    return dataset.map(
        lambda features, label: (
            {key: tf.reshape(tf.cast(features[key], tf.float32), [-1, 1]) for key in keys},
            tf.reshape(tf.cast(label, tf.float32), [-1, 1]),
        )
    )


def stack_features(batches: tf.data.Dataset, feature_keys: Sequence[str]) -> tf.data.Dataset:
    """Feature dicts -> one [batch, features] matrix: a row is then two tensors, cheap to unbatch and cache."""
    return batches.map(lambda features, label: (tf.concat([features[key] for key in feature_keys], axis=1), label))


def unstack_features(dataset: tf.data.Dataset, feature_keys: Sequence[str]) -> tf.data.Dataset:
    """Stacked features -> a dict of one column per feature; for batches ([batch, features]) and rows alike."""
    return dataset.map(
        lambda stacked, label: ({key: stacked[..., index : index + 1] for index, key in enumerate(feature_keys)}, label)
    )


def disk_cached_rows(batches: tf.data.Dataset, feature_keys: Sequence[str], cache_path: str) -> tf.data.Dataset:
    """Rows (feature matrix row, label) of a split, decoded once and cached in a file on disk.

    Parsing gzip-compressed tf.Examples dominates an epoch's time; reading the decoded cache
    costs a fraction of that. The cache is on disk, so memory stays one shuffle buffer whatever
    the split's size. The first full pass (the counting pass) writes it.
    """
    return stack_features(batches, feature_keys).unbatch().cache(cache_path)


def shuffle_buffer_rows(rows: float, feature_count: int) -> int:
    """Rows the shuffle buffer holds: all of them, or as many as SHUFFLE_BUFFER_BYTES allows."""
    return int(max(1, min(math.ceil(rows), _buffer_capacity(feature_count))))


def _buffer_capacity(feature_count: int) -> int:
    return SHUFFLE_BUFFER_BYTES // (4 * (feature_count + 1) + ROW_OVERHEAD_BYTES)


def shuffled_batches(
    rows: tf.data.Dataset, feature_keys: Sequence[str], batch_size: int, seed: int, buffer_rows: int
) -> tf.data.Dataset:
    """Batches of cached rows, reshuffled every epoch from a seed (same seed, same batches)."""
    shuffled = rows.shuffle(buffer_rows, seed=seed, reshuffle_each_iteration=True)
    return unstack_features(shuffled.batch(batch_size), feature_keys)


def in_content_order(rows: tf.data.Dataset, feature_count: int) -> tf.data.Dataset:
    """The rows sorted by their content when the shuffle buffer would hold them all; else as they come.

    Beam writes a split's records in an order that can change from run to run (ImportExampleGen's
    bundles), and a seeded shuffle of another order makes other batches and another model. Sorted
    by content, the batches depend on the rows and the seed alone, so the same Examples give the same
    model. Memory is the shuffle buffer's bound (`shuffle_buffer_rows`), which holds such a split in
    full anyway; a larger split keeps the files' order and is shuffled within a window (logged).
    """
    limit = _buffer_capacity(feature_count)
    features: List[np.ndarray] = []
    labels: List[np.ndarray] = []
    held = 0
    for stacked, label in rows.batch(STATISTICS_BATCH_ROWS):
        features.append(stacked.numpy())
        labels.append(label.numpy())
        held += len(labels[-1])
        if held > limit:
            logging.warning(
                "Training split larger than the shuffle buffer (%d rows): batches follow the files' order, "
                "which Beam may change between runs, so a run on re-ingested data may train another model",
                limit,
            )
            return rows
    if not held:
        return rows
    matrix = np.concatenate(features)
    label_column = np.concatenate(labels)
    # np.lexsort orders by its last key first: the label, then the features from the first on.
    order = np.lexsort(np.column_stack([matrix, label_column])[:, ::-1].T)
    return tf.data.Dataset.from_tensor_slices((matrix[order], label_column[order]))


def compute_training_statistics(dataset: tf.data.Dataset) -> TrainingStatistics:
    """Rows and positives in one pass over (features, label) batches; memory is one batch."""

    def accumulate(state, batch):
        count, positives = state
        _, label = batch
        label = tf.reshape(label, [-1])
        return (
            count + tf.cast(tf.shape(label)[0], tf.int64),
            positives + tf.reduce_sum(tf.cast(label > 0.5, tf.int64)),
        )

    initial = (tf.constant(0, tf.int64), tf.constant(0, tf.int64))
    count, positives = (value.numpy() for value in dataset.reduce(initial, accumulate))
    if count == 0:
        raise TrainingDataError("the training split is empty")
    return TrainingStatistics(rows=int(count), positives=int(positives))
