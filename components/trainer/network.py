"""The Trainer's network: an MLP on the Transform's features, its loss and its starting output bias.

Numeric features arrive standardised by the Transform and enter as they are. A categorical
feature arrives as a vocabulary id (its out-of-vocabulary buckets included) and enters one-hot
when it has few ids, or through a learned embedding when it has many, so a wide vocabulary does
not swamp the first layer.

The loss weights and the initial bias follow the class mix the model is trained on
(`ClassBalance`), which `training.py` derives from the rows the Trainer reads (after
Rebalance), adjusted where its own input pipeline changes the mix.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Dict, List, Tuple

import tensorflow as tf

from components.trainer import losses
from components.trainer.spec import TrainerParameters

# Offsets from a model's seed to the seeds of its dropout layers, its output layer and its embeddings.
_DROPOUT_SEED_OFFSET = 100
OUTPUT_SEED_OFFSET = 1000
_EMBEDDING_SEED_OFFSET = 2000
# A categorical feature with at most this many ids enters one-hot; a wider one through an embedding.
ONE_HOT_MAX_IDS = 32
# The largest embedding width.
MAX_EMBEDDING_DIM = 16


@dataclasses.dataclass(frozen=True)
class ModelInputs:
    """The model's inputs in the order of the Trainer's stacked rows: numeric, then categorical ids."""

    numeric_keys: Tuple[str, ...]
    # (feature, number of ids): the id range, out-of-vocabulary buckets included.
    categorical_ids: Tuple[Tuple[str, int], ...] = ()

    @property
    def keys(self) -> Tuple[str, ...]:
        return self.numeric_keys + tuple(key for key, _ in self.categorical_ids)


def embedding_dim(ids: int) -> int:
    """Embedding width for a feature with `ids` ids: the usual 1.6 * n**0.56 rule, at most MAX_EMBEDDING_DIM."""
    return min(MAX_EMBEDDING_DIM, math.ceil(1.6 * ids**0.56))


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


def _encoded_inputs(inputs: Dict[str, tf.Tensor], features: ModelInputs, seed: int) -> List[tf.Tensor]:
    """Numeric inputs as they are; each categorical id one-hot or embedded (ids arrive as exact floats)."""
    parts = [inputs[key] for key in features.numeric_keys]
    for index, (key, ids) in enumerate(features.categorical_ids):
        layer_name = f"categorical_{index}"
        if ids <= ONE_HOT_MAX_IDS:
            parts.append(
                tf.keras.layers.CategoryEncoding(num_tokens=ids, output_mode="one_hot", name=layer_name)(inputs[key])
            )
        else:
            embedded = tf.keras.layers.Embedding(
                ids,
                embedding_dim(ids),
                embeddings_initializer=tf.keras.initializers.RandomUniform(
                    -0.05, 0.05, seed=seed + _EMBEDDING_SEED_OFFSET + index
                ),
                name=layer_name,
            )(inputs[key])
            parts.append(tf.keras.layers.Flatten(name=f"{layer_name}_flat")(embedded))
    return parts


def build_body(
    features: ModelInputs, parameters: TrainerParameters, seed: int
) -> Tuple[Dict[str, tf.Tensor], tf.Tensor]:
    """The MLP's inputs and its last hidden layer: the binary head below and the multiclass head share them.

    Every input is a float32 [batch, 1] column named by its feature (`inputs.unstack_features`).
    """
    inputs = {key: tf.keras.layers.Input(shape=(1,), name=key, dtype=tf.float32) for key in features.keys}
    parts = _encoded_inputs(inputs, features, seed)
    hidden = parts[0] if len(parts) == 1 else tf.keras.layers.Concatenate(name="stack_features")(parts)
    for index, units in enumerate(parameters.hidden_units):
        hidden = tf.keras.layers.Dense(
            units,
            activation="relu",
            kernel_initializer=tf.keras.initializers.GlorotUniform(seed=seed + index),
            name=f"hidden_{index}",
        )(hidden)
        if parameters.dropout > 0:
            hidden = tf.keras.layers.Dropout(parameters.dropout, seed=seed + _DROPOUT_SEED_OFFSET + index)(hidden)
    return inputs, hidden


def build_model(
    features: ModelInputs,
    parameters: TrainerParameters,
    balance: ClassBalance,
    seed: int,
) -> tf.keras.Model:
    """MLP on the numeric features and the encoded categorical ids; outputs a logit."""
    inputs, hidden = build_body(features, parameters, seed)
    bias = initial_output_bias(balance) if parameters.initial_bias else 0.0
    logit = tf.keras.layers.Dense(
        1,
        kernel_initializer=tf.keras.initializers.GlorotUniform(seed=seed + OUTPUT_SEED_OFFSET),
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
        auc_bce_weight=parameters.auc_bce_weight,
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
