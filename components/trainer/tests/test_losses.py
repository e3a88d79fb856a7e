"""Losses against closed forms worked out by hand.

Logits are chosen so the probabilities are simple fractions:
sigmoid(ln 3) = 3/4, sigmoid(-ln 3) = 1/4, sigmoid(0) = 1/2, and the softmax of
[0, ln 2, 0] is [1/4, 1/2, 1/4], of [ln 3, 0, 0] is [3/5, 1/5, 1/5].
"""

import json
import math

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import losses

LN2, LN3, LN4 = math.log(2.0), math.log(3.0), math.log(4.0)

# Binary case used throughout: four examples.
BINARY_LABELS = np.array([[1.0], [0.0], [1.0], [0.0]], dtype=np.float32)
BINARY_LOGITS = np.array([[LN3], [LN3], [-LN3], [0.0]], dtype=np.float32)
# p = sigmoid(z) = [3/4, 3/4, 1/4, 1/2]; p_t (probability of the true class) = [3/4, 1/4, 1/4, 1/2].
# Cross-entropy -ln p_t per example = [ln(4/3), ln 4, ln 4, ln 2].
BINARY_CE = np.array([math.log(4.0 / 3.0), LN4, LN4, LN2])


def per_example(loss, labels, logits):
    """The loss's unreduced values (what Keras reduces with sample weights)."""
    return loss.call(tf.constant(labels), tf.constant(logits)).numpy()


def test_bce_matches_minus_log_p_t_and_keras():
    loss = losses.make_loss("bce")
    np.testing.assert_allclose(per_example(loss, BINARY_LABELS, BINARY_LOGITS), BINARY_CE, rtol=1e-6)
    # Reduced value: mean of [ln(4/3), ln 4, ln 4, ln 2] = (ln(4/3) + 2 ln 4 + ln 2) / 4.
    expected_mean = (math.log(4.0 / 3.0) + 2 * LN4 + LN2) / 4.0
    assert float(loss(BINARY_LABELS, BINARY_LOGITS)) == pytest.approx(expected_mean, rel=1e-6)
    keras_bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    assert float(loss(BINARY_LABELS, BINARY_LOGITS)) == pytest.approx(
        float(keras_bce(BINARY_LABELS, BINARY_LOGITS)), rel=1e-6
    )


def test_weighted_bce_is_class_weight_times_bce():
    loss = losses.make_loss("weighted_bce", class_weights={0: 0.5, 1: 2.0})
    # Labels [1, 0, 1, 0] -> weights [2, 0.5, 2, 0.5]; times CE [ln(4/3), ln 4, ln 4, ln 2].
    expected = np.array([2.0 * math.log(4.0 / 3.0), 0.5 * LN4, 2.0 * LN4, 0.5 * LN2])
    np.testing.assert_allclose(per_example(loss, BINARY_LABELS, BINARY_LOGITS), expected, rtol=1e-6)
    assert float(loss(BINARY_LABELS, BINARY_LOGITS)) == pytest.approx(expected.mean(), rel=1e-6)


def test_weighted_bce_balanced_weights_equal_keras_sample_weighting():
    # Balanced weights n/(k*count_c) for 2 positives and 2 negatives out of 4: 4/(2*2) = 1 each,
    # so weighting changes nothing; with 1 positive in 4 they are 4/(2*3) = 2/3 and 4/(2*1) = 2.
    labels = np.array([[1.0], [0.0], [0.0], [0.0]], dtype=np.float32)
    weights = {0: 4.0 / 6.0, 1: 2.0}
    loss = losses.make_loss("weighted_bce", class_weights=weights)
    manual = tf.keras.losses.BinaryCrossentropy(from_logits=True)(
        labels, BINARY_LOGITS, sample_weight=np.array([2.0, 2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0])
    )
    assert float(loss(labels, BINARY_LOGITS)) == pytest.approx(float(manual), rel=1e-6)


def test_pos_weight_matches_formula():
    loss = losses.make_loss("pos_weight", pos_weight=3.0)
    # -(w*y*ln p + (1-y)*ln(1-p)) with w = 3 and p = [3/4, 3/4, 1/4, 1/2]:
    #   y=1, p=3/4: 3*ln(4/3);  y=0, p=3/4: ln 4;  y=1, p=1/4: 3*ln 4;  y=0, p=1/2: ln 2.
    expected = np.array([3.0 * math.log(4.0 / 3.0), LN4, 3.0 * LN4, LN2])
    np.testing.assert_allclose(per_example(loss, BINARY_LABELS, BINARY_LOGITS), expected, rtol=1e-6)
    assert float(loss(BINARY_LABELS, BINARY_LOGITS)) == pytest.approx(expected.mean(), rel=1e-6)


def test_pos_weight_one_equals_bce():
    pos_weight = per_example(losses.make_loss("pos_weight", pos_weight=1.0), BINARY_LABELS, BINARY_LOGITS)
    np.testing.assert_allclose(pos_weight, BINARY_CE, rtol=1e-6)


def test_binary_focal_matches_hand_computation():
    loss = losses.make_loss("focal", focal_alpha=0.25, focal_gamma=2.0)
    # p_t = [3/4, 1/4, 1/4, 1/2] -> (1 - p_t)^2 = [1/16, 9/16, 9/16, 1/4];
    # alpha_t = 0.25 for positives, 0.75 for negatives -> [0.25, 0.75, 0.25, 0.75];
    # loss = alpha_t * (1 - p_t)^2 * (-ln p_t).
    expected = np.array(
        [
            0.25 * (1.0 / 16.0) * math.log(4.0 / 3.0),
            0.75 * (9.0 / 16.0) * LN4,
            0.25 * (9.0 / 16.0) * LN4,
            0.75 * (1.0 / 4.0) * LN2,
        ]
    )
    np.testing.assert_allclose(per_example(loss, BINARY_LABELS, BINARY_LOGITS), expected, rtol=1e-6)


def test_binary_focal_gamma_zero_alpha_half_is_half_bce():
    # gamma = 0 makes (1 - p_t)^0 = 1 and alpha = 0.5 makes alpha_t = 0.5 for both classes, so the
    # per-example focal loss equals 0.5 * binary cross-entropy, and so does the batch mean.
    focal = losses.make_loss("focal", focal_alpha=0.5, focal_gamma=0.0)
    np.testing.assert_allclose(per_example(focal, BINARY_LABELS, BINARY_LOGITS), 0.5 * BINARY_CE, rtol=1e-6)
    keras_bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)(BINARY_LABELS, BINARY_LOGITS)
    assert float(focal(BINARY_LABELS, BINARY_LOGITS)) == pytest.approx(0.5 * float(keras_bce), rel=1e-6)


def test_binary_focal_gamma_zero_is_alpha_weighted_bce():
    # gamma = 0, alpha = 0.25: focal = weighted BCE with weights {1: 0.25, 0: 0.75}.
    focal = per_example(losses.make_loss("focal", focal_alpha=0.25, focal_gamma=0.0), BINARY_LABELS, BINARY_LOGITS)
    weighted = per_example(
        losses.make_loss("weighted_bce", class_weights={0: 0.75, 1: 0.25}), BINARY_LABELS, BINARY_LOGITS
    )
    np.testing.assert_allclose(focal, weighted, rtol=1e-6)


def test_binary_focal_is_stable_for_confident_logits():
    loss = losses.make_loss("focal", focal_alpha=0.25, focal_gamma=2.0)
    labels = tf.constant([[1.0], [1.0], [0.0]])
    logits = tf.Variable([[100.0], [-100.0], [-100.0]])
    with tf.GradientTape() as tape:
        values = loss.call(labels, logits)
        total = tf.reduce_sum(values)
    gradient = tape.gradient(total, logits).numpy()
    # Right and confident: p_t ~ 1, loss ~ 0. Wrong and confident: p_t = sigmoid(-100), (1 - p_t)^2 ~ 1,
    # -ln p_t = 100 + ln(1 + e^-100) ~ 100, so the loss is alpha_t * 100 = 25.
    np.testing.assert_allclose(values.numpy(), [0.0, 25.0, 0.0], atol=1e-5)
    assert np.all(np.isfinite(gradient))
    # d/dz of -0.25 * ln sigmoid(z) at z = -100 is -0.25 * (1 - sigmoid(-100)) ~ -0.25.
    assert gradient[1, 0] == pytest.approx(-0.25, abs=1e-5)


# Multiclass case: k = 3, two examples.
MULTI_LOGITS = np.array([[0.0, LN2, 0.0], [LN3, 0.0, 0.0]], dtype=np.float32)
MULTI_LABELS = np.array([1, 2], dtype=np.int32)
# softmax rows: [1/4, 1/2, 1/4] and [3/5, 1/5, 1/5]; p_t = [1/2, 1/5]; CE = [ln 2, ln 5].
MULTI_CE = np.array([LN2, math.log(5.0)])


def test_multiclass_focal_per_class_alpha_matches_hand_computation():
    loss = losses.make_loss("focal", focal_alpha=[0.2, 0.3, 0.5], focal_gamma=2.0, num_classes=3)
    # Example 1: label 1, alpha 0.3, (1 - 1/2)^2 = 1/4, -ln(1/2) = ln 2.
    # Example 2: label 2, alpha 0.5, (1 - 1/5)^2 = 16/25, -ln(1/5) = ln 5.
    expected = np.array([0.3 * 0.25 * LN2, 0.5 * (16.0 / 25.0) * math.log(5.0)])
    np.testing.assert_allclose(per_example(loss, MULTI_LABELS, MULTI_LOGITS), expected, rtol=1e-6)


def test_multiclass_focal_gamma_zero_scalar_alpha_is_alpha_times_cross_entropy():
    # gamma = 0, scalar alpha a: focal = a * sparse categorical cross-entropy, per example and in the mean.
    loss = losses.make_loss("focal", focal_alpha=0.4, focal_gamma=0.0, num_classes=3)
    np.testing.assert_allclose(per_example(loss, MULTI_LABELS, MULTI_LOGITS), 0.4 * MULTI_CE, rtol=1e-6)
    keras_ce = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(MULTI_LABELS, MULTI_LOGITS)
    assert float(loss(MULTI_LABELS, MULTI_LOGITS)) == pytest.approx(0.4 * float(keras_ce), rel=1e-6)


def test_multiclass_focal_is_stable_for_confident_logits():
    loss = losses.make_loss("focal", focal_alpha=0.5, focal_gamma=2.0, num_classes=3)
    logits = tf.Variable([[200.0, 0.0, 0.0], [200.0, 0.0, 0.0]])
    with tf.GradientTape() as tape:
        values = loss.call(tf.constant([0, 1]), logits)
        total = tf.reduce_sum(values)
    gradient = tape.gradient(total, logits).numpy()
    # Right: p_t = 1 - 2e^-200, loss ~ 0. Wrong: p_t ~ e^-200, loss ~ 0.5 * 200 = 100.
    np.testing.assert_allclose(values.numpy(), [0.0, 100.0], atol=1e-4)
    assert np.all(np.isfinite(gradient))


def test_multiclass_weighted_cross_entropy():
    loss = losses.make_loss("weighted_bce", class_weights={0: 1.0, 1: 2.0, 2: 3.0}, num_classes=3)
    # Labels [1, 2] -> weights [2, 3]; CE [ln 2, ln 5].
    np.testing.assert_allclose(
        per_example(loss, MULTI_LABELS, MULTI_LOGITS), [2.0 * LN2, 3.0 * math.log(5.0)], rtol=1e-6
    )


def test_bce_multiclass_matches_keras():
    loss = losses.make_loss("bce", num_classes=3)
    np.testing.assert_allclose(per_example(loss, MULTI_LABELS, MULTI_LOGITS), MULTI_CE, rtol=1e-6)


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("bce", {}),
        ("weighted_bce", {"class_weights": {0: 0.5, 1: 2.0}}),
        ("pos_weight", {"pos_weight": 3.0}),
        ("focal", {"focal_alpha": 0.25, "focal_gamma": 2.0}),
    ],
)
def test_config_round_trip_through_json_keeps_the_loss(name, kwargs):
    loss = losses.make_loss(name, **kwargs)
    serialized = json.loads(json.dumps(tf.keras.losses.serialize(loss)))
    restored = tf.keras.losses.deserialize(serialized)
    assert type(restored) is type(loss)
    np.testing.assert_allclose(
        per_example(restored, BINARY_LABELS, BINARY_LOGITS), per_example(loss, BINARY_LABELS, BINARY_LOGITS)
    )


@pytest.mark.parametrize(
    "name,kwargs,expected",
    [
        # The model below outputs exactly BINARY_LOGITS, so the compiled loss is the closed-form mean.
        ("bce", {}, BINARY_CE.mean()),
        ("pos_weight", {"pos_weight": 3.0}, np.mean([3.0 * math.log(4.0 / 3.0), LN4, 3.0 * LN4, LN2])),
        ("focal", {"focal_alpha": 0.5, "focal_gamma": 0.0}, 0.5 * BINARY_CE.mean()),
    ],
)
def test_compiled_model_reports_closed_form_loss_and_trains(name, kwargs, expected):
    # A one-weight linear model z = x with inputs equal to the logits above.
    inputs = tf.keras.Input(shape=(1,), name="x")
    outputs = tf.keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros", name="logit")(inputs)
    model = tf.keras.Model(inputs, outputs)
    model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss=losses.make_loss(name, **kwargs))
    assert model.evaluate(BINARY_LOGITS, BINARY_LABELS, batch_size=4, verbose=0) == pytest.approx(expected, rel=1e-5)
    history = model.fit(BINARY_LOGITS, BINARY_LABELS, batch_size=4, epochs=2, verbose=0, shuffle=False)
    assert np.all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][1] < history.history["loss"][0]


def test_keras_model_with_focal_loss_saves_and_loads(tmp_path):
    inputs = tf.keras.Input(shape=(1,), name="x")
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(1, kernel_initializer="ones")(inputs))
    model.compile(optimizer="sgd", loss=losses.make_loss("focal", focal_alpha=0.3, focal_gamma=1.5))
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = tf.keras.models.load_model(path)
    assert isinstance(restored.loss, losses.FocalLoss)
    assert (restored.loss.alpha, restored.loss.gamma) == (0.3, 1.5)


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"name": "focal", "focal_alpha": 0.25, "focal_gamma": -0.5}, "gamma"),
        ({"name": "focal", "focal_alpha": 0.25, "focal_gamma": float("nan")}, "gamma"),
        ({"name": "focal", "focal_alpha": 0.0, "focal_gamma": 2.0}, "alpha"),
        ({"name": "focal", "focal_alpha": 1.0, "focal_gamma": 2.0}, "alpha"),
        ({"name": "focal", "focal_alpha": 1.5, "focal_gamma": 2.0}, "alpha"),
        ({"name": "focal", "focal_alpha": [0.2, 0.3], "focal_gamma": 2.0}, "binary focal alpha must be one number"),
        ({"name": "focal", "focal_alpha": [0.2, 0.3], "focal_gamma": 2.0, "num_classes": 3}, "one value per class"),
        ({"name": "focal", "focal_alpha": [0.2, 1.3, 0.5], "focal_gamma": 2.0, "num_classes": 3}, "alpha[1]"),
        ({"name": "focal", "focal_alpha": 0.25}, "needs focal_alpha and focal_gamma"),
        ({"name": "focal", "focal_gamma": 2.0}, "needs focal_alpha and focal_gamma"),
        ({"name": "pos_weight", "pos_weight": 0.0}, "pos_weight must be"),
        ({"name": "pos_weight", "pos_weight": -2.0}, "pos_weight must be"),
        ({"name": "pos_weight"}, "needs pos_weight"),
        ({"name": "pos_weight", "pos_weight": 2.0, "num_classes": 3}, "binary only"),
        ({"name": "weighted_bce"}, "needs class_weights"),
        ({"name": "weighted_bce", "class_weights": {1: 2.0}}, "lacks classes [0]"),
        ({"name": "weighted_bce", "class_weights": {0: 1.0, 1: 0.0}}, "finite and > 0"),
        ({"name": "weighted_bce", "class_weights": {0: 1.0, 1: 1.0, 5: 1.0}}, "outside"),
        ({"name": "hinge"}, "unknown loss 'hinge'"),
        ({"name": "bce", "num_classes": 1}, "num_classes"),
    ],
)
def test_bad_parameters_raise_clear_errors(kwargs, fragment):
    with pytest.raises(losses.LossConfigError) as raised:
        losses.make_loss(**kwargs)
    assert isinstance(raised.value, ValueError)
    assert fragment in str(raised.value)


def test_binary_loss_rejects_two_column_logits():
    with pytest.raises(losses.LossConfigError, match=r"shape \[batch, 1\]"):
        losses.make_loss("bce")(np.zeros([2, 1]), np.zeros([2, 2], dtype=np.float32))
