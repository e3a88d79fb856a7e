"""`preprocessing_fn` for the stock TFX Transform, built from the data set's columns (no column named in code).

- Numeric columns are standardised with full-pass statistics of the training split (mean and
  variance over the values present). A missing value becomes 0, the mean after standardising, and
  a column that had missing values in the data gets an indicator feature `<column>__missing`, so
  the model can tell an imputed mean from a real one.
- Categorical columns (text, or numbers declared categorical) go through a vocabulary of the
  training split with out-of-vocabulary buckets, so a category never seen in training still maps
  to an id; a missing value is a category of its own. The Trainer one-hot encodes or embeds the ids.
- The label passes through as the class index that data prep wrote: 0/1 for a binary label,
  0..k-1 for a multiclass one (the Transform needs no class count: the index is already final).

The transform graph is exported inside the model, so the serving signature takes raw tf.Examples.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

import tensorflow as tf
import tensorflow_transform as tft

from components.transform.spec import (
    MISSING_CATEGORY,
    TransformInputs,
    missing_indicator_key,
    vocabulary_name,
)


def _single_values(feature: Any, default: Any) -> tf.Tensor:
    """A [batch] tensor of a feature with at most one value per row; `default` where a row has none."""
    if isinstance(feature, tf.SparseTensor):
        feature = tf.sparse.reset_shape(feature, tf.stack([feature.dense_shape[0], 1]))
        return tf.sparse.to_dense(feature, default_value=default)[:, 0]
    if feature.shape.rank == 2:
        return feature[:, 0]
    return feature


def _present_values(feature: Any) -> tf.Tensor:
    return feature.values if isinstance(feature, tf.SparseTensor) else tf.reshape(feature, [-1])


def standardize(feature: Any) -> Dict[str, tf.Tensor]:
    """z-scores of one numeric column, and whether each row was missing (for columns that can be).

    The full-pass mean and variance are summed in float64: Beam may combine partial sums in another
    order on each run, and in float32 that moved the z-scores (and a model's probabilities) by ~1e-7
    between two runs on the same data; in float64 the order's effect vanishes in the float32 result.
    """
    present = tf.cast(_present_values(feature), tf.float64)
    mean = tft.mean(present)
    std = tf.sqrt(tft.var(present))
    values = tf.cast(_single_values(feature, tf.constant(float("nan"), feature.dtype)), tf.float64)
    missing = tf.math.is_nan(values)
    scaled = tf.cast((values - mean) / tf.where(std > 0.0, std, tf.ones_like(std)), tf.float32)
    return {"value": tf.where(missing, tf.zeros_like(scaled), scaled), "missing": tf.cast(missing, tf.float32)}


def categorical_ids(feature: Any, name: str, inputs: TransformInputs) -> tf.Tensor:
    """Vocabulary ids of one categorical column; unseen categories fall into the out-of-vocabulary buckets."""
    if feature.dtype != tf.string:
        feature = (
            tf.SparseTensor(feature.indices, tf.strings.as_string(feature.values), feature.dense_shape)
            if isinstance(feature, tf.SparseTensor)
            else tf.strings.as_string(feature)
        )
    values = _single_values(feature, MISSING_CATEGORY)
    parameters = inputs.parameters
    return tft.compute_and_apply_vocabulary(
        values,
        top_k=parameters.max_vocabulary,
        frequency_threshold=parameters.min_category_count,
        num_oov_buckets=parameters.oov_buckets,
        vocab_filename=vocabulary_name(name),
    )


def preprocessing_fn(raw: Mapping[str, Any], custom_config: Mapping[str, Any]) -> Dict[str, tf.Tensor]:
    """The model's inputs from raw features; `custom_config` is `TransformInputs.to_custom_config()`."""
    inputs = TransformInputs.from_custom_config(custom_config)
    outputs: Dict[str, tf.Tensor] = {}
    for name in inputs.numeric_feature_keys:
        scaled = standardize(raw[name])
        outputs[name] = scaled["value"]
        if name in inputs.nullable_feature_keys:
            outputs[missing_indicator_key(name)] = scaled["missing"]
    for name in inputs.categorical_feature_keys:
        outputs[name] = categorical_ids(raw[name], name, inputs)
    if inputs.label_key in raw:
        outputs[inputs.label_key] = tf.cast(_single_values(raw[inputs.label_key], tf.constant(-1, tf.int64)), tf.int64)
    return outputs
