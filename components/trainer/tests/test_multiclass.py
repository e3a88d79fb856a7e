"""The multiclass pieces against closed forms: priors, balanced weights and alpha, the losses, counts, the metric."""

import json
import math

import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from components.common.parameters import ParameterError
from components.trainer import ensemble, multiclass
from components.trainer.inputs import TrainingDataError
from components.trainer.multiclass import ClassMix
from components.trainer.multiclass_training import member_mix
from components.trainer.network import ModelInputs
from components.trainer.spec import CLASS_NAMES, TrainerParameters, TrainerRunConfig
from components.trainer.tests import fixtures

MIX = ClassMix((6.0, 3.0, 1.0))
LOGITS = np.array([[2.0, 0.5, -1.0], [0.1, 0.3, 0.2], [-3.0, 1.0, 4.0], [0.0, 0.0, 0.0]], dtype=np.float32)
LABELS = np.array([0, 1, 2, 2])


def _log_softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _loss_values(parameters, mix=MIX):
    loss = multiclass.make_loss_for(parameters, mix)
    return loss.call(tf.constant(LABELS.reshape(-1, 1), tf.float32), tf.constant(LOGITS)).numpy()


def test_priors_balanced_weights_and_balanced_alpha_are_their_closed_forms():
    assert MIX.log_priors() == pytest.approx((math.log(0.6), math.log(0.3), math.log(0.1)))
    # n / (k * count_c): 10 / 18, 10 / 9, 10 / 3.
    assert MIX.balanced_class_weights() == pytest.approx({0: 10 / 18, 1: 10 / 9, 2: 10 / 3})
    # 1 / count_c normalised: (1/6, 1/3, 1) / 1.5.
    assert MIX.balanced_focal_alpha() == pytest.approx((1 / 9, 2 / 9, 2 / 3))
    assert sum(MIX.balanced_focal_alpha()) == pytest.approx(1.0)


def test_cross_entropy_and_balanced_weighted_cross_entropy():
    log_p_t = _log_softmax(LOGITS)[np.arange(4), LABELS]
    np.testing.assert_allclose(_loss_values(TrainerParameters(loss="bce")), -log_p_t, rtol=1e-6)
    weights = np.array([10 / 18, 10 / 9, 10 / 3])[LABELS]
    np.testing.assert_allclose(_loss_values(TrainerParameters(loss="weighted_bce")), -weights * log_p_t, rtol=1e-6)


@pytest.mark.parametrize(
    "alpha_classes,alpha",
    [((), (1 / 9, 2 / 9, 2 / 3)), ((0.2, 0.3, 0.5), (0.2, 0.3, 0.5))],
    ids=["balanced", "given"],
)
def test_focal_loss_with_per_class_alpha(alpha_classes, alpha):
    gamma = 2.0
    p_t = np.exp(_log_softmax(LOGITS))[np.arange(4), LABELS]
    expected = -np.array(alpha)[LABELS] * (1 - p_t) ** gamma * np.log(p_t)
    parameters = TrainerParameters(loss="focal", focal_gamma=gamma, focal_alpha_classes=alpha_classes)
    np.testing.assert_allclose(_loss_values(parameters), expected, rtol=1e-5)


def test_the_output_bias_starts_at_the_log_priors_and_the_model_predicts_them():
    features = ModelInputs(("a", "b"))
    parameters = TrainerParameters(hidden_units=(4,), **{"dropout": 0.0})
    model = multiclass.build_model(features, parameters, MIX, seed=1)
    np.testing.assert_allclose(model.get_layer("logits").bias.numpy(), MIX.log_priors(), rtol=1e-6)
    # With a zero kernel the softmax of the output is exactly the class mix.
    model.get_layer("logits").kernel.assign(tf.zeros_like(model.get_layer("logits").kernel))
    probabilities = tf.nn.softmax(model({"a": tf.ones([1, 1]), "b": tf.zeros([1, 1])})).numpy()
    np.testing.assert_allclose(probabilities[0], [0.6, 0.3, 0.1], rtol=1e-5)
    no_bias = multiclass.build_model(features, TrainerParameters(initial_bias=False), MIX, seed=1)
    assert not no_bias.get_layer("logits").bias.numpy().any()


def test_class_counts_in_one_pass_and_a_label_outside_the_classes_is_an_error():
    labels = np.array([0, 2, 2, 1, 0, 0, 3], dtype=np.float32).reshape(-1, 1)
    batches = tf.data.Dataset.from_tensor_slices(({"a": np.zeros_like(labels)}, labels)).batch(3)
    assert multiclass.count_classes(batches, 4) == (3, 1, 2, 1)
    with pytest.raises(TrainingDataError, match=r"1 training rows have a label that is not a class index 0..2 "):
        multiclass.count_classes(batches, 3)
    odd = tf.data.Dataset.from_tensor_slices(({"a": np.zeros((3, 1))}, np.array([[0.0], [1.5], [-1.0]]))).batch(2)
    with pytest.raises(TrainingDataError, match=r"2 training rows .* \(smallest -1, largest 1.5\)"):
        multiclass.count_classes(odd, 3)
    with pytest.raises(TrainingDataError, match=r"no rows of classes \['heat'\] of 'Class' \(none=3, .*heat=0\)"):
        multiclass.require_every_class((3, 1, 2, 0), fixtures.CLASS_NAMES, "Class")


def test_the_early_stopping_metric_is_the_protected_classes_mean_one_vs_rest_auc():
    rng = np.random.default_rng(0)
    labels = rng.choice(3, size=2000, p=[0.7, 0.2, 0.1])
    logits = rng.normal(size=(2000, 3)) + 1.5 * np.eye(3)[labels]
    probabilities = np.exp(_log_softmax(logits))
    metric = multiclass.OneVsRestAUC(3, [1, 2], curve="ROC", num_thresholds=500)
    metric.update_state(labels.astype(np.float32).reshape(-1, 1), logits.astype(np.float32))
    expected = np.mean([roc_auc_score(labels == c, probabilities[:, c]) for c in (1, 2)])
    assert float(metric.result()) == pytest.approx(expected, abs=5e-3)
    # Its config rebuilds it (a Keras save of the compiled model).
    config = json.loads(json.dumps(metric.get_config()))
    assert multiclass.OneVsRestAUC.from_config(config).classes == [1, 2]


def test_balanced_bagging_keeps_every_row_but_a_share_of_the_largest_class():
    labels = np.repeat(np.arange(4, dtype=np.float32), [400, 300, 20, 10])
    rows = tf.data.Dataset.from_tensor_slices(({"a": np.arange(labels.size, dtype=np.float32)}, labels))
    keep = ensemble.majority_subset_filter(7, 0, 0.25, minority_label=(1.0, 2.0, 3.0))
    kept = np.array([label for _, label in rows.filter(keep).as_numpy_iterator()])
    counts = np.bincount(kept.astype(int), minlength=4)
    assert counts[1] == 300 and counts[2] == 20 and counts[3] == 10, "every row of the smaller classes"
    assert 70 <= counts[0] <= 130, f"about a quarter of the largest class, got {counts}"
    assert member_mix((400, 300, 20, 10), 0.25).counts == (100.0, 300.0, 20.0, 10.0)
    assert member_mix((30, 300, 20, 10), 0.5).counts == (30.0, 150.0, 20.0, 10.0)


NAMES = {"label_key": "Class", "numeric_feature_keys": ("a",)}


def test_class_names_travel_in_the_custom_config_and_a_binary_config_has_none():
    run = TrainerRunConfig(**NAMES, class_names=fixtures.CLASS_NAMES, protected_classes=(2, 3))
    assert run.is_multiclass
    assert TrainerRunConfig.from_custom_config(json.loads(json.dumps(run.to_custom_config()))) == run
    binary = TrainerRunConfig(**NAMES)
    assert CLASS_NAMES not in binary.to_custom_config() and not binary.is_multiclass


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"class_names": ("a", "b")}, r"class_names \['a', 'b'\] name < 3 classes; leave it empty for binary"),
        ({"class_names": ("a", "b", "a"), "protected_classes": (1,)}, "class_names must be distinct"),
        ({"class_names": ("a", "b", "c")}, r"protected_classes must be distinct class indices 0..2, at least one"),
        ({"class_names": ("a", "b", "c"), "protected_classes": (3,)}, r"indices 0..2, at least one; got \[3\]"),
        ({"protected_classes": (1,)}, "protected_classes need a multiclass label"),
        ({"parameters": TrainerParameters(loss="pos_weight")}, "^trainer.loss=pos_weight is binary only; the label"),
        ({"parameters": TrainerParameters(focal_alpha_classes=(0.5, 0.5))}, "has 2 values; give one per class"),
    ],
)
def test_a_setting_multiclass_cannot_use_is_one_line_naming_it(settings, message):
    multiclass_names = {"class_names": ("a", "b", "c"), "protected_classes": (2,)}
    if "class_names" in settings or "protected_classes" in settings:
        multiclass_names = {}
    with pytest.raises(ParameterError, match=message):
        TrainerRunConfig(**NAMES, **{**multiclass_names, **settings})


@pytest.mark.parametrize("model", ["gbt", "mlp_gbt"])
def test_a_multiclass_label_accepts_the_tree_families(model):
    """TF-DF boosts k classes natively (`trees.py`); the MLP half of mlp_gbt is the multiclass MLP."""
    parameters = TrainerParameters(model=model, gbt_example_weights="balanced")
    run = TrainerRunConfig(**NAMES, class_names=("a", "b", "c"), protected_classes=(2,), parameters=parameters)
    assert run.is_multiclass and run.parameters.model == model
    assert TrainerRunConfig.from_custom_config(json.loads(json.dumps(run.to_custom_config()))) == run


def test_focal_alpha_classes_is_refused_for_binary_and_checked_for_range():
    with pytest.raises(ParameterError, match="focal_alpha_classes is for a multiclass label"):
        TrainerRunConfig(**NAMES, parameters=TrainerParameters(focal_alpha_classes=(0.2, 0.3, 0.5)))
    with pytest.raises(ParameterError, match=r"focal_alpha_classes must all be in \(0, 1\)"):
        TrainerParameters(focal_alpha_classes=(0.0, 0.5, 0.5))
    assert TrainerParameters.parse_field("focal_alpha_classes", "0.2,0.3,0.5") == (0.2, 0.3, 0.5)
