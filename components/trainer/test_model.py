"""`run_fn` through the stock TFX Trainer executor on real Examples of the small credit-card fixture.

Each variant trains for a couple of epochs only: the checks are that each option had its
effect (the threshold served equals the tuned one and is applied, the ensemble averages its
members, the first-epoch loss of an initial-bias model starts at the base rate), not quality.
"""

import os
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import strategy_report
from components.trainer import model as trainer_model
from components.trainer.spec import TrainerParameters
from pipeline import features
from pipeline.config import PipelineConfig
from pipeline.pipeline import trainer_custom_config
from tests import fixtures


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    return fixtures.make_examples(fixtures.SMALL_CSV, tmp_path_factory.mktemp("examples"))


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    return fixtures.make_schema(tmp_path_factory.mktemp("schema"))


def _train(examples, schema, workdir: pathlib.Path, **trainer_settings):
    """The stock Trainer executor as the pipeline runs it (the strategy report's own call)."""
    settings = {"max_epochs": 2, "batch_size": 256, "hidden_units": (16,), "ensemble_members": 1, **trainer_settings}
    trainer = TrainerParameters(**settings)
    config = PipelineConfig("t", "/r", "/d", "/s", str(fixtures.SCHEMA_FILE), trainer=trainer)
    return strategy_report.run_trainer(examples, schema, config, workdir)


def _eval_records(examples, limit=400):
    pattern = os.path.join(examples.uri, "Split-eval", "*.gz")
    dataset = tf.data.TFRecordDataset(tf.io.gfile.glob(pattern), compression_type="GZIP").take(limit)
    return [record.numpy() for record in dataset]


def test_serving_signature_applies_the_tuned_threshold(examples, schema, tmp_path):
    serving_dir, report = _train(examples, schema, tmp_path)
    serve = tf.saved_model.load(serving_dir).signatures["serving_default"]
    outputs = serve(examples=tf.constant(_eval_records(examples)))
    probability = outputs[trainer_model.PROBABILITY_OUTPUT].numpy().reshape(-1)
    decision = outputs[trainer_model.DECISION_OUTPUT].numpy().reshape(-1)
    served_threshold = outputs[trainer_model.THRESHOLD_OUTPUT].numpy().reshape(-1)
    assert np.allclose(served_threshold, report["decision_threshold"], rtol=0, atol=1e-7)
    assert np.array_equal(decision, (probability >= np.float32(report["decision_threshold"])).astype(np.float32))
    assert 0.0 < report["decision_threshold"] < 1.0
    assert report["train_positives"] > 0 and report["train_rows"] > report["train_positives"]
    assert report["threshold_rule_requested"] == TrainerParameters().threshold_rule


def test_initial_bias_is_the_log_odds_of_the_training_split(examples, schema, tmp_path):
    _, report = _train(examples, schema, tmp_path, max_epochs=1)
    positives, rows = report["train_positives"], report["train_rows"]
    assert report["initial_bias"] == pytest.approx(np.log(positives / (rows - positives)))
    _, without = _train(examples, schema, tmp_path / "nobias", max_epochs=1, initial_bias=False)
    assert without["initial_bias"] == 0.0


def test_ensemble_trains_every_member_through_the_executor(examples, schema, tmp_path):
    serving_dir, report = _train(
        examples, schema, tmp_path, ensemble_members=2, ensemble_majority_fraction=0.3, max_epochs=1
    )
    assert report["ensemble_members"] == 2 and len(report["epochs_run"]) == 2
    outputs = tf.saved_model.load(serving_dir).signatures["serving_default"](
        examples=tf.constant(_eval_records(examples, limit=64))
    )
    probability = outputs[trainer_model.PROBABILITY_OUTPUT].numpy()
    assert np.all((probability >= 0) & (probability <= 1))


def _synthetic(rows: int, seed: int, batch_size: int) -> tf.data.Dataset:
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.1).astype(np.float32)
    columns = {
        key: (rng.normal(size=rows) + labels * (index % 3)).astype(np.float32).reshape(-1, 1)
        for index, key in enumerate(features.NUMERIC_FEATURE_KEYS)
    }
    return tf.data.Dataset.from_tensor_slices((columns, labels.reshape(-1, 1))).batch(batch_size)


@pytest.mark.parametrize("majority_fraction", [0.5, 1.0], ids=["balanced_bagging", "seed_bagging"])
def test_ensemble_output_is_the_mean_of_its_members(tmp_path, majority_fraction):
    settings = trainer_model.TrainerSettings.from_custom_config(
        trainer_custom_config(
            PipelineConfig(
                "t",
                "/r",
                "/d",
                "/s",
                "/x",
                trainer=TrainerParameters(
                    ensemble_members=3, ensemble_majority_fraction=majority_fraction, max_epochs=1, batch_size=64
                ),
            )
        )
    )
    train, valid = _synthetic(600, 1, 64), _synthetic(200, 2, 64)
    stats = trainer_model.compute_training_statistics(train, settings.feature_keys)
    rows = trainer_model.disk_cached_rows(train, settings.feature_keys, str(tmp_path / "train_cache"))
    averaged, figures = trainer_model.train_model(settings, stats, rows, valid, str(tmp_path))
    assert figures["ensemble_members"] == 3
    members = [layer for layer in averaged.layers if hasattr(layer, "members")][0].members
    batch, _ = next(iter(valid))
    member_probabilities = np.stack([tf.sigmoid(member(batch)).numpy() for member in members])
    assert not np.allclose(member_probabilities[0], member_probabilities[1]), "members must differ"
    assert np.allclose(tf.sigmoid(averaged(batch)).numpy(), member_probabilities.mean(axis=0), atol=1e-6)


def test_balanced_batches_train_and_record_their_mix(examples, schema, tmp_path):
    _, report = _train(examples, schema, tmp_path, balanced_batches=True, batch_positive_share=0.5, steps_per_epoch=5)
    assert report["balanced_batches"] is True
    # With a 50/50 batch mix the initial bias is log(0.5/0.5) = 0.
    assert report["initial_bias"] == pytest.approx(0.0)


def test_training_split_without_positives_fails_before_training(schema, tmp_path):
    lines = fixtures.SMALL_CSV.read_text().splitlines()
    negatives_only = tmp_path / "negatives.csv"
    negatives_only.write_text("\n".join([lines[0]] + [line for line in lines[1:] if line.endswith('"0"')]) + "\n")
    no_positive_examples = fixtures.make_examples(negatives_only, tmp_path / "neg")
    # The Trainer imports run_fn by its path, so the class object may differ: match on ValueError.
    with pytest.raises(ValueError, match="training split has 0 positive and .* negative rows"):
        _train(no_positive_examples, schema, tmp_path / "train")


def test_shuffle_buffer_holds_the_whole_split_up_to_its_memory_budget():
    features_count = len(features.NUMERIC_FEATURE_KEYS)
    assert trainer_model.shuffle_buffer_rows(170_939, features_count) == 170_939
    per_row = 4 * (features_count + 1) + trainer_model._ROW_OVERHEAD_BYTES
    capped = trainer_model.shuffle_buffer_rows(50_000_000, features_count)
    assert capped == trainer_model.SHUFFLE_BUFFER_BYTES // per_row
    assert capped * per_row <= trainer_model.SHUFFLE_BUFFER_BYTES
