"""`trainer.loss=auc`: a pairwise ROC-AUC surrogate on logits, mixed with binary cross-entropy.

ROC-AUC is the share of (positive, negative) pairs the model ranks the right way round, a step
function of the score differences with no useful gradient. The surrogate replaces the step by
the pairwise logistic loss softplus(s_neg - s_pos) = log(1 + exp(-(s_pos - s_neg))) on every
positive-negative pair of the batch, averaged over the pairs (RankNet's loss; it is >= ln 2
times the share of mis-ranked pairs, so driving it down drives the AUC up).

Why the mix with cross-entropy (`bce_weight`, `trainer.auc_bce_weight`): the pair loss sees only
differences of logits, so adding a constant to every logit leaves it unchanged; trained on it
alone, the model ranks but its probabilities drift from the base rate (uncalibrated). A share of
cross-entropy pins the logits' level. `bce_weight=0` is the pure ranking loss, 1 is plain BCE.
The served decision does not depend on the calibration: its threshold is tuned on `valid` for
every loss.

Keras averages a loss's per-example values, and the pair term belongs to the batch, so it is
spread over the examples of its pairs: in a batch of B rows with P positives and N negatives,
example i carries B / (2 P N) times the sum of the pair losses it takes part in, and the mean
over the batch is exactly the mean over pairs. A batch without pairs (P = 0 or N = 0) carries
only its cross-entropy part. Binary only: the pairs are positives against negatives.
"""

from __future__ import annotations

import math
from typing import Any, Dict

import tensorflow as tf

_SERIALIZATION_PACKAGE = "imbalance"


class AUCLossError(ValueError):
    """A setting of the AUC loss is out of range (the BCE share, or a multiclass label)."""


def check_bce_weight(bce_weight: float) -> float:
    """The share of cross-entropy in the mix, in [0, 1]."""
    bce_weight = float(bce_weight)
    if not (math.isfinite(bce_weight) and 0.0 <= bce_weight <= 1.0):
        raise AUCLossError(f"auc bce_weight must be in [0, 1] (0: ranking loss only), got {bce_weight!r}")
    return bce_weight


def pair_loss_per_example(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Each example's share of the batch's mean pairwise logistic loss (module doc); zeros without pairs.

    `labels` (0/1) and `logits` are flat float vectors of one batch.
    """
    positive = tf.cast(labels > 0.5, logits.dtype)
    negative = 1.0 - positive
    # [i, j] = softplus(s_j - s_i), kept where row i is a positive and column j a negative.
    pairs = tf.nn.softplus(logits[tf.newaxis, :] - logits[:, tf.newaxis]) * positive[:, tf.newaxis] * negative
    pair_count = tf.reduce_sum(positive) * tf.reduce_sum(negative)
    batch = tf.cast(tf.size(logits), logits.dtype)
    scale = tf.math.divide_no_nan(batch, 2.0 * pair_count)
    return scale * (tf.reduce_sum(pairs, axis=1) + tf.reduce_sum(pairs, axis=0))


@tf.keras.utils.register_keras_serializable(package=_SERIALIZATION_PACKAGE)
class PairwiseAUCLoss(tf.keras.losses.Loss):
    """bce_weight * BCE_i + (1 - bce_weight) * (example i's share of the mean pair loss), on logits."""

    def __init__(self, bce_weight: float, num_classes: int = 2, name: str = "auc", **kwargs):
        super().__init__(name=name, **kwargs)
        if num_classes != 2:
            raise AUCLossError(
                f"loss 'auc' is binary only (positive-negative pairs), got num_classes={num_classes!r}; "
                "use bce, weighted_bce or focal for a multiclass label"
            )
        self.num_classes = num_classes
        self.bce_weight = check_bce_weight(bce_weight)

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        config.update(bce_weight=self.bce_weight, num_classes=self.num_classes)
        return config

    def call(self, y_true, y_pred):
        logits = tf.convert_to_tensor(y_pred)
        if logits.shape.rank is not None and logits.shape.rank >= 2 and logits.shape[-1] not in (None, 1):
            raise AUCLossError(f"loss 'auc' expects logits of shape [batch, 1], got {logits.shape}")
        logits = tf.reshape(logits, [-1])
        labels = tf.reshape(tf.cast(y_true, logits.dtype), [-1])
        ranking = pair_loss_per_example(labels, logits)
        if self.bce_weight == 0.0:
            return ranking
        bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
        return self.bce_weight * bce + (1.0 - self.bce_weight) * ranking
