"""`preprocessing_fn` for the stock TFX Transform, built from the data set's columns (no column named in code).

- Numeric columns are standardised with full-pass statistics of the training split (mean and
  variance over the values present), then clipped to +-`z_score_clip` when that is set. A missing
  value becomes 0, the mean after standardising, and a column that had missing values in the data
  gets an indicator feature `<column>__missing`, so the model can tell an imputed mean from a real one.
- Categorical columns (text, or numbers declared categorical) go through a vocabulary of the
  training split with out-of-vocabulary buckets, so a category never seen in training still maps
  to an id; a missing value is a category of its own. The Trainer one-hot encodes or embeds the ids.
- The label passes through as the class index that data prep wrote: 0/1 for a binary label,
  0..k-1 for a multiclass one (the Transform needs no class count: the index is already final).

The transform graph is exported inside the model, so the serving signature takes raw tf.Examples.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import tensorflow as tf
import tensorflow_transform as tft

from components.transform.spec import (
    MISSING_CATEGORY,
    TransformInputs,
    missing_indicator_key,
    vocabulary_name,
)


def _single_values(feature: Any, default: Any) -> tf.Tensor:
    """A [batch] tensor of a feature with at most one value per row; `default` where a row has none.

    A sparse feature goes straight into a [batch, 1] dense tensor (a row with two values fails its index
    check). `tf.sparse.reset_shape` then `to_dense` gave the same values, but reset_shape's shape assertions
    took about 40% of the time the Transform spends tracing `preprocessing_fn`, which it does about ten times.
    """
    if isinstance(feature, tf.SparseTensor):
        return tft.sparse_tensor_to_dense_with_shape(feature, [None, 1], default_value=default)[:, 0]
    if feature.shape.rank == 2:
        return feature[:, 0]
    return feature


def _present_values(feature: Any) -> tf.Tensor:
    return feature.values if isinstance(feature, tf.SparseTensor) else tf.reshape(feature, [-1])


def standardize(feature: Any, clip: Optional[float] = None) -> Dict[str, tf.Tensor]:
    """z-scores of one numeric column (clipped to +-`clip` if given), and whether each row was missing.

    The full-pass mean and variance are summed in float64: Beam may combine partial sums in another
    order on each run, and in float32 that moved the z-scores (and a model's probabilities) by ~1e-7
    between two runs on the same data; in float64 the order's effect vanishes in the float32 result.
    One analyzer per column: `tft.scale_to_z_score` gets the mean and variance from one full pass and
    gives (x - mean) / std, or x - mean where std is 0, as before. `tft.mean` and `tft.var` each built
    that same analyzer, so a column cost two to trace and to run; the z-scores are bit-identical.
    """
    present = tf.cast(_present_values(feature), tf.float64)
    scaled_present = tft.scale_to_z_score(present)
    if isinstance(feature, tf.SparseTensor):
        scaled_rows: Any = tf.SparseTensor(feature.indices, scaled_present, feature.dense_shape)
    else:
        scaled_rows = tf.reshape(scaled_present, tf.shape(feature))
    scaled = tf.cast(_single_values(scaled_rows, tf.constant(0.0, tf.float64)), tf.float32)
    if clip is not None:
        scaled = tf.clip_by_value(scaled, -clip, clip)
    missing = tf.math.is_nan(_single_values(feature, tf.constant(float("nan"), feature.dtype)))
    return {"value": scaled, "missing": tf.cast(missing, tf.float32)}


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
        scaled = standardize(raw[name], inputs.parameters.z_score_clip)
        outputs[name] = scaled["value"]
        if name in inputs.nullable_feature_keys:
            outputs[missing_indicator_key(name)] = scaled["missing"]
    for name in inputs.categorical_feature_keys:
        outputs[name] = categorical_ids(raw[name], name, inputs)
    if inputs.label_key in raw:
        outputs[inputs.label_key] = tf.cast(_single_values(raw[inputs.label_key], tf.constant(-1, tf.int64)), tf.int64)
    return outputs
