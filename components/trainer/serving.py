"""What the Trainer hands on: the serving SavedModel and the training report beside it.

The serving signature takes serialized RAW tf.Examples, as data prep wrote them (the Transform's
graph travels inside the SavedModel), and returns the probability, the decision at the tuned
threshold and the threshold itself, so the Evaluator and a serving system apply the very
threshold the Trainer chose. A multiclass model (k >= 3) returns instead `probabilities`
[batch, k] (softmax), `decision_scores` [batch, k] (the probabilities times the tuned per-class
weights, renormalised to sum 1), `class` [batch] (their argmax, the served class) and
`class_weights` [batch, k] (the weights, per row as `threshold` is); `decision_rule.py`.
Every raw feature is optional in a request: a missing number is imputed and flagged, a category
never seen in training falls into an out-of-vocabulary bucket.
The training report (threshold and training figures) is written into the SavedModel's
`assets.extra`, where the run summary and the strategy report read it.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Mapping, Optional, Sequence

import tensorflow as tf
import tensorflow_transform as tft
from tfx.dsl.io import fileio

PROBABILITY_OUTPUT = "probability"
DECISION_OUTPUT = "decision"
THRESHOLD_OUTPUT = "threshold"
SERVING_INPUT = "examples"
# The multiclass signature's outputs.
PROBABILITIES_OUTPUT = "probabilities"
DECISION_SCORES_OUTPUT = "decision_scores"
CLASS_OUTPUT = "class"
CLASS_WEIGHTS_OUTPUT = "class_weights"
TRAINING_REPORT_FILE = "training_report.json"
_EXTRA_ASSETS_DIR = "assets.extra"


def serving_feature_spec(
    raw_feature_spec: Mapping[str, Any], label_key: str, model_input_keys: Sequence[str]
) -> Dict[str, Any]:
    """The raw features a request is parsed with: no label, and nothing required that the model does not read.

    SchemaGen (with `infer_feature_shape=False`) makes every feature variable-length, hence
    optional. A fixed-length feature without a default would make a request without it fail, so
    one is kept only when a model input of its name needs it.
    """
    wanted = set(model_input_keys)
    return {
        key: feature
        for key, feature in raw_feature_spec.items()
        if key != label_key
        and (not isinstance(feature, tf.io.FixedLenFeature) or feature.default_value is not None or key in wanted)
    }


class _ServedModel(tf.Module):
    """The model, the request parser and (behind a transform graph) the transform layer, tracked for the SavedModel."""

    def __init__(
        self,
        model: tf.keras.Model,
        feature_keys: Sequence[str],
        transform_output: Optional[tft.TFTransformOutput],
        label_key: Optional[str],
    ):
        super().__init__()
        self.model = model
        self._feature_keys = tuple(feature_keys)
        if transform_output is None:
            self.transform_features = None
            self._feature_spec = {key: tf.io.FixedLenFeature([1], tf.float32) for key in feature_keys}
        else:
            if not label_key:
                raise ValueError("a model served behind a transform graph needs the label key, to leave it out")
            # An attribute of the exported module, so the graph and its vocabulary assets are saved with it.
            self.transform_features = transform_output.transform_features_layer()
            self._feature_spec = serving_feature_spec(transform_output.raw_feature_spec(), label_key, feature_keys)

    def _model_output(self, serialized_examples: tf.Tensor) -> tf.Tensor:
        """The model's output for serialized raw examples: parsed, transformed, one [batch, 1] column per input."""
        features = tf.io.parse_example(serialized_examples, self._feature_spec)
        if self.transform_features is not None:
            features = self.transform_features(features)
        model_inputs = {key: tf.reshape(tf.cast(features[key], tf.float32), [-1, 1]) for key in self._feature_keys}
        return self.model(model_inputs, training=False)


class _ServingModule(_ServedModel):
    """Holds the model, the threshold and the transform layer, so the SavedModel tracks all three."""

    def __init__(
        self,
        model: tf.keras.Model,
        feature_keys: Sequence[str],
        decision_threshold: float,
        transform_output: Optional[tft.TFTransformOutput],
        label_key: Optional[str],
    ):
        super().__init__(model, feature_keys, transform_output, label_key)
        self.decision_threshold = tf.Variable(decision_threshold, dtype=tf.float32, trainable=False, name="threshold")

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name=SERVING_INPUT)])
    def serve(self, serialized_examples):
        probability = tf.sigmoid(self._model_output(serialized_examples))
        decision = tf.cast(probability >= self.decision_threshold, tf.float32)
        threshold_column = tf.fill(tf.shape(probability), self.decision_threshold)
        return {PROBABILITY_OUTPUT: probability, DECISION_OUTPUT: decision, THRESHOLD_OUTPUT: threshold_column}


class _MulticlassServingModule(_ServedModel):
    """Holds a k-logit model, the decision rule's per-class weights and the transform layer."""

    def __init__(
        self,
        model: tf.keras.Model,
        feature_keys: Sequence[str],
        class_weights: Sequence[float],
        transform_output: Optional[tft.TFTransformOutput],
        label_key: Optional[str],
    ):
        super().__init__(model, feature_keys, transform_output, label_key)
        self.class_weights = tf.Variable(list(class_weights), dtype=tf.float32, trainable=False, name="class_weights")

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name=SERVING_INPUT)])
    def serve(self, serialized_examples):
        probabilities = tf.nn.softmax(self._model_output(serialized_examples), axis=-1)
        weighted = probabilities * self.class_weights
        scores = weighted / tf.reduce_sum(weighted, axis=-1, keepdims=True)
        return {
            PROBABILITIES_OUTPUT: probabilities,
            DECISION_SCORES_OUTPUT: scores,
            CLASS_OUTPUT: tf.argmax(scores, axis=-1, output_type=tf.int64),
            CLASS_WEIGHTS_OUTPUT: tf.tile(self.class_weights[tf.newaxis, :], [tf.shape(probabilities)[0], 1]),
        }


def export_serving_model(
    model: tf.keras.Model,
    feature_keys: Sequence[str],
    decision_threshold: float,
    export_dir: str,
    *,
    transform_output: Optional[tft.TFTransformOutput] = None,
    label_key: Optional[str] = None,
) -> None:
    """SavedModel with `serving_default`: serialized tf.Example -> probability, decision, threshold.

    With `transform_output` the signature takes raw examples and applies the transform graph
    before the model; without one it parses `feature_keys` as single floats (a model on raw
    numbers, as other components' tests build).
    """
    module = _ServingModule(model, feature_keys, decision_threshold, transform_output, label_key)
    tf.saved_model.save(module, export_dir, signatures={"serving_default": module.serve})


def export_multiclass_serving_model(
    model: tf.keras.Model,
    feature_keys: Sequence[str],
    class_weights: Sequence[float],
    export_dir: str,
    *,
    transform_output: Optional[tft.TFTransformOutput] = None,
    label_key: Optional[str] = None,
) -> None:
    """SavedModel with `serving_default`: serialized tf.Example -> probabilities, decision_scores, class, class_weights.

    `model` outputs k logits; `class_weights` are the decision rule's (`decision_rule.py`). Inputs as
    `export_serving_model`.
    """
    module = _MulticlassServingModule(model, feature_keys, class_weights, transform_output, label_key)
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
