"""The multiclass (k >= 3) network: class counts, priors, loss weights, the softmax head and its metric.

The binary network's body (inputs, one-hot or embedded categories, hidden layers: `network.py`)
carries a head of k logits, one per class in class-index order. What the binary Trainer derives
from `ClassBalance` (positives, negatives) is derived here from `ClassMix`, the expected rows of
each class per epoch of the model being trained (the split's counts after Rebalance; equal shares
on balanced batches; an ensemble member's protected classes whole and the others subsampled):

- the output bias starts at the log class priors log(count_c / n), so an untrained model predicts
  the class mix it trains on (the softmax is invariant to a constant, so only the differences,
  log(count_c / count_0), matter; the binary log(pos/neg) is the k = 2 case);
- `weighted_bce` weighs class c by n / (k * count_c), scikit-learn's `class_weight='balanced'`;
- `focal` takes `trainer.focal_alpha_classes`, or when that is empty alpha_c proportional to
  1 / count_c, normalised to sum 1 ("balanced": each class contributes equal total alpha);
- `bce` is sparse softmax cross-entropy.

Early stopping watches `pr_auc`, the mean one-vs-rest PR-AUC of the PROTECTED classes on `valid`
(the classes the gate judges), so the binary fitting loop and its history keys are unchanged.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Dict, Sequence, Tuple

import numpy as np
import tensorflow as tf

from components.trainer import losses, network
from components.trainer.inputs import TrainingDataError
from components.trainer.network import ModelInputs
from components.trainer.spec import TrainerParameters

_SERIALIZATION_PACKAGE = "imbalance"


@dataclasses.dataclass(frozen=True)
class ClassMix:
    """Expected rows of each class (index order) per epoch of the model being trained."""

    counts: Tuple[float, ...]

    @property
    def num_classes(self) -> int:
        return len(self.counts)

    @property
    def rows(self) -> float:
        return float(sum(self.counts))

    def log_priors(self) -> Tuple[float, ...]:
        """log(count_c / n): the initial output bias."""
        return tuple(math.log(count / self.rows) for count in self.counts)

    def balanced_class_weights(self) -> Dict[int, float]:
        """n / (k * count_c) per class, as scikit-learn's `class_weight='balanced'`."""
        return {c: self.rows / (self.num_classes * count) for c, count in enumerate(self.counts)}

    def balanced_focal_alpha(self) -> Tuple[float, ...]:
        """alpha_c proportional to 1 / count_c, normalised to sum 1."""
        inverse = [1.0 / count for count in self.counts]
        return tuple(value / sum(inverse) for value in inverse)


def count_classes(batches: tf.data.Dataset, num_classes: int) -> Tuple[int, ...]:
    """Rows of each class in one pass over (features, label) batches; a label outside 0..k-1 is an error.

    Like `inputs.compute_training_statistics`, this is the first full read of the split, so it
    writes the decoded-rows cache. Labels arrive as float32 (`inputs.read_split`); an index is exact.
    """
    k = num_classes

    def accumulate(state, batch):
        counts, bad, bad_low, bad_high = state
        label = tf.cast(tf.reshape(batch[1], [-1]), tf.float32)
        index = tf.cast(label, tf.int64)
        ok = tf.logical_and(tf.equal(tf.cast(index, label.dtype), label), tf.logical_and(index >= 0, index < k))
        counts += tf.math.bincount(tf.boolean_mask(index, ok), minlength=k, maxlength=k, dtype=tf.int64)
        wrong = tf.boolean_mask(label, tf.logical_not(ok))
        return (
            counts,
            bad + tf.cast(tf.size(wrong), tf.int64),
            tf.minimum(bad_low, tf.reduce_min(tf.concat([wrong, [math.inf]], 0))),
            tf.maximum(bad_high, tf.reduce_max(tf.concat([wrong, [-math.inf]], 0))),
        )

    initial = (tf.zeros([k], tf.int64), tf.constant(0, tf.int64), tf.constant(math.inf), tf.constant(-math.inf))
    counts, bad, low, high = (value.numpy() for value in batches.reduce(initial, accumulate))
    if bad:
        raise TrainingDataError(
            f"{int(bad)} training rows have a label that is not a class index 0..{k - 1} "
            f"(smallest {float(low):g}, largest {float(high):g}); the label must be the class index data prep writes"
        )
    return tuple(int(count) for count in counts)


def require_every_class(counts: Sequence[int], class_names: Sequence[str], label_key: str) -> None:
    """A softmax needs rows of every class: a class with none has no prior and cannot be learned."""
    missing = [name for name, count in zip(class_names, counts, strict=True) if count == 0]
    if missing:
        found = ", ".join(f"{name}={count}" for name, count in zip(class_names, counts, strict=True))
        raise TrainingDataError(
            f"training split has no rows of classes {missing} of {label_key!r} ({found}); a classifier needs "
            "every class. Check the split and the Rebalance settings"
        )


def initial_output_bias(parameters: TrainerParameters, mix: ClassMix) -> Tuple[float, ...]:
    return mix.log_priors() if parameters.initial_bias else (0.0,) * mix.num_classes


def focal_alpha(parameters: TrainerParameters, mix: ClassMix) -> Tuple[float, ...]:
    """The focal loss's per-class alpha: the configured one, or balanced from `mix`."""
    return parameters.focal_alpha_classes or mix.balanced_focal_alpha()


def build_model(features: ModelInputs, parameters: TrainerParameters, mix: ClassMix, seed: int) -> tf.keras.Model:
    """The binary MLP's body with k output logits whose bias starts at the log class priors."""
    inputs, hidden = network.build_body(features, parameters, seed)
    logits = tf.keras.layers.Dense(
        mix.num_classes,
        kernel_initializer=tf.keras.initializers.GlorotUniform(seed=seed + network.OUTPUT_SEED_OFFSET),
        bias_initializer=tf.keras.initializers.Constant(np.asarray(initial_output_bias(parameters, mix))),
        name="logits",
    )(hidden)
    return tf.keras.Model(inputs=inputs, outputs=logits)


def make_loss_for(parameters: TrainerParameters, mix: ClassMix) -> tf.keras.losses.Loss:
    """The configured loss over k classes; weights and a balanced alpha come from `mix`."""
    return losses.make_loss(
        parameters.loss,
        class_weights=mix.balanced_class_weights(),
        focal_alpha=list(focal_alpha(parameters, mix)),
        focal_gamma=parameters.focal_gamma,
        num_classes=mix.num_classes,
    )


@tf.keras.utils.register_keras_serializable(package=_SERIALIZATION_PACKAGE)
class OneVsRestAUC(tf.keras.metrics.AUC):
    """Keras' AUC of softmax(logits) one-vs-rest against sparse labels, averaged over `classes`.

    Keras' multi-label AUC wants one-hot labels and probabilities; the model outputs logits and the
    labels are class indices, so both are converted here. `label_weights` (1 for the averaged
    classes, 0 for the rest) makes the result the mean AUC of `classes` alone.
    """

    def __init__(self, num_classes: int, classes: Sequence[int], curve: str = "ROC", name: str = "auc", **kwargs):
        kwargs.pop("multi_label", None)
        kwargs.pop("num_labels", None)
        kwargs.pop("label_weights", None)
        weights = [1.0 if c in set(classes) else 0.0 for c in range(num_classes)]
        super().__init__(
            curve=curve, name=name, multi_label=True, num_labels=num_classes, label_weights=weights, **kwargs
        )
        self.num_classes = int(num_classes)
        self.classes = [int(c) for c in classes]

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
        one_hot = tf.one_hot(labels, self.num_classes)
        probabilities = tf.nn.softmax(tf.reshape(y_pred, [-1, self.num_classes]), axis=-1)
        return super().update_state(one_hot, probabilities, sample_weight=sample_weight)

    def get_config(self):
        config = super().get_config()
        for key in ("multi_label", "num_labels", "label_weights"):
            config.pop(key, None)
        config.update(num_classes=self.num_classes, classes=list(self.classes))
        return config


def compile_model(
    model: tf.keras.Model, parameters: TrainerParameters, mix: ClassMix, protected_classes: Sequence[int]
) -> tf.keras.Model:
    """Adam on the configured loss, with the protected classes' mean PR-AUC (early stopping) and ROC-AUC."""
    k = mix.num_classes
    model.compile(
        optimizer=tf.keras.optimizers.Adam(parameters.learning_rate),
        loss=make_loss_for(parameters, mix),
        metrics=[
            OneVsRestAUC(k, protected_classes, curve="PR", name="pr_auc"),
            OneVsRestAUC(k, protected_classes, curve="ROC", name="roc_auc"),
        ],
    )
    return model
