"""Test helpers: a tiny eval split, two tiny served models and a real TFX Evaluator run over them.

The data: numeric features `x1`, `x2`, label `Class`, slice feature `band`.
- `day` and `night` (300 rows each): Class = 1 when x1 + noise > 1 (about 16% positive);
- `rare` (40 rows): 3 positives placed where a good model misses them, 37 negatives.

The models have the Trainer's serving signature (`components.trainer.model.export_serving_model`):
- good: logit 6 * (x1 - 1), served at threshold 0.3, so recall at the served threshold
  differs from recall at 0.5;
- stricter: the good model's scores served at 0.5: same ranking (same AUC and PR-AUC),
  lower recall; above the absolute minimums but a regression against the good model;
- majority: a constant logit of -5 (probability 0.0067), so it predicts 0 everywhere.
"""

from __future__ import annotations

import json
import os
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_model_analysis as tfma
from google.protobuf import json_format, text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import base_beam_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils

from components.blessing_gate.eval_config import gate_eval_config
from components.blessing_gate.spec import BlessingGateParameters
from components.trainer.model import export_serving_model

LABEL_KEY = "Class"
FEATURE_KEYS = ("x1", "x2")
SLICE_KEY = "band"
SEED = 7
# Served decision thresholds.
THRESHOLDS_BY_KIND = {"good": 0.3, "stricter": 0.5, "majority": 0.5}

SCHEMA_TEXT = """
feature { name: "x1" type: FLOAT }
feature { name: "x2" type: FLOAT }
feature { name: "band" type: BYTES }
feature { name: "Class" type: INT int_domain { min: 0 max: 1 is_categorical: true } }
"""

# Loose enough for the good model on every judged slice, strict enough that the majority model fails.
TEST_PARAMETERS = BlessingGateParameters(
    min_auc=0.85, min_pr_auc=0.6, min_recall=0.7, min_slice_positives=10, max_pr_auc_drop=0.02, max_recall_drop=0.05
)
# What the judge's and the spec's unit tests judge hand-built metrics with: recall 0.80, slices of >= 10 positives.
UNIT_PARAMETERS = BlessingGateParameters(
    min_auc=0.90, min_pr_auc=0.50, min_recall=0.80, min_slice_positives=10, max_pr_auc_drop=0.02, max_recall_drop=0.05
)


def eval_rows(seed: int = SEED, positives: bool = True) -> List[Dict[str, object]]:
    """The eval split as dicts; `positives=False` makes every label 0."""
    rng = np.random.RandomState(seed)
    rows = []
    for band in ("day", "night"):
        x1 = rng.normal(size=300)
        x2 = rng.normal(size=300)
        labels = (x1 + 0.3 * rng.normal(size=300) > 1.0).astype(int)
        rows += [{"x1": a, "x2": b, SLICE_KEY: band, LABEL_KEY: c} for a, b, c in zip(x1, x2, labels, strict=True)]
    rare_x1 = np.concatenate([np.full(3, -1.5), rng.normal(-0.5, 0.5, size=37)])
    rare_labels = [1, 1, 1] + [0] * 37
    rows += [
        {"x1": a, "x2": float(rng.normal()), SLICE_KEY: "rare", LABEL_KEY: c}
        for a, c in zip(rare_x1, rare_labels, strict=True)
    ]
    if not positives:
        for row in rows:
            row[LABEL_KEY] = 0
    return rows


def row_serializer(slice_key: str, label_key: str) -> Callable[[Dict[str, object]], bytes]:
    """Serializes a row as a tf.Example: float `x1` and `x2`, the slice as bytes, the label as int64.

    The binary and the multiclass fixtures share the layout and differ only in the two names.
    """

    def serialize(row: Dict[str, object]) -> bytes:
        feature = {
            "x1": tf.train.Feature(float_list=tf.train.FloatList(value=[float(row["x1"])])),
            "x2": tf.train.Feature(float_list=tf.train.FloatList(value=[float(row["x2"])])),
            slice_key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[str(row[slice_key]).encode()])),
            label_key: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(row[label_key])])),
        }
        return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()

    return serialize


_serialize = row_serializer(SLICE_KEY, LABEL_KEY)


def write_examples(
    directory: str, rows: Sequence[Dict[str, object]], serialize: Callable[[Dict[str, object]], bytes] = _serialize
) -> standard_artifacts.Examples:
    """An Examples artifact with one `eval` split, laid out as ExampleGen writes it (`serialize` makes each Example)."""
    examples = standard_artifacts.Examples()
    examples.uri = directory
    examples.split_names = artifact_utils.encode_split_names(["eval"])
    split_dir = os.path.join(directory, "Split-eval")
    fileio.makedirs(split_dir)
    with tf.io.TFRecordWriter(os.path.join(split_dir, "data_tfrecord-00000-of-00001.gz"), "GZIP") as writer:
        for row in rows:
            writer.write(serialize(row))
    return examples


def _linear_keras_model(weights: Sequence[float], bias: float) -> tf.keras.Model:
    """logit = weights . features + bias, with fixed weights (deterministic, nothing to train)."""
    inputs = {key: tf.keras.layers.Input(shape=(1,), name=key, dtype=tf.float32) for key in FEATURE_KEYS}
    stacked = tf.keras.layers.Concatenate()([inputs[key] for key in FEATURE_KEYS])
    dense = tf.keras.layers.Dense(1, name="logit")
    model = tf.keras.Model(inputs=inputs, outputs=dense(stacked))
    dense.set_weights([np.array(weights, dtype=np.float32).reshape(-1, 1), np.array([bias], dtype=np.float32)])
    return model


def write_model(directory: str, kind: str, model_id: int) -> standard_artifacts.Model:
    """A Model artifact holding a `good`, `stricter` or `majority` model under Format-Serving, as the Trainer does."""
    if kind in ("good", "stricter"):
        keras_model = _linear_keras_model([6.0, 0.0], -6.0)
    elif kind == "majority":
        keras_model = _linear_keras_model([0.0, 0.0], -5.0)
    else:
        raise ValueError(f"unknown model kind {kind!r}")
    threshold = THRESHOLDS_BY_KIND[kind]
    model = standard_artifacts.Model()
    model.uri = directory
    model.id = model_id
    export_serving_model(keras_model, FEATURE_KEYS, threshold, os.path.join(directory, "Format-Serving"))
    return model


def good_model_probability(rows: Sequence[Dict[str, object]]) -> np.ndarray:
    x1 = np.array([row["x1"] for row in rows], dtype=np.float32)
    return 1.0 / (1.0 + np.exp(-(6.0 * x1 - 6.0)))


def write_schema(directory: str, text: str = SCHEMA_TEXT) -> standard_artifacts.Schema:
    schema = standard_artifacts.Schema()
    schema.uri = directory
    io_utils.write_pbtxt_file(os.path.join(directory, "schema.pbtxt"), text_format.Parse(text, schema_pb2.Schema()))
    return schema


def run_evaluator(
    directory: str,
    examples: standard_artifacts.Examples,
    model: standard_artifacts.Model,
    baseline: Optional[standard_artifacts.Model] = None,
    parameters: BlessingGateParameters = TEST_PARAMETERS,
    config: Optional[tfma.EvalConfig] = None,
) -> Dict[str, object]:
    """The stock TFX Evaluator executor on `config` (default: the binary `gate_eval_config`).

    Returns its ModelEvaluation, ModelBlessing, and the examples.
    """
    evaluation = standard_artifacts.ModelEvaluation()
    evaluation.uri = os.path.join(directory, "evaluation")
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = os.path.join(directory, "evaluator_blessing")
    for artifact in (evaluation, blessing):
        fileio.makedirs(artifact.uri)
    input_dict = {"examples": [examples], "model": [model]}
    if baseline is not None:
        input_dict["baseline_model"] = [baseline]
    if config is None:
        config = gate_eval_config(parameters, LABEL_KEY, [SLICE_KEY])
    exec_properties = {
        "eval_config": json_format.MessageToJson(config),
        "example_splits": json.dumps(["eval"]),
    }
    context = base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=["--direct_num_workers=1", "--direct_running_mode=in_memory"],
        tmp_dir=os.path.join(directory, "tmp"),
    )
    evaluator_executor.Executor(context).Do(
        input_dict, {"evaluation": [evaluation], "blessing": [blessing]}, exec_properties
    )
    return {"evaluation": evaluation, "evaluator_blessing": blessing, "examples": examples}
