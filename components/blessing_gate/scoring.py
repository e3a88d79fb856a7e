"""Scores the eval split with the candidate and the baseline, example by example: paired comparison, curves.

TFMA writes per-slice aggregates only, so which positives each model caught is not in the
Evaluator's output; `regression` needs it, and report.html's ROC and PR curves need the scores.
This is one streaming pass over the eval split (the files the Evaluator read), in batches
through the candidate's (and, when there is one, the baseline's) `serving_default`
signature. It keeps the label and each model's probability and decision per example (24 bytes
an example: about 1.4 MB for the default data's 57 000 eval rows); a multiclass model's k
probabilities and served class instead (4k + 8 bytes per model). Its cost, with the paired
bootstrap, is in the BlessingGate row of `benchmarks/pipeline_bench` (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import os
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import types
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components.blessing_gate.errors import GateInputError
from components.trainer.serving import DECISION_OUTPUT, PROBABILITY_OUTPUT, SERVING_INPUT

BATCH_SIZE = 2048
_LABEL_DTYPES = {schema_pb2.INT: tf.int64, schema_pb2.FLOAT: tf.float32}

Scores = Dict[str, np.ndarray]


def label_dtype(schema: schema_pb2.Schema, label_key: str) -> tf.DType:
    """How the label is parsed: INT or FLOAT in the schema (TFMA needs a numeric label too)."""
    for feature in schema.feature:
        if feature.name == label_key:
            if feature.type in _LABEL_DTYPES:
                return _LABEL_DTYPES[feature.type]
            kind = schema_pb2.FeatureType.Name(feature.type)
            raise GateInputError(
                f"label {label_key!r} has schema type {kind}; the paired comparison needs INT or FLOAT"
            )
    raise GateInputError(f"label {label_key!r} is not a feature of the schema")


def split_files(examples: types.Artifact, split: str) -> List[str]:
    """The split's TFRecord files, as ExampleGen (and so the Evaluator) lays them out."""
    if split not in artifact_utils.decode_split_names(examples.split_names):
        raise GateInputError(
            f"the examples at {examples.uri} have no split {split!r} (splits: {examples.split_names}); "
            "give the gate the Evaluator's examples and its eval split"
        )
    pattern = os.path.join(artifact_utils.get_split_uri([examples], split), "*")
    files = sorted(os.fsdecode(path) for path in fileio.glob(pattern))
    if not files:
        raise GateInputError(f"split {split!r} of {examples.uri} holds no files")
    return files


def _signature(model: types.Artifact):
    serving_dir = path_utils.serving_model_path(model.uri)
    try:
        return tf.saved_model.load(serving_dir).signatures["serving_default"]
    except (OSError, KeyError, ValueError, tf.errors.OpError) as error:
        raise GateInputError(f"cannot load the serving signature of the model in {serving_dir}: {error}") from error


def _column(tensor: tf.Tensor) -> np.ndarray:
    """An output as numpy: a [batch, 1] column flattened to [batch]; [batch] and [batch, k] kept."""
    array = tensor.numpy()
    return array.reshape(-1) if array.ndim < 2 or array.shape[1] == 1 else array


def score_split(
    files: List[str],
    label_key: str,
    dtype: tf.DType,
    models: Mapping[str, types.Artifact],
    output_keys: Sequence[str] = (PROBABILITY_OUTPUT, DECISION_OUTPUT),
) -> Tuple[np.ndarray, Dict[str, Scores]]:
    """Labels and, per model name, one array per output (binary: `probability` and `decision`), in record order.

    A multiclass model's `probabilities` come back as [examples, k], its `class` as [examples].
    """
    compression = "GZIP" if all(path.endswith(".gz") for path in files) else ""
    signatures = {name: _signature(model) for name, model in models.items()}
    labels: List[np.ndarray] = []
    outputs: Dict[str, Dict[str, List[np.ndarray]]] = {name: {key: [] for key in output_keys} for name in models}
    label_spec = {label_key: tf.io.FixedLenFeature([], dtype)}
    try:
        for batch in tf.data.TFRecordDataset(files, compression_type=compression).batch(BATCH_SIZE):
            labels.append(tf.io.parse_example(batch, label_spec)[label_key].numpy())
            for name, signature in signatures.items():
                result = signature(**{SERVING_INPUT: batch})
                missing = [key for key in output_keys if key not in result]
                if missing:
                    raise GateInputError(
                        f"the {name} model's serving signature has no output(s) {missing} (it has {sorted(result)}); "
                        "a binary model serves probability and decision, a multiclass one probabilities and class"
                    )
                for key in output_keys:
                    outputs[name][key].append(_column(result[key]))
    except tf.errors.OpError as error:
        raise GateInputError(
            f"cannot score the eval split ({files[0]} ...) for the paired comparison: {error}"
        ) from error
    if not labels:
        raise GateInputError(f"the eval split ({files[0]} ...) holds no examples")
    scores = {name: {key: np.concatenate(parts) for key, parts in by_key.items()} for name, by_key in outputs.items()}
    return np.concatenate(labels), scores
