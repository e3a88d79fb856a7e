"""Multiclass test helpers: a k = 4 eval split with two rare classes and served models with the contract's signature.

The data: numeric features `x1`, `x2`, label `failure` (class index 0..3), slice feature `band`.
Each class is a unit Gaussian around its own centre; per band (`day`, `night`) 300 rows:
240 `none`, 36 `heat`, 12 `power`, 12 `tool_wear`. `power` and `tool_wear` are the two rare
classes the gate protects (4% each).

The models are hand-made `tf.Module`s (nothing trained, so deterministic) whose `serving_default`
takes serialized tf.Examples under `examples` and returns what the multiclass Trainer serves:
`probabilities` (softmax), `decision_scores` (probabilities times per-class weights,
renormalised), `class` (argmax of `decision_scores`) and `class_weights` (the weights, per row).
- good: the Gaussian posterior (linear discriminant with the true centres and priors), served with
  weights that favour the rare classes;
- weak: the same probabilities, served with a decision rule that starves `tool_wear` (weight 0.25
  instead of 4): same AUC and PR-AUC for every class, but it serves `tool_wear` for a quarter of
  its rows, and `power` exactly as the good model does.
"""

from __future__ import annotations

import os
from typing import Dict, List, Sequence

import numpy as np
import tensorflow as tf
from tfx.types import standard_artifacts

from components.blessing_gate.tests import fixtures
from components.trainer.serving import SERVING_INPUT

LABEL_KEY = "failure"
SLICE_KEY = "band"
CLASS_NAMES = ("none", "heat", "power", "tool_wear")
PROTECTED = (2, 3)
SEED = 11
COUNTS_PER_BAND = (240, 36, 12, 12)
CENTRES = np.array([[0.0, 0.0], [2.5, 0.0], [0.0, 2.5], [0.0, -2.5]])
DECISION_WEIGHTS = {"good": (1.0, 1.5, 4.0, 4.0), "weak": (1.0, 1.5, 4.0, 0.25)}

PROBABILITIES = "probabilities"
DECISION_SCORES = "decision_scores"
CLASS = "class"
CLASS_WEIGHTS = "class_weights"

SCHEMA_TEXT = f"""
feature {{ name: "x1" type: FLOAT }}
feature {{ name: "x2" type: FLOAT }}
feature {{ name: "{SLICE_KEY}" type: BYTES }}
feature {{ name: "{LABEL_KEY}" type: INT int_domain {{ min: 0 max: 3 is_categorical: true }} }}
"""


def eval_rows(seed: int = SEED) -> List[Dict[str, object]]:
    """The eval split as dicts, in a seeded shuffled order."""
    rng = np.random.RandomState(seed)
    rows = []
    for band in ("day", "night"):
        for label, count in enumerate(COUNTS_PER_BAND):
            points = CENTRES[label] + rng.normal(size=(count, 2))
            rows += [{"x1": float(x1), "x2": float(x2), SLICE_KEY: band, LABEL_KEY: label} for x1, x2 in points]
    order = rng.permutation(len(rows))
    return [rows[index] for index in order]


_serialize = fixtures.row_serializer(SLICE_KEY, LABEL_KEY)


def write_examples(directory: str, rows: Sequence[Dict[str, object]]) -> standard_artifacts.Examples:
    """An Examples artifact with one `eval` split, laid out as ExampleGen writes it."""
    return fixtures.write_examples(directory, rows, serialize=_serialize)


def _discriminant() -> tuple:
    """Weights and biases of the Gaussian posterior's logits: mu·x − |mu|²/2 + log prior."""
    priors = np.array(COUNTS_PER_BAND, dtype=np.float64) / sum(COUNTS_PER_BAND)
    weights = CENTRES.T.astype(np.float32)
    bias = (-0.5 * np.sum(CENTRES**2, axis=1) + np.log(priors)).astype(np.float32)
    return weights, bias


class _MulticlassModule(tf.Module):
    """The multiclass serving signature over a fixed linear softmax model."""

    def __init__(self, decision_weights: Sequence[float]):
        super().__init__()
        weights, bias = _discriminant()
        self.weights = tf.Variable(weights, trainable=False)
        self.bias = tf.Variable(bias, trainable=False)
        self.decision_weights = tf.Variable(np.array(decision_weights, dtype=np.float32), trainable=False)

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name=SERVING_INPUT)])
    def serve(self, examples):
        spec = {key: tf.io.FixedLenFeature([1], tf.float32) for key in ("x1", "x2")}
        parsed = tf.io.parse_example(examples, spec)
        inputs = tf.concat([parsed["x1"], parsed["x2"]], axis=1)
        probabilities = tf.nn.softmax(tf.matmul(inputs, self.weights) + self.bias)
        weighted = probabilities * self.decision_weights
        decision_scores = weighted / tf.reduce_sum(weighted, axis=1, keepdims=True)
        return {
            PROBABILITIES: probabilities,
            DECISION_SCORES: decision_scores,
            CLASS: tf.argmax(decision_scores, axis=1),
            CLASS_WEIGHTS: tf.ones_like(probabilities) * self.decision_weights,
        }


def write_model(directory: str, kind: str, model_id: int) -> standard_artifacts.Model:
    """A Model artifact holding the `good` or `weak` model under Format-Serving, as the Trainer lays it out."""
    module = _MulticlassModule(DECISION_WEIGHTS[kind])
    tf.saved_model.save(module, os.path.join(directory, "Format-Serving"), signatures={"serving_default": module.serve})
    model = standard_artifacts.Model()
    model.uri = directory
    model.id = model_id
    return model


def predictions(rows: Sequence[Dict[str, object]], kind: str) -> Dict[str, np.ndarray]:
    """The model's outputs computed in numpy (float64), to check TFMA's figures against scikit-learn's."""
    weights, bias = _discriminant()
    inputs = np.array([[row["x1"], row["x2"]] for row in rows], dtype=np.float32)
    logits = inputs @ weights + bias
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    weighted = probabilities * np.array(DECISION_WEIGHTS[kind])
    decision_scores = weighted / weighted.sum(axis=1, keepdims=True)
    return {PROBABILITIES: probabilities, DECISION_SCORES: decision_scores, CLASS: decision_scores.argmax(axis=1)}


def write_schema(directory: str) -> standard_artifacts.Schema:
    return fixtures.write_schema(directory, SCHEMA_TEXT)
