"""The Trainer's own test harness: tiny Examples and a schema, and the stock TFX Trainer executor on them.

The Examples are written like CsvExampleGen 1.16 writes them (gzip TFRecords of tf.Example per
`Split-<name>`); the Trainer runs as the pipeline runs it: TFX's `GenericExecutor` importing
`run_fn` by its module path, with a `custom_config` from `TrainerRunConfig` and no other input
than the examples and the schema.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any, Dict, List, Mapping, Tuple

import numpy as np
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.components.trainer import executor as trainer_executor
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2, trainer_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import io_utils, proto_utils

from components.trainer import serving, spec
from components.trainer.spec import TrainerParameters, TrainerRunConfig

LABEL_KEY = "Class"
FEATURE_KEYS = tuple(f"f{index}" for index in range(8))
TRAIN_SPLIT, VALID_SPLIT, EVAL_SPLIT = "train", "valid", "eval"
# Rows per split and class (label -> count): 5% positives, as in a small fraud sample.
SPLIT_COUNTS: Mapping[str, Mapping[int, int]] = {
    TRAIN_SPLIT: {0: 1710, 1: 90},
    VALID_SPLIT: {0: 570, 1: 30},
    EVAL_SPLIT: {0: 570, 1: 30},
}
# Test-sized training: a couple of epochs of a small network, one model unless a test asks for more.
QUICK = {"max_epochs": 2, "batch_size": 256, "hidden_units": (16,), "ensemble_members": 1}


def make_example(features: Mapping[str, float], label: int) -> bytes:
    feature = {key: tf.train.Feature(float_list=tf.train.FloatList(value=[value])) for key, value in features.items()}
    feature[LABEL_KEY] = tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def make_rows(counts: Mapping[int, int], seed: int) -> List[bytes]:
    """Rows whose features overlap between the classes: positives are shifted, by feature, by 0 to 1.5."""
    rng = np.random.default_rng(seed)
    shift = np.linspace(0.0, 1.5, len(FEATURE_KEYS))
    records = []
    for label, count in counts.items():
        for point in rng.normal(size=(count, len(FEATURE_KEYS))) + label * shift:
            records.append(make_example(dict(zip(FEATURE_KEYS, map(float, point), strict=True)), label))
    # Interleave the classes as a shuffled split would be.
    return [records[index] for index in rng.permutation(len(records))]


def make_examples(
    root: pathlib.Path, split_counts: Mapping[str, Mapping[int, int]] = SPLIT_COUNTS, shards: int = 2
) -> standard_artifacts.Examples:
    """An Examples artifact at `root` with `shards` gzip files per split."""
    artifact = standard_artifacts.Examples()
    artifact.uri = str(root)
    for seed, (split, counts) in enumerate(split_counts.items()):
        records = make_rows(counts, seed)
        split_dir = root / f"Split-{split}"
        split_dir.mkdir(parents=True, exist_ok=True)
        for shard in range(shards):
            path = split_dir / f"data_tfrecord-{shard:05d}-of-{shards:05d}.gz"
            with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
                for record in records[shard::shards]:
                    writer.write(record)
    artifact.split_names = artifact_utils.encode_split_names(list(split_counts))
    examples_utils.set_payload_format(artifact, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
    return artifact


def make_schema(root: pathlib.Path) -> standard_artifacts.Schema:
    """A Schema artifact (what ImportSchemaGen publishes): single-valued float features and an int label."""
    schema = schema_pb2.Schema()
    for key, kind in [*((key, schema_pb2.FLOAT) for key in FEATURE_KEYS), (LABEL_KEY, schema_pb2.INT)]:
        feature = schema.feature.add(name=key, type=kind)
        feature.presence.min_fraction = 1.0
        feature.shape.dim.add(size=1)
    artifact = standard_artifacts.Schema()
    artifact.uri = str(root)
    root.mkdir(parents=True, exist_ok=True)
    io_utils.write_pbtxt_file(str(root / "schema.pbtxt"), schema)
    return artifact


def run_config(**parameters: Any) -> TrainerRunConfig:
    """The test data's names with test-sized parameters; keyword arguments override `QUICK`."""
    return TrainerRunConfig(LABEL_KEY, FEATURE_KEYS, TrainerParameters(**{**QUICK, **parameters}))


def run_trainer(
    examples: standard_artifacts.Examples,
    schema: standard_artifacts.Schema,
    run: TrainerRunConfig,
    workdir: pathlib.Path,
) -> Tuple[str, Dict[str, Any]]:
    """The stock TFX Trainer executor with `run_fn`; returns the serving model's folder and its training report."""
    model = standard_artifacts.Model()
    model.uri = str(workdir / "model")
    model_run = standard_artifacts.ModelRun()
    model_run.uri = str(workdir / "model_run")
    exec_properties = {
        standard_component_specs.RUN_FN_KEY: spec.RUN_FN,
        standard_component_specs.TRAIN_ARGS_KEY: proto_utils.proto_to_json(trainer_pb2.TrainArgs(splits=[TRAIN_SPLIT])),
        standard_component_specs.EVAL_ARGS_KEY: proto_utils.proto_to_json(trainer_pb2.EvalArgs(splits=[VALID_SPLIT])),
        standard_component_specs.CUSTOM_CONFIG_KEY: json.dumps(run.to_custom_config()),
    }
    trainer_executor.GenericExecutor().Do(
        {standard_component_specs.EXAMPLES_KEY: [examples], standard_component_specs.SCHEMA_KEY: [schema]},
        {standard_component_specs.MODEL_KEY: [model], standard_component_specs.MODEL_RUN_KEY: [model_run]},
        exec_properties,
    )
    serving_dir = os.path.join(model.uri, "Format-Serving")
    return serving_dir, serving.read_training_report(serving_dir)


def eval_records(examples: standard_artifacts.Examples, limit: int = 400) -> List[bytes]:
    """Serialized tf.Examples of the eval split, as a serving request sends them."""
    pattern = os.path.join(examples.uri, f"Split-{EVAL_SPLIT}", "*.gz")
    dataset = tf.data.TFRecordDataset(tf.io.gfile.glob(pattern), compression_type="GZIP").take(limit)
    return [record.numpy() for record in dataset]
