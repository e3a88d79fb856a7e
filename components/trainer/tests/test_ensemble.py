"""Balanced bagging: the per-member majority filter and the averaged model."""

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import ensemble

LABEL = "Class"
NEGATIVES, POSITIVES = 2000, 30


def rows() -> tf.data.Dataset:
    """Unbatched feature dicts with distinct feature values; positives are the first 30 rows."""
    index = np.arange(NEGATIVES + POSITIVES)
    labels = (index < POSITIVES).astype(np.int64)
    return tf.data.Dataset.from_tensor_slices(
        {
            "row": index.astype(np.int64),
            "v1": np.sin(index).astype(np.float32),
            "v2": (index * 0.5).astype(np.float32),
            LABEL: labels,
        }
    )


def kept_rows(dataset: tf.data.Dataset, predicate) -> set:
    return {int(element["row"]) for element in dataset.filter(predicate)}


def test_filter_keeps_all_positives_and_about_keep_fraction_of_negatives():
    kept = kept_rows(rows(), ensemble.majority_subset_filter(seed=42, member=0, keep_fraction=0.3, label_key=LABEL))
    assert set(range(POSITIVES)) <= kept
    negatives_kept = len(kept) - POSITIVES
    # Binomial(2000, 0.3): mean 600, standard deviation sqrt(2000 * 0.3 * 0.7) = 20.5; allow 4 of them.
    assert abs(negatives_kept - 600) < 82


def test_filter_differs_per_member_and_repeats_for_the_same_seed():
    def kept(seed, member):
        return kept_rows(rows(), ensemble.majority_subset_filter(seed, member, 0.3, label_key=LABEL))

    first = kept(42, 0)
    assert kept(42, 0) == first
    second_member, other_seed = kept(42, 1), kept(7, 0)
    assert second_member != first and other_seed != first
    # Independent 30% draws share about 0.3 * 0.3 * 2000 = 180 negatives, far from the 600 of equal sets.
    assert len((first & second_member) - set(range(POSITIVES))) < 300


def test_filter_does_not_depend_on_order_or_element_structure():
    predicate = ensemble.majority_subset_filter(3, 2, 0.5, label_key=LABEL)
    in_order = kept_rows(rows(), predicate)
    shuffled = kept_rows(rows().shuffle(5000, seed=9), predicate)
    assert shuffled == in_order
    # The same rows as (features, label) pairs: the key is the features without the label, as above.
    pairs = rows().map(lambda element: ({k: v for k, v in element.items() if k != LABEL}, element[LABEL]))
    pair_predicate = ensemble.majority_subset_filter(3, 2, 0.5)
    assert {int(features["row"]) for features, _ in pairs.filter(pair_predicate)} == in_order


def test_filter_by_id_key_ignores_other_features():
    predicate = ensemble.majority_subset_filter(3, 0, 0.5, label_key=LABEL, id_key="row")
    original = kept_rows(rows(), predicate)
    changed = kept_rows(rows().map(lambda element: {**element, "v1": element["v1"] + 1.0}), predicate)
    assert changed == original
    assert kept_rows(rows(), ensemble.majority_subset_filter(3, 0, 0.5, label_key=LABEL)) != original


def test_keep_fraction_one_keeps_everything_and_other_minority_labels_work():
    assert len(kept_rows(rows(), ensemble.majority_subset_filter(1, 0, 1.0, label_key=LABEL))) == NEGATIVES + POSITIVES
    # Treat class 0 as the minority: every class-0 row is kept, and about 10% of the 30 class-1 rows.
    kept = kept_rows(rows(), ensemble.majority_subset_filter(1, 0, 0.1, minority_label=0, label_key=LABEL))
    assert set(range(POSITIVES, NEGATIVES + POSITIVES)) <= kept and len(kept) - NEGATIVES < POSITIVES


def test_member_filters_makes_one_filter_per_member():
    filters = ensemble.member_filters(42, 3, 0.3, label_key=LABEL)
    assert len(filters) == 3
    assert kept_rows(rows(), filters[1]) == kept_rows(
        rows(), ensemble.majority_subset_filter(42, 1, 0.3, label_key=LABEL)
    )


@pytest.mark.parametrize(
    "call,fragment",
    [
        (lambda: ensemble.majority_subset_filter(1, 0, 0.0), "keep_fraction must be in (0, 1]"),
        (lambda: ensemble.majority_subset_filter(1, 0, 1.5), "keep_fraction must be in (0, 1]"),
        (lambda: ensemble.majority_subset_filter(1, -1, 0.5), "member must be an integer >= 0"),
        (lambda: ensemble.majority_subset_filter(1.5, 0, 0.5), "seed must be an integer"),
        (lambda: ensemble.check_member_count(0), "ensemble members must be an integer >= 1, got 0"),
        (lambda: ensemble.member_filters(1, 0, 0.5), "ensemble members must be an integer >= 1"),
        (lambda: ensemble.average_members([]), "at least one member"),
    ],
)
def test_bad_settings_raise_clear_errors(call, fragment):
    with pytest.raises(ensemble.EnsembleError) as raised:
        call()
    assert isinstance(raised.value, ValueError)
    assert fragment in str(raised.value)


def test_filter_on_dicts_needs_the_label_key():
    with pytest.raises(ensemble.EnsembleError, match="label_key must name the label"):
        rows().filter(ensemble.majority_subset_filter(1, 0, 0.5))


def member(seed: int, units: int = 1) -> tf.keras.Model:
    """A small logit model on two named inputs, its weights drawn from `seed`."""
    inputs = {name: tf.keras.Input(shape=(1,), name=name) for name in ("a", "b")}
    hidden = tf.keras.layers.Dense(
        4, activation="relu", kernel_initializer=tf.keras.initializers.GlorotUniform(seed=seed)
    )(tf.keras.layers.Concatenate()([inputs["a"], inputs["b"]]))
    logits = tf.keras.layers.Dense(
        units,
        kernel_initializer=tf.keras.initializers.RandomNormal(stddev=2.0, seed=seed + 1),
        bias_initializer=tf.keras.initializers.RandomNormal(stddev=1.0, seed=seed + 2),
    )(hidden)
    return tf.keras.Model(inputs, logits)


BATCH = {
    "a": np.array([[0.5], [-1.0], [2.0], [0.0], [3.0]], dtype=np.float32),
    "b": np.array([[1.0], [0.3], [-2.0], [0.0], [1.5]], dtype=np.float32),
}


def test_averaged_model_outputs_the_mean_member_probability():
    members = [member(seed) for seed in (1, 10, 20)]
    member_probabilities = np.stack([tf.sigmoid(m(BATCH)).numpy() for m in members])
    assert member_probabilities.std(axis=0).max() > 0.01  # The members really differ.
    averaged = ensemble.average_members(members)
    assert sorted(averaged.input) == ["a", "b"]
    np.testing.assert_allclose(averaged(BATCH).numpy(), member_probabilities.mean(axis=0), atol=1e-6)


def test_logit_output_is_the_logit_of_the_mean_probability():
    members = [member(seed) for seed in (1, 10, 20)]
    mean = np.stack([tf.sigmoid(m(BATCH)).numpy().astype(np.float64) for m in members]).mean(axis=0)
    logit = ensemble.average_members(members, output="logit")(BATCH).numpy()
    np.testing.assert_allclose(tf.sigmoid(logit).numpy(), mean, atol=1e-6)
    np.testing.assert_allclose(logit, np.log(mean / (1.0 - mean)), atol=1e-4)


def test_multiclass_average_and_logit():
    members = [member(seed, units=3) for seed in (2, 30)]
    mean = np.stack([tf.nn.softmax(m(BATCH)).numpy() for m in members]).mean(axis=0)
    np.testing.assert_allclose(ensemble.average_members(members)(BATCH).numpy(), mean, atol=1e-6)
    logit = ensemble.average_members(members, output="logit")(BATCH)
    np.testing.assert_allclose(tf.nn.softmax(logit).numpy(), mean, atol=1e-6)


def test_mean_logit_output_is_the_mean_of_the_members_logits():
    members = [member(seed) for seed in (1, 10, 20)]
    logits = np.stack([m(BATCH).numpy() for m in members])
    mean_logit = ensemble.average_members(members, output="mean_logit")(BATCH).numpy()
    np.testing.assert_allclose(mean_logit, logits.mean(axis=0), atol=1e-6)
    # Not the mean probability: the geometric mean of the odds weighs a confident member more.
    mean_probability = tf.sigmoid(logits).numpy().mean(axis=0)
    assert np.abs(tf.sigmoid(mean_logit).numpy() - mean_probability).max() > 0.01


def test_multiclass_mean_logit_is_the_normalised_geometric_mean_of_the_probabilities():
    members = [member(seed, units=3) for seed in (2, 30)]
    probabilities = np.stack([tf.nn.softmax(m(BATCH)).numpy().astype(np.float64) for m in members])
    geometric = np.exp(np.log(probabilities).mean(axis=0))
    served = tf.nn.softmax(ensemble.average_members(members, output="mean_logit")(BATCH)).numpy()
    np.testing.assert_allclose(served, geometric / geometric.sum(axis=-1, keepdims=True), atol=1e-6)


def test_single_member_average_is_its_probability():
    only = member(5)
    np.testing.assert_allclose(
        ensemble.average_members([only])(BATCH).numpy(), tf.sigmoid(only(BATCH)).numpy(), atol=1e-6
    )


def test_averaged_model_survives_saved_model_export(tmp_path):
    members = [member(seed) for seed in (1, 10)]
    averaged = ensemble.average_members(members)
    expected = averaged(BATCH).numpy()
    module = tf.Module()
    module.model = averaged
    module.serve = tf.function(
        lambda a, b: averaged({"a": a, "b": b}),
        input_signature=[tf.TensorSpec([None, 1], tf.float32), tf.TensorSpec([None, 1], tf.float32)],
    )
    tf.saved_model.save(module, str(tmp_path / "saved"), signatures={"serving_default": module.serve})
    restored = tf.saved_model.load(str(tmp_path / "saved"))
    served = restored.signatures["serving_default"](a=tf.constant(BATCH["a"]), b=tf.constant(BATCH["b"]))
    np.testing.assert_allclose(next(iter(served.values())).numpy(), expected, atol=1e-6)


def test_averaged_model_survives_keras_save(tmp_path):
    averaged = ensemble.average_members([member(seed) for seed in (1, 10)], output="logit")
    path = str(tmp_path / "ensemble.keras")
    averaged.save(path)
    restored = tf.keras.models.load_model(path)
    np.testing.assert_allclose(restored(BATCH).numpy(), averaged(BATCH).numpy(), atol=1e-6)


def test_members_with_different_inputs_or_outputs_are_rejected():
    inputs = {name: tf.keras.Input(shape=(1,), name=name) for name in ("a", "c")}
    other = tf.keras.Model(inputs, tf.keras.layers.Dense(1)(tf.keras.layers.Concatenate()(list(inputs.values()))))
    with pytest.raises(ensemble.EnsembleError, match="share one input signature"):
        ensemble.average_members([member(1), other])
    with pytest.raises(ensemble.EnsembleError, match="outputs 3 units"):
        ensemble.average_members([member(1), member(2, units=3)])
    with pytest.raises(ensemble.EnsembleError, match="output must be one of"):
        ensemble.average_members([member(1)], output="vote")
