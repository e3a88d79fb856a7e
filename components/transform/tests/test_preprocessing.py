"""preprocessing_fn through a real tf.Transform Beam job on tiny data: z-scores, missing indicators, vocabularies."""

from __future__ import annotations

import dataclasses
import tempfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from components.common.parameters import ParameterError
from components.transform.preprocessing import preprocessing_fn
from components.transform.spec import TransformInputs, TransformParameters, missing_indicator_key, vocabulary_name

FEATURE_SPEC = {
    "age": tf.io.FixedLenFeature([], tf.float32),
    "marker": tf.io.VarLenFeature(tf.float32),
    "region": tf.io.VarLenFeature(tf.string),
    "diagnosis": tf.io.FixedLenFeature([], tf.int64),
}
ROWS = [
    {"age": 20.0, "marker": [1.0], "region": [b"north"], "diagnosis": 0},
    {"age": 40.0, "marker": [], "region": [b"south"], "diagnosis": 1},
    {"age": 60.0, "marker": [3.0], "region": [b"north"], "diagnosis": 0},
    {"age": 80.0, "marker": [5.0], "region": [], "diagnosis": 0},
]
INPUTS = TransformInputs("diagnosis", ("age", "marker"), ("region",), nullable_feature_keys=("marker",))


def transform(rows, inputs=INPUTS):
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(FEATURE_SPEC))
    with tft_beam.Context(temp_dir=tempfile.mkdtemp(), force_tf_compat_v1=False):
        (transformed, _), transform_fn = (rows, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda raw: preprocessing_fn(raw, inputs.to_custom_config()), output_record_batches=False
        )
        output_dir = tempfile.mkdtemp()
        _ = transform_fn | tft_beam.WriteTransformFn(output_dir)
    return transformed, tft.TFTransformOutput(output_dir)


def test_numbers_are_standardised_with_missing_values_imputed_and_flagged():
    transformed, _ = transform(ROWS)
    ages = np.array([row["age"] for row in transformed])
    np.testing.assert_allclose(ages, (np.array([20, 40, 60, 80]) - 50) / np.std([20, 40, 60, 80]), rtol=1e-5)
    markers = [row["marker"] for row in transformed]
    np.testing.assert_allclose(markers, [(1 - 3) / np.std([1, 3, 5]), 0.0, 0.0, (5 - 3) / np.std([1, 3, 5])], rtol=1e-5)
    assert [row[missing_indicator_key("marker")] for row in transformed] == [0.0, 1.0, 0.0, 0.0]
    assert missing_indicator_key("age") not in transformed[0], "a column never missing in the data needs no indicator"
    assert [row["diagnosis"] for row in transformed] == [0, 1, 0, 0]


def test_z_scores_are_clipped_when_asked_and_the_served_graph_clips_the_same():
    """Clipping bounds the model's input; the mean and variance (and the unclipped rows) stay those of the data."""
    rows = [dict(ROWS[0], age=float(age)) for age in (0, 0, 0, 0, 0, 0, 0, 0, 0, 1000)]
    inputs = dataclasses.replace(INPUTS, parameters=TransformParameters(z_score_clip=2.0))
    transformed, output = transform(rows, inputs)
    plain = (np.array([0.0] * 9 + [1000.0]) - 100) / 300
    np.testing.assert_allclose([row["age"] for row in transformed], np.minimum(plain, 2.0), rtol=1e-5)
    assert plain[-1] == pytest.approx(3.0), "the fixture's outlier lies beyond the clip"
    served = output.transform_features_layer()({"age": tf.constant([-5000.0, 100.0, 5000.0])})
    np.testing.assert_allclose(served["age"].numpy(), [-2.0, 0.0, 2.0], rtol=1e-6)


def test_a_row_with_two_values_in_one_column_is_refused():
    """Each column has at most one value per row (data prep writes one); a second one must fail, not be dropped."""
    rows = [dict(ROWS[0], marker=[1.0, 2.0]), *ROWS[1:]]
    with pytest.raises(ValueError, match=r"is out of bounds"):
        transform(rows)


def test_categories_get_vocabulary_ids_missing_is_a_category_and_unseen_ones_fall_into_oov():
    transformed, output = transform(ROWS)
    vocabulary = output.vocabulary_by_name(vocabulary_name("region"))
    assert sorted(vocabulary) == [b"__missing__", b"north", b"south"]
    ids = [row["region"] for row in transformed]
    assert ids[0] == ids[2] != ids[1] and len(set(ids)) == 3
    assert output.num_buckets_for_transformed_feature("region") == 4
    raw = {
        "age": tf.constant([50.0]),
        "marker": tf.sparse.from_dense(tf.constant([[3.0]])),
        "region": tf.sparse.from_dense(tf.constant([[b"west"]])),
    }
    served = output.transform_features_layer()(raw)
    assert int(served["region"][0]) == 3, "an unseen category maps to the out-of-vocabulary bucket"
    assert float(served["age"][0]) == pytest.approx(0.0)


def test_inputs_travel_in_custom_config_and_are_checked():
    inputs = TransformInputs("y", ("a",), ("b",), ("a",), TransformParameters(oov_buckets=3))
    assert TransformInputs.from_custom_config(inputs.to_custom_config()) == inputs
    with pytest.raises(ParameterError, match=r"columns \['a'\] are both numeric and categorical"):
        TransformInputs("y", ("a",), ("a",))
    with pytest.raises(ParameterError, match=r"nullable columns \['b'\] are not numeric inputs"):
        TransformInputs("y", ("a",), ("b",), ("b",))
    with pytest.raises(ParameterError, match="the label 'y' must not be a model input"):
        TransformInputs("y", ("y",), ())
    with pytest.raises(ParameterError, match="transform.oov_buckets must be >= 1"):
        TransformParameters(oov_buckets=0)
    with pytest.raises(ParameterError, match="transform.z_score_clip must be > 0 or None, got 0"):
        TransformParameters(z_score_clip=0)
