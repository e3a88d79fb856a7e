"""Each table shape a user brings, through data prep, SchemaGen, the Transform, the Trainer and serving.

The pipeline's own components, run in-process by `pipeline/harness.py` (no orchestrator): the
schema is inferred (a data set's first run), the Transform builds z-scores, missing indicators
and vocabularies, a small model trains, and the exported serving signature scores the raw eval
examples and raw examples with every input missing or a category never seen.
"""

from __future__ import annotations

import collections
import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import serving
from pipeline import harness, schema_review
from pipeline import pipeline as pipeline_module
from pipeline.config import PipelineConfig
from pipeline.dataset import load_description
from pipeline.overrides import apply_overrides
from pipeline.prepare import prepare_dataset, with_columns
from tests import tables

SMALL_MODEL = [
    "trainer.max_epochs=3",
    "trainer.batch_size=64",
    "trainer.ensemble_members=2",
    "trainer.ensemble_majority_fraction=0.5",
    "trainer.threshold_fallback=max_f1",
]


def _config(description, prepared, root: pathlib.Path, overrides=SMALL_MODEL, **fields) -> PipelineConfig:
    config = PipelineConfig(
        pipeline_name="shapes",
        pipeline_root=str(root / "pipeline_root"),
        data_root=str(root / "prepared"),
        serving_model_dir=str(root / "serving"),
        schema_path=None,
        label_key=description.label.column,
        slice_feature_keys=description.slice_feature_keys,
        class_names=description.class_names,
        protected_classes=description.protected_classes,
        beam_pipeline_args=("--direct_running_mode=in_memory", "--direct_num_workers=1"),
        **fields,
    )
    return with_columns(apply_overrides(config, overrides), prepared)


@pytest.mark.e2e
@pytest.mark.parametrize("shape", sorted(tables.SHAPES))
def test_shape_trains_and_serves_raw_examples(shape, tmp_path):
    description = load_description(tables.SHAPES[shape](tmp_path / "in"))
    prepared = prepare_dataset(description, {1: description.data}, tmp_path / "prepared")
    config = _config(description, prepared, tmp_path)
    workdir = tmp_path / "work"
    examples = harness.make_examples(config, workdir)
    schema = harness.make_schema(examples, config, workdir)
    schema_text = (pathlib.Path(schema.uri) / "schema.pbtxt").read_text()
    for column in (*config.numeric_feature_keys, *config.categorical_feature_keys):
        assert f'name: "{column}"' in schema_text, column
    serving_dir, report = harness.run_trainer(examples, schema, config, workdir)
    assert report["train_positives"] == prepared.spans[1].split_counts["train"][1]

    scores = harness.score_split(serving_dir, pathlib.Path(examples.uri) / "Split-eval", config)
    assert len(scores["labels"]) == sum(prepared.spans[1].split_counts["eval"].values())
    assert np.all(np.isfinite(scores["probabilities"]))
    assert set(np.unique(scores["decisions"])) <= {0, 1}

    empty = tf.train.Example()
    unseen = tf.train.Example()
    for column in config.categorical_feature_keys:
        unseen.features.feature[column].bytes_list.value.append(b"a value never seen in training")
    model = tf.saved_model.load(serving_dir).signatures["serving_default"]
    outputs = model(**{serving.SERVING_INPUT: tf.constant([empty.SerializeToString(), unseen.SerializeToString()])})
    probabilities = outputs[serving.PROBABILITY_OUTPUT].numpy().reshape(-1)
    assert probabilities.shape == (2,) and np.all((probabilities >= 0) & (probabilities <= 1))


def _labels(split_dir: pathlib.Path, label_key: str) -> np.ndarray:
    files = sorted(str(path) for path in split_dir.glob("*.gz"))
    spec = {label_key: tf.io.FixedLenFeature([], tf.int64)}
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(1024)
    return np.concatenate([tf.io.parse_example(batch, spec)[label_key].numpy() for batch in dataset])


@pytest.mark.e2e
def test_four_class_shape_through_schema_class_skew_rebalance_and_transform(tmp_path):
    """k = 4, two rare classes: the label domain is 0..3, ClassSkew counts four classes, SMOTE grows the
    rare classes to their target counts (keyed by class index), and the Transform passes the class index through."""
    import tensorflow_transform as tft

    description = load_description(tables.failure_types(tmp_path / "in"))
    prepared = prepare_dataset(description, {1: description.data}, tmp_path / "prepared")
    span = prepared.spans[1]
    train = span.split_counts["train"]
    targets = {cls: 3 * train[cls] for cls in description.protected_classes}
    rebalance = [
        "rebalance.strategy=smote",
        # SMOTE refuses a row without a value to interpolate: torque has missing values (NA).
        "rebalance.smote_feature_keys=speed,tool_minutes",
        "rebalance.target_counts=" + ",".join(f"{c}:{n}" for c, n in targets.items()),
    ]
    config = _config(description, prepared, tmp_path, overrides=rebalance, span_drift=False)
    workdir = tmp_path / "work"
    examples = harness.make_examples(config, workdir)
    made = harness.run_through(
        config, pipeline_module.CLASS_SKEW, {(pipeline_module.EXAMPLE_GEN, "examples"): examples}, workdir
    )
    schema = made[(pipeline_module.SCHEMA_GEN, "schema")]

    saved = schema_review.save_inferred_schema(schema.uri, tmp_path / "schema.pbtxt", config.label_key, 4)
    assert saved is not None
    (label,) = [feature for feature in schema_review.read_schema(saved).feature if feature.name == config.label_key]
    assert label.int_domain.is_categorical and (label.int_domain.min, label.int_domain.max) == (0, 3)

    (skew,) = [artifact for key, artifact in made.items() if key[0] == pipeline_module.CLASS_SKEW and "skew" in key[1]]
    report = json.loads((pathlib.Path(skew.uri) / "class_skew.json").read_text())
    for split in ("train", "valid", "eval"):
        counts = {int(cls): n for cls, n in report["splits"][split]["class_counts"].items()}
        assert counts == span.split_counts[split], split

    rebalanced, summary = harness.run_rebalance(examples, config, workdir)
    after = {int(cls): n for cls, n in summary["splits"]["train"]["after"].items()}
    assert after == {cls: targets.get(cls, n) for cls, n in train.items()}

    (rebalanced_key,) = harness.pipeline_nodes(config)[pipeline_module.REBALANCE].outputs
    given = {(pipeline_module.REBALANCE, rebalanced_key): rebalanced, (pipeline_module.SCHEMA_GEN, "schema"): schema}
    outputs = harness.run_through(config, pipeline_module.TRANSFORM, given, workdir)
    transformed = outputs[(pipeline_module.TRANSFORM, "transformed_examples")]
    labels = _labels(pathlib.Path(transformed.uri) / "Split-train", config.label_key)
    assert dict(collections.Counter(labels.tolist())) == after
    # The transform graph on raw eval examples, and on one with every input missing or unseen.
    graph = tft.TFTransformOutput(outputs[(pipeline_module.TRANSFORM, "transform_graph")].uri)
    eval_files = sorted(str(path) for path in (pathlib.Path(examples.uri) / "Split-eval").glob("*.gz"))
    raw = next(iter(tf.data.TFRecordDataset(eval_files, compression_type="GZIP").batch(4096)))
    unseen = tf.train.Example()
    unseen.features.feature["line"].bytes_list.value.append(b"a line never seen in training")
    batch = tf.concat([raw, tf.constant([tf.train.Example().SerializeToString(), unseen.SerializeToString()])], 0)
    features = graph.transform_raw_features(tf.io.parse_example(batch, graph.raw_feature_spec()))
    raw_labels = _labels(pathlib.Path(examples.uri) / "Split-eval", config.label_key)
    assert list(features[config.label_key].numpy()[: len(raw_labels)]) == list(raw_labels)
    assert set(raw_labels) == {0, 1, 2, 3}
    assert np.all(np.isfinite(features["torque"].numpy())) and features["line"].shape[0] == len(raw_labels) + 2
