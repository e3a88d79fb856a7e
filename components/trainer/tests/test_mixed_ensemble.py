"""Mixed-strategy ensembles and batches topped up with positives, on in-memory data.

The served output is checked through the exported SavedModel's `serving_default` signature: the
probability is the members' mean, or the vote score (votes + mean) / (members + 1).
"""

import math

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import ensemble, inputs, serving, training
from components.trainer.member_recipes import Recipe, copies_per_row
from components.trainer.mixed_ensemble import (
    MemberVote,
    implied_recipes,
    member_view,
    positive_flags,
    vote_members,
)
from components.trainer.network import ClassBalance, ModelInputs
from components.trainer.positive_batches import count_classes, topped_up_batches
from components.trainer.spec import TrainerParameters

KEYS = ("a", "b", "c")
QUICK = {"max_epochs": 1, "batch_size": 64, "hidden_units": (8,), "ensemble_members": 1}


def _batches(rows: int, seed: int, batch_size: int = 64) -> tf.data.Dataset:
    """(feature dict, label) batches as `inputs.read_split` gives them; 10% positives, shifted features."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.1).astype(np.float32)
    columns = {
        key: (rng.normal(size=rows) + labels * (index + 1)).astype(np.float32).reshape(-1, 1)
        for index, key in enumerate(KEYS)
    }
    return tf.data.Dataset.from_tensor_slices((columns, labels.reshape(-1, 1))).batch(batch_size)


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    """The training rows as the Trainer caches them, and their class counts."""
    rows = inputs.disk_cached_rows(_batches(600, 1), KEYS, str(tmp_path_factory.mktemp("rows") / "train"))
    return rows, inputs.compute_training_statistics(rows.batch(256))


def _serve(model, threshold, export_dir, batch):
    """The exported SavedModel's probabilities and decisions for the batch's rows, as serialized tf.Examples."""
    serving.export_serving_model(model, KEYS, threshold, str(export_dir))
    signature = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    examples = [
        tf.train.Example(
            features=tf.train.Features(
                feature={
                    key: tf.train.Feature(float_list=tf.train.FloatList(value=[float(batch[key][row, 0])]))
                    for key in KEYS
                }
            )
        ).SerializeToString()
        for row in range(int(batch[KEYS[0]].shape[0]))
    ]
    outputs = signature(examples=tf.constant(examples))
    return outputs[serving.PROBABILITY_OUTPUT].numpy().reshape(-1), outputs[serving.DECISION_OUTPUT].numpy().reshape(-1)


@pytest.mark.parametrize("combine", ["mean", "vote"])
def test_served_output_is_the_combination_of_the_members(cached, tmp_path, combine):
    rows, stats = cached
    parameters = TrainerParameters(
        **QUICK, ensemble_recipes=("none", "oversample:0.3", "undersample:1.0"), ensemble_combine=combine
    )
    valid = _batches(200, 2)
    model, figures = training.train_model(ModelInputs(KEYS), parameters, stats, rows, valid, str(tmp_path))
    assert figures["ensemble_recipes"] == ["none", "oversample:0.3", "undersample:1.0"]
    positives = stats.positives
    assert figures["member_class_counts"] == [
        {"0": stats.negatives, "1": positives},
        {"0": stats.negatives, "1": round(0.3 * stats.negatives)},
        {"0": positives, "1": positives},
    ]
    # Each member's logit is shifted to the data's prior log-odds: 0 for `none`, log(P/N) - log(ratio) for the others.
    prior = math.log(positives / stats.negatives)
    offsets = [0.0, prior - math.log(round(0.3 * stats.negatives) / stats.negatives), prior]
    assert figures["member_logit_offsets"] == pytest.approx(offsets)
    combined = [layer for layer in model.layers if hasattr(layer, "members")][0]
    batch, _ = next(iter(valid))
    member_probabilities = np.stack([tf.sigmoid(member(batch)).numpy().reshape(-1) for member in combined.members])
    assert not np.allclose(member_probabilities[0], member_probabilities[2]), "members must differ"
    if combine == "mean":
        expected = member_probabilities.mean(axis=0)
    else:
        thresholds = np.array(figures["member_thresholds"], dtype=np.float32)
        assert combined.thresholds == pytest.approx(figures["member_thresholds"])
        votes = (member_probabilities >= thresholds[:, None]).sum(axis=0)
        expected = (votes + member_probabilities.mean(axis=0)) / 4.0
    probability, decision = _serve(model, 0.4, tmp_path / "serving", batch)
    np.testing.assert_allclose(probability, expected, atol=2e-6)
    assert np.array_equal(decision, (probability >= np.float32(0.4)).astype(np.float32))


def test_vote_score_orders_by_votes_then_by_mean_probability():
    inputs_ = {"x": tf.keras.Input(shape=(1,), name="x")}
    # Two fixed "members": logit = x and logit = 2x, with thresholds 0.5 and 0.9.
    members = [
        tf.keras.Model(
            inputs_,
            tf.keras.layers.Dense(1, use_bias=False, kernel_initializer=tf.constant_initializer(scale))(inputs_["x"]),
        )
        for scale in (1.0, 2.0)
    ]
    voted = vote_members(members, [0.5, 0.9])
    x = np.array([[-3.0], [0.1], [0.5], [2.0]], np.float32)
    score = tf.sigmoid(voted({"x": x})).numpy().reshape(-1)
    p = 1.0 / (1.0 + np.exp(-np.hstack([x, 2 * x])))
    votes = (p >= [0.5, 0.9]).sum(axis=1)
    assert votes.tolist() == [0, 1, 1, 2]
    np.testing.assert_allclose(score, (votes + p.mean(axis=1)) / 3.0, atol=1e-6)
    assert isinstance(MemberVote.from_config(voted.layers[-1].get_config()), MemberVote)


def test_views_hold_the_recipes_rows(cached, tmp_path):
    rows, stats = cached
    positive = positive_flags(rows)
    assert positive.size == stats.rows and positive.sum() == stats.positives
    for member, recipe in enumerate([Recipe("oversample", 0.5), Recipe("undersample", 1.0)]):
        view = member_view(recipe, member, 42, rows, KEYS, positive, str(tmp_path / f"view_{member}"))
        counts = copies_per_row(recipe, positive, 42, member)
        assert count_classes(view) == (int(counts.sum()), int(counts[positive].sum()))
    # bagging:F is the classic balanced-bagging member m: the same rows, chosen by the same hash.
    view = member_view(Recipe("bagging", 0.3), 1, 42, rows, KEYS, positive, str(tmp_path / "bagging"))
    classic = inputs.unstack_features(rows, KEYS).filter(ensemble.majority_subset_filter(42, 1, 0.3))
    restacked = [np.concatenate([features[key].numpy() for key in KEYS]) for features, _ in classic]
    assert np.array_equal(np.stack([stacked.numpy() for stacked, _ in view]), np.stack(restacked))


def test_topped_up_batches_hold_at_least_k_positives_and_one_pass_of_the_rows(cached):
    rows, stats = cached
    balance = ClassBalance(stats.positives, stats.negatives)
    batches, seen = topped_up_batches(rows, KEYS, stats.rows, balance, 64, 5, seed=3, buffer_rows=stats.rows)
    epoch = [(features, label.numpy().reshape(-1)) for features, label in batches]
    steps = math.ceil(stats.rows / 59)
    assert len(epoch) == steps and all(label.sum() >= 5 for _, label in epoch)
    assert sum(label.size for _, label in epoch) == stats.rows + 5 * steps
    assert set(epoch[0][0]) == set(KEYS) and epoch[0][0]["a"].shape == (64, 1)
    assert seen == ClassBalance(stats.positives + 5 * steps, stats.negatives)
    again = [label.numpy().reshape(-1) for _, label in batches]
    assert len(again) == steps, "the next epoch is a full pass again"


def test_the_classic_ensemble_becomes_recipes_when_batches_are_topped_up():
    bagging = TrainerParameters(ensemble_members=3, ensemble_majority_fraction=0.1, min_batch_positives=4)
    assert implied_recipes(bagging) == (Recipe("bagging", 0.1),) * 3
    seed_bagging = TrainerParameters(ensemble_members=2, ensemble_majority_fraction=1.0)
    assert implied_recipes(seed_bagging) == (Recipe("none"),) * 2
    mixed = TrainerParameters(ensemble_recipes=("none", "undersample:0.5"))
    assert implied_recipes(mixed) == (Recipe("none"), Recipe("undersample", 0.5))


def test_auc_loss_trains_one_model_on_topped_up_batches(cached, tmp_path):
    rows, stats = cached
    parameters = TrainerParameters(**{**QUICK, "max_epochs": 2}, loss="auc", min_batch_positives=4)
    model, figures = training.train_model(ModelInputs(KEYS), parameters, stats, rows, _batches(200, 2), str(tmp_path))
    assert figures["min_batch_positives"] == 4 and figures["epochs_run"] >= 1
    batch, _ = next(iter(_batches(200, 2)))
    assert np.all(np.isfinite(model(batch).numpy()))
