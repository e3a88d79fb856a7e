"""Each table shape a user brings, through data prep, SchemaGen, the Transform, the Trainer and serving.

The pipeline's own components, run in-process by `pipeline/harness.py` (no orchestrator): the
schema is inferred (a data set's first run), the Transform builds z-scores, missing indicators
and vocabularies, a small model trains, and the exported serving signature scores the raw eval
examples and raw examples with every input missing or a category never seen.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import serving
from pipeline import harness
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


def _config(description, prepared, root: pathlib.Path) -> PipelineConfig:
    config = PipelineConfig(
        pipeline_name="shapes",
        pipeline_root=str(root / "pipeline_root"),
        data_root=str(root / "prepared"),
        serving_model_dir=str(root / "serving"),
        schema_path=None,
        label_key=description.label.column,
        slice_feature_keys=description.slice_feature_keys,
        beam_pipeline_args=("--direct_running_mode=in_memory", "--direct_num_workers=1"),
    )
    return with_columns(apply_overrides(config, SMALL_MODEL), prepared)


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
