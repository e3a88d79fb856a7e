"""Losses for imbalanced labels, all on LOGITS (the model's last layer has no activation).

Shapes: a binary model outputs logits of shape [batch, 1] (or [batch]) and labels are 0/1;
a k-class model (k > 2) outputs logits of shape [batch, k] and labels are class indices
0..k-1 (shape [batch] or [batch, 1]). Every loss returns one value per example, so Keras'
reduction and `sample_weight` work as for its own losses.

`make_loss` maps the names in `spec.LOSSES` to these classes:

- `bce`: plain (binary or sparse categorical) cross-entropy;
- `weighted_bce`: cross-entropy times the weight of the example's class (the caller passes
  balanced weights n / (k * count_c) or its own);
- `pos_weight`: `tf.nn.weighted_cross_entropy_with_logits`, binary only: the positive term is
  multiplied by `pos_weight`;
- `focal`: focal loss (Lin et al. 2017) -alpha_t * (1 - p_t)^gamma * log(p_t); binary (sigmoid,
  alpha for the positive class and 1 - alpha for the negative) and multiclass (softmax, alpha a
  scalar or one value per class);
- `auc`: a pairwise ROC-AUC surrogate mixed with BCE, binary only (`auc_loss.py`).

Each class is a `tf.keras.losses.Loss` with `get_config`, registered as Keras-serializable, so
it can be given to `model.compile` and survives a Keras save/load.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import tensorflow as tf

from components.trainer.auc_loss import PairwiseAUCLoss
from components.trainer.spec import LOSSES

_SERIALIZATION_PACKAGE = "imbalance"

AlphaSpec = Union[float, Sequence[float]]


class LossConfigError(ValueError):
    """A loss parameter is out of range or missing; the message names it and the accepted range."""


def _check_num_classes(num_classes: int) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise LossConfigError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    return num_classes


def _check_gamma(gamma: float) -> float:
    gamma = float(gamma)
    if not math.isfinite(gamma) or gamma < 0.0:
        raise LossConfigError(f"focal gamma must be a finite number >= 0, got {gamma!r}; 0 gives cross-entropy")
    return gamma


def _check_alpha(alpha: float, what: str = "focal alpha") -> float:
    alpha = float(alpha)
    if not (0.0 < alpha < 1.0):
        raise LossConfigError(f"{what} must be in the open interval (0, 1), got {alpha!r}")
    return alpha


def _check_pos_weight(pos_weight: Optional[float]) -> float:
    if pos_weight is None:
        raise LossConfigError(
            "loss 'pos_weight' needs pos_weight (e.g. negatives / positives of the training split); got None"
        )
    pos_weight = float(pos_weight)
    if not math.isfinite(pos_weight) or pos_weight <= 0.0:
        raise LossConfigError(f"pos_weight must be a finite number > 0, got {pos_weight!r}")
    return pos_weight


def _class_weight_list(class_weights: Optional[Mapping[int, float]], num_classes: int) -> list:
    """Weights as a list indexed by class, so the config stays valid after a JSON round trip."""
    if class_weights is None:
        raise LossConfigError(
            f"loss 'weighted_bce' needs class_weights for classes 0..{num_classes - 1}; got None. "
            "Pass balanced weights n / (k * count_c) from the training class counts"
        )
    try:
        by_class = {int(label): float(weight) for label, weight in class_weights.items()}
    except (TypeError, ValueError) as error:
        raise LossConfigError(f"class_weights must map integer classes to numbers, got {class_weights!r}") from error
    missing = [label for label in range(num_classes) if label not in by_class]
    if missing:
        raise LossConfigError(
            f"class_weights lacks classes {missing}; it must give a weight for every class 0..{num_classes - 1}, "
            f"got {dict(class_weights)!r}"
        )
    extra = sorted(label for label in by_class if not 0 <= label < num_classes)
    if extra:
        raise LossConfigError(f"class_weights names classes {extra} outside 0..{num_classes - 1}")
    bad = {label: weight for label, weight in by_class.items() if not math.isfinite(weight) or weight <= 0.0}
    if bad:
        raise LossConfigError(f"class weights must be finite and > 0, got {bad!r}")
    return [by_class[label] for label in range(num_classes)]


def _alpha_list(alpha: AlphaSpec, num_classes: int) -> Union[float, list]:
    """A scalar alpha for binary focal; a scalar or one alpha per class for multiclass focal."""
    if isinstance(alpha, (int, float)) and not isinstance(alpha, bool):
        return _check_alpha(alpha)
    if num_classes == 2:
        raise LossConfigError(
            f"binary focal alpha must be one number (the positive class's weight; the negative gets 1 - alpha), "
            f"got {alpha!r}"
        )
    if not isinstance(alpha, Sequence):
        raise LossConfigError(f"focal alpha must be one number or one number per class, got {alpha!r}")
    values = [_check_alpha(value, f"focal alpha[{index}]") for index, value in enumerate(alpha)]
    if len(values) != num_classes:
        raise LossConfigError(f"focal alpha must have one value per class ({num_classes}), got {len(values)}")
    return values


def _binary_labels_and_logits(y_true, y_pred):
    logits = tf.convert_to_tensor(y_pred)
    if logits.shape.rank is not None and logits.shape.rank >= 2 and logits.shape[-1] not in (None, 1):
        raise LossConfigError(
            f"binary losses expect logits of shape [batch, 1], got {logits.shape}; "
            "use num_classes=k for a k-class model"
        )
    logits = tf.reshape(logits, [-1])
    labels = tf.reshape(tf.cast(y_true, logits.dtype), [-1])
    return labels, logits


def _sparse_labels_and_logits(y_true, y_pred, num_classes: int):
    logits = tf.convert_to_tensor(y_pred)
    if logits.shape.rank is not None and logits.shape[-1] not in (None, num_classes):
        raise LossConfigError(
            f"{num_classes}-class losses expect logits of shape [batch, {num_classes}], got {logits.shape}"
        )
    logits = tf.reshape(logits, [-1, num_classes])
    labels = tf.reshape(tf.cast(y_true, tf.int32), [-1])
    return labels, logits


class _LogitLoss(tf.keras.losses.Loss):
    """Shared constructor and config handling of the losses below."""

    # The constructor arguments, besides Keras's own (name, reduction), that `get_config` records
    # so that `from_config` rebuilds the same loss; each is also an attribute of that name.
    config_fields: Tuple[str, ...] = ("num_classes",)

    def __init__(self, num_classes: int = 2, name: Optional[str] = None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = _check_num_classes(num_classes)

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        for field in self.config_fields:
            value = getattr(self, field)
            # A copy of a list, so that editing the config cannot change the loss.
            config[field] = list(value) if isinstance(value, list) else value
        return config

    def _per_class_ce(self, y_true, y_pred):
        """(labels, per-example cross-entropy) for the binary or the multiclass case."""
        if self.num_classes == 2:
            labels, logits = _binary_labels_and_logits(y_true, y_pred)
            return labels, tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
        labels, logits = _sparse_labels_and_logits(y_true, y_pred, self.num_classes)
        return labels, tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


@tf.keras.utils.register_keras_serializable(package=_SERIALIZATION_PACKAGE)
class CrossEntropy(_LogitLoss):
    """Unweighted cross-entropy on logits: sigmoid for binary, sparse softmax for k classes."""

    def __init__(self, num_classes: int = 2, name: str = "bce", **kwargs):
        super().__init__(num_classes=num_classes, name=name, **kwargs)

    def call(self, y_true, y_pred):
        return self._per_class_ce(y_true, y_pred)[1]


@tf.keras.utils.register_keras_serializable(package=_SERIALIZATION_PACKAGE)
class ClassWeightedCrossEntropy(_LogitLoss):
    """Cross-entropy of each example times its class's weight: loss_i = w[y_i] * CE_i."""

    config_fields = (*_LogitLoss.config_fields, "class_weights")

    def __init__(self, class_weights: Sequence[float], num_classes: int = 2, name: str = "weighted_bce", **kwargs):
        super().__init__(num_classes=num_classes, name=name, **kwargs)
        self.class_weights = _class_weight_list(dict(enumerate(class_weights)), self.num_classes)

    def call(self, y_true, y_pred):
        labels, ce = self._per_class_ce(y_true, y_pred)
        weights = tf.constant(self.class_weights, dtype=ce.dtype)
        class_index = labels if labels.dtype.is_integer else tf.cast(tf.round(labels), tf.int32)
        example_weights = tf.gather(weights, class_index)
        return example_weights * ce


@tf.keras.utils.register_keras_serializable(package=_SERIALIZATION_PACKAGE)
class PosWeightCrossEntropy(_LogitLoss):
    """Binary cross-entropy whose positive term is scaled: -(w*y*log p + (1-y)*log(1-p))."""

    config_fields = (*_LogitLoss.config_fields, "pos_weight")

    def __init__(self, pos_weight: float, num_classes: int = 2, name: str = "pos_weight", **kwargs):
        super().__init__(num_classes=num_classes, name=name, **kwargs)
        if self.num_classes != 2:
            raise LossConfigError(
                f"loss 'pos_weight' is binary only, got num_classes={self.num_classes}; "
                "use 'weighted_bce' with per-class weights for a multiclass label"
            )
        self.pos_weight = _check_pos_weight(pos_weight)

    def call(self, y_true, y_pred):
        labels, logits = _binary_labels_and_logits(y_true, y_pred)
        return tf.nn.weighted_cross_entropy_with_logits(labels=labels, logits=logits, pos_weight=self.pos_weight)


@tf.keras.utils.register_keras_serializable(package=_SERIALIZATION_PACKAGE)
class FocalLoss(_LogitLoss):
    """Focal loss -alpha_t * (1 - p_t)^gamma * log(p_t) on logits, for hard labels.

    Binary: p_t = sigmoid(z) for a positive, 1 - sigmoid(z) for a negative; alpha_t = alpha for a
    positive, 1 - alpha for a negative. Multiclass: p_t = softmax(z)[y]; alpha_t = alpha (scalar)
    or alpha[y] (one per class). log(p_t) and log(1 - p_t) are computed from the logits (log-sigmoid,
    log-sum-exp) so neither the value nor the gradient overflows when the model is confident;
    gamma = 0 gives exactly alpha_t * cross-entropy.
    """

    config_fields = (*_LogitLoss.config_fields, "alpha", "gamma")

    def __init__(self, alpha: AlphaSpec, gamma: float, num_classes: int = 2, name: str = "focal", **kwargs):
        super().__init__(num_classes=num_classes, name=name, **kwargs)
        self.alpha = _alpha_list(alpha, self.num_classes)
        self.gamma = _check_gamma(gamma)

    def call(self, y_true, y_pred):
        if self.num_classes == 2:
            labels, logits = _binary_labels_and_logits(y_true, y_pred)
            # For y in {0, 1}: p_t = sigmoid(s * z) and 1 - p_t = sigmoid(-s * z) with s = 2y - 1.
            signed = (2.0 * labels - 1.0) * logits
            log_p_t = tf.math.log_sigmoid(signed)
            log_one_minus_p_t = tf.math.log_sigmoid(-signed)
            alpha_t = labels * self.alpha + (1.0 - labels) * (1.0 - self.alpha)
        else:
            labels, logits = _sparse_labels_and_logits(y_true, y_pred, self.num_classes)
            true_class = tf.one_hot(labels, self.num_classes, on_value=True, off_value=False)
            log_normalizer = tf.reduce_logsumexp(logits, axis=-1)
            log_p_t = tf.reduce_sum(tf.where(true_class, logits, tf.zeros_like(logits)), axis=-1) - log_normalizer
            # 1 - p_t is the probability mass of the other classes: logsumexp over them, minus the normaliser.
            others = tf.where(true_class, tf.fill(tf.shape(logits), tf.constant(-math.inf, logits.dtype)), logits)
            log_one_minus_p_t = tf.reduce_logsumexp(others, axis=-1) - log_normalizer
            if isinstance(self.alpha, float):
                alpha_t = tf.fill(tf.shape(labels), tf.constant(self.alpha, logits.dtype))
            else:
                alpha_t = tf.gather(tf.constant(self.alpha, logits.dtype), labels)
        if self.gamma == 0.0:
            modulator = tf.ones_like(log_p_t)
        else:
            modulator = tf.exp(self.gamma * log_one_minus_p_t)
        return -alpha_t * modulator * log_p_t


def make_loss(
    name: str,
    *,
    pos_weight: Optional[float] = None,
    class_weights: Optional[Mapping[int, float]] = None,
    focal_alpha: Optional[AlphaSpec] = None,
    focal_gamma: Optional[float] = None,
    auc_bce_weight: Optional[float] = None,
    num_classes: int = 2,
) -> tf.keras.losses.Loss:
    """The loss named in the Trainer's parameters (`spec.LOSSES`), checked before training starts.

    Only the parameters of the chosen loss are checked (e.g. `focal_gamma` is ignored for `bce`).
    """
    num_classes = _check_num_classes(num_classes)
    if name == "bce":
        return CrossEntropy(num_classes=num_classes)
    if name == "weighted_bce":
        return ClassWeightedCrossEntropy(_class_weight_list(class_weights, num_classes), num_classes=num_classes)
    if name == "pos_weight":
        return PosWeightCrossEntropy(_check_pos_weight(pos_weight), num_classes=num_classes)
    if name == "focal":
        if focal_alpha is None or focal_gamma is None:
            raise LossConfigError(
                f"loss 'focal' needs focal_alpha and focal_gamma; got {focal_alpha!r} and {focal_gamma!r}"
            )
        return FocalLoss(alpha=focal_alpha, gamma=focal_gamma, num_classes=num_classes)
    if name == "auc":
        if auc_bce_weight is None:
            raise LossConfigError("loss 'auc' needs auc_bce_weight, the share of BCE in the mix (0: ranking only)")
        return PairwiseAUCLoss(bce_weight=auc_bce_weight, num_classes=num_classes)
    raise LossConfigError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
