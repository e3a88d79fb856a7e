"""What the Trainer hands on: the serving SavedModel and the training report beside it.

The serving signature parses serialized tf.Examples and returns the probability, the decision
at the tuned threshold and the threshold itself, so the Evaluator and a serving system apply
the very threshold the Trainer chose. The training report (threshold and training figures) is
written into the SavedModel's `assets.extra`, where the run summary and the strategy report read it.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Mapping, Sequence

import tensorflow as tf
from tfx.dsl.io import fileio

PROBABILITY_OUTPUT = "probability"
DECISION_OUTPUT = "decision"
THRESHOLD_OUTPUT = "threshold"
SERVING_INPUT = "examples"
TRAINING_REPORT_FILE = "training_report.json"
_EXTRA_ASSETS_DIR = "assets.extra"


class _ServingModule(tf.Module):
    """Holds the model and the threshold so the SavedModel tracks both."""

    def __init__(self, model: tf.keras.Model, feature_keys: Sequence[str], decision_threshold: float):
        super().__init__()
        self.model = model
        self.decision_threshold = tf.Variable(decision_threshold, dtype=tf.float32, trainable=False, name="threshold")
        self._feature_spec = {key: tf.io.FixedLenFeature([1], tf.float32) for key in feature_keys}

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name=SERVING_INPUT)])
    def serve(self, serialized_examples):
        parsed = tf.io.parse_example(serialized_examples, self._feature_spec)
        probability = tf.sigmoid(self.model(parsed, training=False))
        decision = tf.cast(probability >= self.decision_threshold, tf.float32)
        threshold_column = tf.fill(tf.shape(probability), self.decision_threshold)
        return {PROBABILITY_OUTPUT: probability, DECISION_OUTPUT: decision, THRESHOLD_OUTPUT: threshold_column}


def export_serving_model(
    model: tf.keras.Model, feature_keys: Sequence[str], decision_threshold: float, export_dir: str
) -> None:
    """SavedModel with `serving_default`: serialized tf.Example -> probability, decision, threshold."""
    module = _ServingModule(model, feature_keys, decision_threshold)
    tf.saved_model.save(module, export_dir, signatures={"serving_default": module.serve})


def write_training_report(serving_model_dir: str, report: Mapping[str, Any]) -> None:
    """Writes the threshold and training figures beside the SavedModel (`assets.extra`)."""
    extra_dir = os.path.join(serving_model_dir, _EXTRA_ASSETS_DIR)
    fileio.makedirs(extra_dir)
    with fileio.open(os.path.join(extra_dir, TRAINING_REPORT_FILE), "w") as out:
        out.write(json.dumps(report, indent=2, sort_keys=True))


def read_training_report(serving_model_dir: str) -> Dict[str, Any]:
    """The threshold and training figures that `run_fn` saved beside a SavedModel."""
    with fileio.open(os.path.join(serving_model_dir, _EXTRA_ASSETS_DIR, TRAINING_REPORT_FILE), "r") as handle:
        return json.loads(handle.read())
