"""The network's inputs: numeric columns as they are, categorical ids one-hot or embedded by their range."""

import math

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import network
from components.trainer.spec import TrainerParameters

INPUTS = network.ModelInputs(numeric_keys=("amount", "amount__missing"), categorical_ids=(("colour", 5), ("zip", 400)))


def _model(seed=3):
    return network.build_model(INPUTS, TrainerParameters(hidden_units=(8,)), network.ClassBalance(10, 90), seed)


def _batch():
    return {
        "amount": tf.constant([[0.3], [-1.2]]),
        "amount__missing": tf.constant([[0.0], [1.0]]),
        "colour": tf.constant([[4.0], [0.0]]),
        "zip": tf.constant([[399.0], [17.0]]),
    }


def test_inputs_are_numeric_then_categorical():
    assert INPUTS.keys == ("amount", "amount__missing", "colour", "zip")


@pytest.mark.parametrize("ids,dim", [(2, 3), (33, 12), (400, 16)])
def test_embedding_width_follows_the_rule_and_is_capped(ids, dim):
    assert network.embedding_dim(ids) == min(16, math.ceil(1.6 * ids**0.56)) == dim


def test_few_ids_go_one_hot_and_many_through_an_embedding():
    model = _model()
    one_hot, embedded = model.get_layer("categorical_0"), model.get_layer("categorical_1")
    assert isinstance(one_hot, tf.keras.layers.CategoryEncoding)
    assert isinstance(embedded, tf.keras.layers.Embedding)
    assert (embedded.input_dim, embedded.output_dim) == (400, network.embedding_dim(400))
    # 2 numeric columns + 5 one-hot columns + the embedding's width feed the first layer.
    assert model.get_layer("hidden_0").kernel.shape == (2 + 5 + network.embedding_dim(400), 8)


def test_the_model_scores_float_ids_and_is_the_same_for_the_same_seed():
    logits = _model(seed=3)(_batch()).numpy()
    assert logits.shape == (2, 1) and np.all(np.isfinite(logits))
    np.testing.assert_array_equal(_model(seed=3)(_batch()).numpy(), logits)
    assert not np.array_equal(_model(seed=4)(_batch()).numpy(), logits)


def test_a_model_with_only_categorical_inputs_builds():
    only = network.ModelInputs(numeric_keys=(), categorical_ids=(("colour", 5),))
    model = network.build_model(only, TrainerParameters(hidden_units=(4,)), network.ClassBalance(1, 1), 0)
    assert model({"colour": tf.constant([[2.0]])}).shape == (1, 1)
