"""`trainer.loss=auc`: the pairwise surrogate against a brute-force loop over pairs, and what its gradient does."""

import json
import math

import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from components.trainer import losses
from components.trainer.auc_loss import AUCLossError, PairwiseAUCLoss, pair_loss_per_example

LABELS = np.array([1, 0, 0, 1, 0, 0, 1], dtype=np.float32)
LOGITS = np.array([0.3, -1.2, 0.8, 2.0, 0.1, -0.4, -0.7], dtype=np.float32)


def brute_force(labels, logits, bce_weight):
    """Mean over every (positive, negative) pair of log(1 + exp(-(s_pos - s_neg))), mixed with the mean BCE."""
    pairs = [
        math.log1p(math.exp(-(float(logits[i]) - float(logits[j]))))
        for i in range(labels.size)
        if labels[i] == 1
        for j in range(labels.size)
        if labels[j] == 0
    ]
    ranking = sum(pairs) / len(pairs) if pairs else 0.0
    probabilities = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    bce = -np.mean(labels * np.log(probabilities) + (1 - labels) * np.log(1 - probabilities))
    return bce_weight * bce + (1.0 - bce_weight) * ranking


@pytest.mark.parametrize("bce_weight", [0.0, 0.3, 1.0])
def test_batch_loss_equals_the_brute_force_pair_mean(bce_weight):
    loss = PairwiseAUCLoss(bce_weight)
    reduced = float(loss(LABELS.reshape(-1, 1), LOGITS.reshape(-1, 1)))
    assert reduced == pytest.approx(brute_force(LABELS, LOGITS, bce_weight), rel=1e-5)
    # Per example: a positive carries B/(2PN) times the sum over its negatives (and a negative over its positives).
    per_example = pair_loss_per_example(tf.constant(LABELS), tf.constant(LOGITS)).numpy()
    scale = LABELS.size / (2 * 3 * 4)
    first_positive = sum(math.log1p(math.exp(-(0.3 - LOGITS[j]))) for j in np.flatnonzero(LABELS == 0))
    assert per_example[0] == pytest.approx(scale * first_positive, rel=1e-5)


@pytest.mark.parametrize("labels", [np.ones(4, np.float32), np.zeros(4, np.float32)], ids=["positives", "negatives"])
def test_a_batch_without_pairs_carries_only_its_bce_part(labels):
    logits = tf.Variable(np.array([0.5, -1.0, 2.0, 0.0], np.float32))
    with tf.GradientTape() as tape:
        value = PairwiseAUCLoss(0.25)(labels, logits)
    gradient = tape.gradient(value, logits).numpy()
    assert float(value) == pytest.approx(0.25 * brute_force(labels, logits.numpy(), 1.0), rel=1e-5)
    assert np.all(np.isfinite(gradient))
    pure = PairwiseAUCLoss(0.0)
    assert float(pure(labels, logits)) == 0.0


def test_gradient_pushes_positives_up_and_negatives_down():
    logits = tf.Variable(LOGITS)
    with tf.GradientTape() as tape:
        value = PairwiseAUCLoss(0.0)(LABELS, logits)
    gradient = tape.gradient(value, logits).numpy()
    assert np.all(gradient[LABELS == 1] < 0) and np.all(gradient[LABELS == 0] > 0)


def test_a_few_sgd_steps_raise_the_auc_of_a_model_that_ranks_backwards():
    rng = np.random.default_rng(0)
    labels = (rng.random(256) < 0.2).astype(np.float32)
    features = (rng.normal(size=(256, 2)) + labels[:, None] * np.array([1.5, 1.0])).astype(np.float32)
    weights = tf.Variable([[-1.0], [-1.0]])  # ranks the positives below the negatives
    auc_before = roc_auc_score(labels, (features @ weights.numpy()).ravel())
    optimizer = tf.keras.optimizers.SGD(learning_rate=0.5)
    loss = PairwiseAUCLoss(0.0)
    for _ in range(20):
        with tf.GradientTape() as tape:
            value = loss(labels, tf.matmul(features, weights))
        optimizer.apply_gradients([(tape.gradient(value, weights), weights)])
    auc_after = roc_auc_score(labels, (features @ weights.numpy()).ravel())
    assert auc_before < 0.2 and auc_after > 0.8, (auc_before, auc_after)


def test_make_loss_builds_it_and_it_survives_a_config_round_trip():
    loss = losses.make_loss("auc", auc_bce_weight=0.4)
    assert isinstance(loss, PairwiseAUCLoss) and loss.bce_weight == 0.4
    again = PairwiseAUCLoss.from_config(json.loads(json.dumps(loss.get_config())))
    assert float(again(LABELS, LOGITS)) == pytest.approx(float(loss(LABELS, LOGITS)))
    restored = tf.keras.losses.deserialize(tf.keras.losses.serialize(loss))
    assert isinstance(restored, PairwiseAUCLoss) and restored.bce_weight == 0.4


def test_refusals_name_the_setting():
    with pytest.raises(losses.LossConfigError, match="needs auc_bce_weight"):
        losses.make_loss("auc")
    with pytest.raises(AUCLossError, match=r"bce_weight must be in \[0, 1\]"):
        PairwiseAUCLoss(1.5)
    with pytest.raises(AUCLossError, match="binary only"):
        PairwiseAUCLoss(0.5, num_classes=3)
    with pytest.raises(AUCLossError, match=r"shape \[batch, 1\]"):
        PairwiseAUCLoss(0.5)(np.zeros(2), np.zeros((2, 3), np.float32))
