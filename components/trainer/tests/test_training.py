"""`train_model`'s ensemble path on in-memory data: the served logit is the members' mean probability."""

import json

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import inputs, training
from components.trainer.network import ModelInputs
from components.trainer.spec import TrainerRunConfig
from components.trainer.tests import fixtures

REGION_IDS = len(fixtures.REGIONS) + 1  # the vocabulary and one out-of-vocabulary bucket


def _synthetic(run: TrainerRunConfig, rows: int, seed: int, batch_size: int) -> tf.data.Dataset:
    """Batches shaped as `inputs.read_split` gives the Transform's output: floats, and ids as floats."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.1).astype(np.float32)
    columns = {
        key: (rng.normal(size=rows) + labels * (index % 3)).astype(np.float32).reshape(-1, 1)
        for index, key in enumerate(run.numeric_feature_keys)
    }
    for key in run.categorical_feature_keys:
        columns[key] = (rng.integers(0, REGION_IDS - 1, size=rows) + labels).astype(np.float32).reshape(-1, 1)
    return tf.data.Dataset.from_tensor_slices((columns, labels.reshape(-1, 1))).batch(batch_size)


@pytest.mark.parametrize("majority_fraction", [0.5, 1.0], ids=["balanced_bagging", "seed_bagging"])
def test_ensemble_output_is_the_mean_of_its_members(tmp_path, majority_fraction):
    # Through the custom_config's JSON, as run_fn receives it.
    custom_config = fixtures.run_config(
        ensemble_members=3, ensemble_majority_fraction=majority_fraction, max_epochs=1, batch_size=64
    ).to_custom_config()
    run = TrainerRunConfig.from_custom_config(json.loads(json.dumps(custom_config)))
    features = ModelInputs(run.numeric_feature_keys, tuple((key, REGION_IDS) for key in run.categorical_feature_keys))
    train, valid = _synthetic(run, 600, 1, 64), _synthetic(run, 200, 2, 64)
    rows = inputs.disk_cached_rows(train, features.keys, str(tmp_path / "train_cache"))
    stats = inputs.compute_training_statistics(rows.batch(256))
    averaged, figures = training.train_model(features, run.parameters, stats, rows, valid, str(tmp_path))
    assert figures["ensemble_members"] == 3
    members = [layer for layer in averaged.layers if hasattr(layer, "members")][0].members
    batch, _ = next(iter(valid))
    member_probabilities = np.stack([tf.sigmoid(member(batch)).numpy() for member in members])
    assert not np.allclose(member_probabilities[0], member_probabilities[1]), "members must differ"
    assert np.allclose(tf.sigmoid(averaged(batch)).numpy(), member_probabilities.mean(axis=0), atol=1e-6)
