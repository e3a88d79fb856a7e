"""A binary model's decision threshold, tuned on the valid split by the Trainer's settings.

The single model, the trees and the ensembles are served at a threshold chosen this way, and a
mixed ensemble's `vote` tunes each member's own threshold the same way, so every threshold the
Trainer picks follows one rule (`trainer.threshold_rule`, its minimums and its fallback).
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
import tensorflow as tf

from components.trainer.spec import TrainerParameters
from components.trainer.threshold import ThresholdChoice, choose_served_threshold


def predict_probabilities(model: tf.keras.Model, dataset: tf.data.Dataset) -> Tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities (the sigmoid of the model's logit) of a split, batch by batch.

    The split is held in memory whole: the valid split, tens of thousands of rows, is the one it reads.
    """
    labels, scores = [], []
    for features, label in dataset:
        logits = model(features, training=False)
        scores.append(tf.sigmoid(logits).numpy().reshape(-1))
        labels.append(label.numpy().reshape(-1))
    return np.concatenate(labels).astype(np.int64), np.concatenate(scores).astype(np.float64)


def tune_threshold(model: tf.keras.Model, valid: tf.data.Dataset, parameters: TrainerParameters) -> ThresholdChoice:
    """The threshold `parameters.threshold_rule` picks on the model's probabilities of `valid`, as served."""
    labels, scores = predict_probabilities(model, valid)
    return choose_served_threshold(
        labels,
        scores,
        parameters.threshold_rule,
        min_recall=parameters.threshold_min_recall,
        min_precision=parameters.threshold_min_precision,
        fallback=parameters.threshold_fallback,
    )
