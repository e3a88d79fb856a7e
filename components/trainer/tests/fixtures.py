"""The Trainer's own test harness: tiny raw Examples, the stock Transform on them, and the stock Trainer.

The raw Examples are written like CsvExampleGen 1.16 writes data prep's typed rows (gzip
TFRecords of tf.Example per `Split-<name>`): eight numeric columns, the last of them missing
(an absent feature) in about a tenth of the rows, one text categorical column, an int label.
The schema is what SchemaGen infers with `infer_feature_shape=False` (every feature
variable-length). The stock TFX Transform executor runs the project's `preprocessing_fn` on
train and valid; the Trainer runs as the pipeline runs it: TFX's `GenericExecutor` importing
`run_fn` by its module path, with a `custom_config` from `TrainerRunConfig` and no other input
than the transformed examples and the transform graph.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.components.trainer import executor as trainer_executor
from tfx.components.transform import executor as transform_executor
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2, trainer_pb2, transform_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import io_utils, proto_utils

from components.trainer import serving, spec
from components.trainer.spec import TrainerParameters, TrainerRunConfig
from components.transform.spec import PREPROCESSING_FN, TransformInputs, transformed_numeric_keys

LABEL_KEY = "Class"
FEATURE_KEYS = tuple(f"f{index}" for index in range(8))
# The numeric column with missing values, and the text column; positives favour some regions.
NULLABLE_KEY = FEATURE_KEYS[-1]
CATEGORICAL_KEY = "region"
REGIONS = ("north", "south", "east", "west", "centre")
REGION_WEIGHTS = {
    0: (0.3, 0.3, 0.2, 0.1, 0.1),
    1: (0.1, 0.1, 0.2, 0.3, 0.3),
    2: (0.1, 0.4, 0.1, 0.1, 0.3),
    3: (0.4, 0.1, 0.1, 0.3, 0.1),
}
MISSING_SHARE = 0.1
TRANSFORM_INPUTS = TransformInputs(LABEL_KEY, FEATURE_KEYS, (CATEGORICAL_KEY,), nullable_feature_keys=(NULLABLE_KEY,))
TRAIN_SPLIT, VALID_SPLIT, EVAL_SPLIT = "train", "valid", "eval"
# Rows per split and class (label -> count): 5% positives, as in a small fraud sample.
SPLIT_COUNTS: Mapping[str, Mapping[int, int]] = {
    TRAIN_SPLIT: {0: 1710, 1: 90},
    VALID_SPLIT: {0: 570, 1: 30},
    EVAL_SPLIT: {0: 570, 1: 30},
}
# A k = 4 label (a failure type): a common class, a middling one and two rare ones, the protected.
CLASS_NAMES = ("none", "wear", "power", "heat")
PROTECTED_CLASSES = (2, 3)
MULTICLASS_SPLIT_COUNTS: Mapping[str, Mapping[int, int]] = {
    TRAIN_SPLIT: {0: 1440, 1: 240, 2: 72, 3: 48},
    VALID_SPLIT: {0: 480, 1: 80, 2: 24, 3: 16},
    EVAL_SPLIT: {0: 480, 1: 80, 2: 24, 3: 16},
}
# Test-sized training: a couple of epochs of a small network, one model unless a test asks for more.
# The MLP alone unless a test names a family: most Trainer tests are about the MLP's training.
QUICK = {"max_epochs": 2, "batch_size": 256, "hidden_units": (16,), "ensemble_members": 1, "model": "mlp"}


def make_example(features: Mapping[str, Any], label: Optional[int]) -> bytes:
    """A raw tf.Example as data prep types it: floats, text as bytes, a 0/1 int label; None is an absent feature."""
    feature = {}
    for key, value in features.items():
        if isinstance(value, str):
            feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
        elif value is not None:
            feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
    if label is not None:
        feature[LABEL_KEY] = tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _class_shift(label: int) -> np.ndarray:
    """Class 1 is shifted, by feature, by 0 to 1.5; each further class by the same amounts rolled, so in its own way."""
    shift = np.linspace(0.0, 1.5, len(FEATURE_KEYS))
    return shift * label if label <= 1 else np.roll(shift, 3 * (label - 1)) + 0.5


def make_rows(counts: Mapping[int, int], seed: int) -> List[bytes]:
    """Rows whose features overlap between the classes: each class other than 0 is shifted (`_class_shift`)."""
    rng = np.random.default_rng(seed)
    records = []
    for label, count in counts.items():
        for point in rng.normal(size=(count, len(FEATURE_KEYS))) + _class_shift(label):
            row: Dict[str, Any] = dict(zip(FEATURE_KEYS, map(float, point), strict=True))
            if rng.random() < MISSING_SHARE:
                row[NULLABLE_KEY] = None
            row[CATEGORICAL_KEY] = str(rng.choice(REGIONS, p=REGION_WEIGHTS[label]))
            records.append(make_example(row, label))
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
    """A Schema artifact as SchemaGen infers it with `infer_feature_shape=False`: no shapes, every feature VarLen."""
    schema = schema_pb2.Schema()
    kinds = [
        *((key, schema_pb2.FLOAT) for key in FEATURE_KEYS),
        (CATEGORICAL_KEY, schema_pb2.BYTES),
        (LABEL_KEY, schema_pb2.INT),
    ]
    for key, kind in kinds:
        feature = schema.feature.add(name=key, type=kind)
        feature.presence.min_count = 1
        if key != NULLABLE_KEY:
            feature.presence.min_fraction = 1.0
    artifact = standard_artifacts.Schema()
    artifact.uri = str(root)
    root.mkdir(parents=True, exist_ok=True)
    io_utils.write_pbtxt_file(str(root / "schema.pbtxt"), schema)
    return artifact


def run_transform(
    examples: standard_artifacts.Examples, schema: standard_artifacts.Schema, workdir: pathlib.Path
) -> Tuple[standard_artifacts.Examples, standard_artifacts.TransformGraph]:
    """The stock TFX Transform executor with the project's `preprocessing_fn`, as the pipeline configures it.

    Analyzes train, transforms train and valid; returns the transformed examples and the transform graph.
    """
    transformed = standard_artifacts.Examples()
    transformed.uri = str(workdir / "transformed_examples")
    graph = standard_artifacts.TransformGraph()
    graph.uri = str(workdir / "transform_graph")
    splits = transform_pb2.SplitsConfig(analyze=[TRAIN_SPLIT], transform=[TRAIN_SPLIT, VALID_SPLIT])
    exec_properties = {
        standard_component_specs.PREPROCESSING_FN_KEY: PREPROCESSING_FN,
        standard_component_specs.CUSTOM_CONFIG_KEY: json.dumps(TRANSFORM_INPUTS.to_custom_config()),
        standard_component_specs.SPLITS_CONFIG_KEY: proto_utils.proto_to_json(splits),
        standard_component_specs.FORCE_TF_COMPAT_V1_KEY: 0,
        standard_component_specs.DISABLE_STATISTICS_KEY: 1,
    }
    context = base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=["--direct_num_workers=1", "--direct_running_mode=in_memory"],
        tmp_dir=str(workdir / "tmp"),
        unique_id="Transform",
    )
    transform_executor.Executor(context).Do(
        {standard_component_specs.EXAMPLES_KEY: [examples], standard_component_specs.SCHEMA_KEY: [schema]},
        {
            standard_component_specs.TRANSFORM_GRAPH_KEY: [graph],
            standard_component_specs.TRANSFORMED_EXAMPLES_KEY: [transformed],
        },
        exec_properties,
    )
    return transformed, graph


def run_config(**parameters: Any) -> TrainerRunConfig:
    """The Transform's output names with test-sized parameters; keyword arguments override `QUICK`."""
    return TrainerRunConfig(
        label_key=LABEL_KEY,
        numeric_feature_keys=transformed_numeric_keys(TRANSFORM_INPUTS),
        categorical_feature_keys=TRANSFORM_INPUTS.categorical_feature_keys,
        parameters=TrainerParameters(**{**QUICK, **parameters}),
    )


def multiclass_run_config(**parameters: Any) -> TrainerRunConfig:
    """`run_config` for the k = 4 label: its class names and protected classes."""
    return dataclasses.replace(run_config(**parameters), class_names=CLASS_NAMES, protected_classes=PROTECTED_CLASSES)


def run_trainer(
    transformed: standard_artifacts.Examples,
    transform_graph: standard_artifacts.TransformGraph,
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
        {
            standard_component_specs.EXAMPLES_KEY: [transformed],
            standard_component_specs.TRANSFORM_GRAPH_KEY: [transform_graph],
        },
        {standard_component_specs.MODEL_KEY: [model], standard_component_specs.MODEL_RUN_KEY: [model_run]},
        exec_properties,
    )
    serving_dir = os.path.join(model.uri, "Format-Serving")
    return serving_dir, serving.read_training_report(serving_dir)


def eval_records(examples: standard_artifacts.Examples, limit: int = 400) -> List[bytes]:
    """Serialized raw tf.Examples of the eval split (never transformed), as a serving request sends them."""
    pattern = os.path.join(examples.uri, f"Split-{EVAL_SPLIT}", "*.gz")
    dataset = tf.data.TFRecordDataset(tf.io.gfile.glob(pattern), compression_type="GZIP").take(limit)
    return [record.numpy() for record in dataset]


def serve(serving_dir: str, records: List[bytes], flatten: bool = False) -> Dict[str, np.ndarray]:
    """The serving signature's outputs for serialized raw records, as the Evaluator would call it.

    `flatten` gives each output as one value per row (a binary model's [rows, 1] outputs).
    """
    signature = tf.saved_model.load(serving_dir).signatures["serving_default"]
    outputs = signature(**{serving.SERVING_INPUT: tf.constant(records)})
    return {name: value.numpy().reshape(-1) if flatten else value.numpy() for name, value in outputs.items()}


def check_mlp_and_trees_serve_the_mean(
    trained: Mapping[str, Tuple[str, Dict[str, Any]]], records: List[bytes], probability_output: str, trees: str = "gbt"
) -> Dict[str, np.ndarray]:
    """mlp_<trees>' probabilities must be the mean of the mlp's and the trees'; returns mlp_<trees>' outputs.

    `trained` maps each family to its (serving folder, training report), all of the same seed and
    rows, so each half of mlp_gbt (mlp_rf) is the model its family trains alone.
    """
    both = f"mlp_{trees}"
    served = {family: serve(trained[family][0], records) for family in ("mlp", trees, both)}
    mean = (served["mlp"][probability_output] + served[trees][probability_output]) / 2
    np.testing.assert_allclose(served[both][probability_output], mean, rtol=0, atol=2e-6)
    return served[both]
