"""The Trainer's network: an MLP on the numeric features, its loss and its starting output bias.

The loss weights and the initial bias follow the class mix the model is trained on
(`ClassBalance`), which `training.py` derives from the rows the Trainer reads (after
Rebalance), adjusted where its own input pipeline changes the mix.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Dict, Sequence

import numpy as np
import tensorflow as tf

from components.trainer import losses
from components.trainer.inputs import TrainingStatistics
from components.trainer.spec import TrainerParameters

# Offsets from a model's seed to the seeds of its dropout layers and of its output layer.
_DROPOUT_SEED_OFFSET = 100
_OUTPUT_SEED_OFFSET = 1000


@dataclasses.dataclass(frozen=True)
class ClassBalance:
    """Expected positives and negatives the model sees per epoch: what the loss weights and bias follow.

    Equal to the split's counts, except where the input pipeline changes the mix
    (balanced batches, an ensemble member's share of negatives).
    """

    positives: float
    negatives: float

    @property
    def rows(self) -> float:
        return self.positives + self.negatives


def class_weights(balance: ClassBalance) -> Dict[int, float]:
    """Balanced weights n / (k * count_c), as scikit-learn's `class_weight='balanced'`."""
    return {
        0: balance.rows / (2.0 * balance.negatives),
        1: balance.rows / (2.0 * balance.positives),
    }


def initial_output_bias(balance: ClassBalance) -> float:
    """log(pos/neg): the logit of the base rate, so an untrained model predicts the base rate."""
    return math.log(balance.positives / balance.negatives)


def build_model(
    feature_keys: Sequence[str],
    parameters: TrainerParameters,
    stats: TrainingStatistics,
    balance: ClassBalance,
    seed: int,
) -> tf.keras.Model:
    """MLP on the numeric features, normalised with the training split's moments; outputs a logit."""
    inputs = {key: tf.keras.layers.Input(shape=(1,), name=key, dtype=tf.float32) for key in feature_keys}
    stacked = tf.keras.layers.Concatenate(name="stack_features")([inputs[key] for key in feature_keys])
    hidden = tf.keras.layers.Normalization(
        mean=stats.mean.astype(np.float32), variance=stats.variance.astype(np.float32), name="normalize"
    )(stacked)
    for index, units in enumerate(parameters.hidden_units):
        hidden = tf.keras.layers.Dense(
            units,
            activation="relu",
            kernel_initializer=tf.keras.initializers.GlorotUniform(seed=seed + index),
            name=f"hidden_{index}",
        )(hidden)
        if parameters.dropout > 0:
            hidden = tf.keras.layers.Dropout(parameters.dropout, seed=seed + _DROPOUT_SEED_OFFSET + index)(hidden)
    bias = initial_output_bias(balance) if parameters.initial_bias else 0.0
    logit = tf.keras.layers.Dense(
        1,
        kernel_initializer=tf.keras.initializers.GlorotUniform(seed=seed + _OUTPUT_SEED_OFFSET),
        bias_initializer=tf.keras.initializers.Constant(bias),
        name="logit",
    )(hidden)
    return tf.keras.Model(inputs=inputs, outputs=logit)


def make_loss_for(parameters: TrainerParameters, balance: ClassBalance) -> tf.keras.losses.Loss:
    """The configured loss; class weights and a missing pos_weight come from `balance`."""
    pos_weight = parameters.pos_weight
    if parameters.loss == "pos_weight" and pos_weight is None:
        pos_weight = balance.negatives / balance.positives
    return losses.make_loss(
        parameters.loss,
        pos_weight=pos_weight,
        class_weights=class_weights(balance),
        focal_alpha=parameters.focal_alpha,
        focal_gamma=parameters.focal_gamma,
    )


def compile_model(model: tf.keras.Model, parameters: TrainerParameters, balance: ClassBalance) -> tf.keras.Model:
    """Adam on the configured loss, with PR-AUC (the early-stopping metric) and ROC-AUC on the logits."""
    model.compile(
        optimizer=tf.keras.optimizers.Adam(parameters.learning_rate),
        loss=make_loss_for(parameters, balance),
        metrics=[
            tf.keras.metrics.AUC(curve="PR", from_logits=True, name="pr_auc"),
            tf.keras.metrics.AUC(curve="ROC", from_logits=True, name="roc_auc"),
        ],
    )
    return model
