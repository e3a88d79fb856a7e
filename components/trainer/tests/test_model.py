"""`run_fn` through the stock TFX Trainer executor on the stock Transform's output of a small imbalanced data set.

Each variant trains for a couple of epochs only: the checks are that each option had its
effect (the threshold served equals the tuned one and is applied, the ensemble averages its
members, the initial bias is the base rate of the rows trained on), not quality. The executor
gets only the transformed examples and the transform graph: `run_fn` counts the classes itself.
The serving signature takes raw examples, with missing values and categories never seen.
"""

import pathlib
import shutil

import numpy as np
import pytest
import tensorflow_transform as tft

from components.trainer import model, serving
from components.trainer.spec import TrainerParameters, TrainerRunConfig
from components.trainer.tests import fixtures


def _train(transformed, workdir, **parameters):
    return fixtures.run_trainer(*transformed, fixtures.run_config(**parameters), workdir)


def test_serving_signature_applies_the_tuned_threshold(examples, transformed, tmp_path):
    serving_dir, report = _train(transformed, tmp_path)
    outputs = fixtures.serve(serving_dir, fixtures.eval_records(examples), flatten=True)
    probability = outputs[serving.PROBABILITY_OUTPUT]
    decision = outputs[serving.DECISION_OUTPUT]
    served_threshold = outputs[serving.THRESHOLD_OUTPUT]
    assert np.allclose(served_threshold, report["decision_threshold"], rtol=0, atol=1e-7)
    assert np.array_equal(decision, (probability >= np.float32(report["decision_threshold"])).astype(np.float32))
    assert 0.0 < report["decision_threshold"] < 1.0
    assert report["train_positives"] > 0 and report["train_rows"] > report["train_positives"]
    assert report["threshold_rule_requested"] == TrainerParameters().threshold_rule
    # The decoded-rows cache lived in the execution's ModelRun folder and is gone once training ends.
    assert not (tmp_path / "model_run" / model.DECODED_ROWS_CACHE).exists()
    assert (tmp_path / "model_run").is_dir(), "the ModelRun folder itself stays (TensorBoard logs)"


def test_initial_bias_is_the_log_odds_of_the_training_split(transformed, tmp_path):
    _, report = _train(transformed, tmp_path, max_epochs=1)
    positives, rows = report["train_positives"], report["train_rows"]
    assert (positives, rows) == (90, 1800), "the counts are those of the rows the Trainer read"
    assert report["initial_bias"] == pytest.approx(np.log(positives / (rows - positives)))
    _, without = _train(transformed, tmp_path / "nobias", max_epochs=1, initial_bias=False)
    assert without["initial_bias"] == 0.0


def test_ensemble_trains_every_member_through_the_executor(examples, transformed, tmp_path):
    serving_dir, report = _train(
        transformed, tmp_path, ensemble_members=2, ensemble_majority_fraction=0.3, max_epochs=1
    )
    assert report["ensemble_members"] == 2 and len(report["epochs_run"]) == 2
    # Each member's bias follows its own mix: every positive, 30% of the negatives.
    assert report["initial_bias"] == pytest.approx(np.log(90 / (1710 * 0.3)))
    records = fixtures.eval_records(examples, limit=64)
    probability = fixtures.serve(serving_dir, records, flatten=True)[serving.PROBABILITY_OUTPUT]
    assert np.all((probability >= 0) & (probability <= 1))


def test_balanced_batches_train_and_record_their_mix(transformed, tmp_path):
    _, report = _train(transformed, tmp_path, balanced_batches=True, batch_positive_share=0.5, steps_per_epoch=5)
    assert report["balanced_batches"] is True
    # With a 50/50 batch mix the initial bias is log(0.5/0.5) = 0.
    assert report["initial_bias"] == pytest.approx(0.0)


def test_training_split_without_positives_fails_before_training(schema, tmp_path):
    negatives_only = {split: {0: counts[0]} for split, counts in fixtures.SPLIT_COUNTS.items()}
    no_positive_examples = fixtures.make_examples(tmp_path / "neg", negatives_only)
    no_positives = fixtures.run_transform(no_positive_examples, schema, tmp_path / "transform")
    # The Trainer imports run_fn by its path, so the class object may differ: match on ValueError.
    with pytest.raises(ValueError, match="training split has 0 positive and .* negative rows"):
        _train(no_positives, tmp_path / "train")
    assert not (tmp_path / "train" / "model_run" / model.DECODED_ROWS_CACHE).exists(), "removed on failure too"


def test_decoded_rows_cache_is_in_the_model_run_folder_unless_that_is_remote(tmp_path):
    local = model.decoded_rows_cache_dir(str(tmp_path / "model_run"))
    assert local == str(tmp_path / "model_run" / model.DECODED_ROWS_CACHE) and pathlib.Path(local).is_dir()
    remote = model.decoded_rows_cache_dir("gs://bucket/Trainer/model_run/7")
    try:
        assert pathlib.Path(remote).is_dir() and not remote.startswith("gs://")
    finally:
        shutil.rmtree(remote)


def test_model_inputs_come_from_the_transform_and_a_name_it_does_not_write_is_an_error(transformed):
    output = tft.TFTransformOutput(transformed[1].uri)
    features = model.model_inputs(fixtures.run_config(), output)
    # Five regions in the training split and one out-of-vocabulary bucket: few enough ids for one-hot.
    assert features.categorical_ids == ((fixtures.CATEGORICAL_KEY, len(fixtures.REGIONS) + 1),)
    assert features.keys == (*fixtures.FEATURE_KEYS, f"{fixtures.NULLABLE_KEY}__missing", fixtures.CATEGORICAL_KEY)
    wrong = TrainerRunConfig(
        fixtures.LABEL_KEY, ("f0", "f0__missing"), (fixtures.CATEGORICAL_KEY, "f1"), fixtures.run_config().parameters
    )
    with pytest.raises(ValueError, match=r"'f0__missing' is not among its outputs; 'f1' is float32"):
        model.model_inputs(wrong, output)
