"""The exported signature on RAW tf.Examples: missing values, unseen categories, no label, extra columns.

The model is trained by the stock Trainer on the stock Transform's output; the requests are raw
examples as data prep writes them, never transformed by the test.
"""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import serving
from components.trainer.tests import fixtures
from components.transform.spec import vocabulary_name

KNOWN = {key: 0.5 for key in fixtures.FEATURE_KEYS}


@pytest.fixture(scope="module")
def serving_dir(transformed, tmp_path_factory):
    serving_dir, _ = fixtures.run_trainer(
        *transformed, fixtures.run_config(max_epochs=1), tmp_path_factory.mktemp("trained")
    )
    return serving_dir


def _serve(serving_dir, records):
    signature = tf.saved_model.load(serving_dir).signatures["serving_default"]
    outputs = signature(**{serving.SERVING_INPUT: tf.constant(records)})
    return {name: value.numpy().reshape(-1) for name, value in outputs.items()}


def test_raw_examples_with_missing_values_and_unseen_categories_score(serving_dir):
    records = [
        fixtures.make_example({**KNOWN, fixtures.CATEGORICAL_KEY: "north"}, None),
        fixtures.make_example({**KNOWN, fixtures.NULLABLE_KEY: None, fixtures.CATEGORICAL_KEY: "north"}, None),
        fixtures.make_example({**KNOWN, fixtures.CATEGORICAL_KEY: "atlantis"}, None),
        fixtures.make_example({**KNOWN, fixtures.CATEGORICAL_KEY: "lemuria"}, None),
        fixtures.make_example(KNOWN, None),  # the categorical column absent
        fixtures.make_example({}, None),  # every column absent
        fixtures.make_example({**KNOWN, fixtures.CATEGORICAL_KEY: "north", "row_id": "a-17"}, 1),
    ]
    outputs = _serve(serving_dir, records)
    probability = outputs[serving.PROBABILITY_OUTPUT]
    assert probability.shape == (len(records),)
    assert np.all(np.isfinite(probability)) and np.all((probability > 0) & (probability < 1))
    threshold = outputs[serving.THRESHOLD_OUTPUT]
    np.testing.assert_array_equal(outputs[serving.DECISION_OUTPUT], (probability >= threshold).astype(np.float32))
    assert probability[1] != probability[0], "a missing value is imputed and flagged, not read as the value given"
    assert probability[2] == probability[3], "every unseen category falls into the one out-of-vocabulary bucket"
    assert probability[2] != probability[0], "an unseen category is not scored as a known one"
    assert probability[6] == probability[0], "the label and columns the model does not read change nothing"


def test_the_saved_model_carries_the_transform_graph_and_its_vocabulary(serving_dir, tmp_path):
    moved = shutil.copytree(serving_dir, tmp_path / "moved")
    assets = os.listdir(moved / "assets")
    assert any(name.startswith(vocabulary_name(fixtures.CATEGORICAL_KEY)) for name in assets), assets
    record = fixtures.make_example({**KNOWN, fixtures.CATEGORICAL_KEY: "south"}, None)
    here, there = _serve(serving_dir, [record]), _serve(str(moved), [record])
    assert here.keys() == there.keys()
    for name in here:
        np.testing.assert_array_equal(there[name], here[name])


def test_serving_parses_every_raw_feature_as_optional_and_never_the_label():
    raw = {
        "Class": tf.io.VarLenFeature(tf.int64),
        "amount": tf.io.VarLenFeature(tf.float32),
        "band": tf.io.FixedLenFeature([], tf.string),
        "country": tf.io.FixedLenFeature([], tf.string),
        "age": tf.io.FixedLenFeature([], tf.float32, default_value=-1.0),
    }
    spec = serving.serving_feature_spec(raw, "Class", model_input_keys=("amount", "country", "age"))
    # `band` is required but no model input reads it: dropped; `country` is one: kept.
    assert sorted(spec) == ["age", "amount", "country"]
