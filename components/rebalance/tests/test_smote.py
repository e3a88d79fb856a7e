"""SMOTE: every synthetic record on a segment to one of its base's k nearest neighbours; close to imblearn."""

from __future__ import annotations

import random

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
from imblearn.over_sampling import SMOTE

from components.rebalance import smote
from components.rebalance.record_keys import seed_key
from components.rebalance.tests import fixtures as fx

K = 5
MINORITY_ROWS = 40
SYNTHETIC_ROWS = 400


def vector(example: tf.train.Example, keys=fx.NUMERIC_KEYS) -> np.ndarray:
    return np.array([example.features.feature[key].float_list.value[0] for key in keys], dtype=np.float64)


def synthesize_in_beam(records, synthetic_count, tmp_path, seed=11):
    with beam.Pipeline() as pipeline:
        bases = pipeline | beam.Create([("1", r) for r in records])
        out = bases | smote.SynthesizeSmote("train", {"1": synthetic_count}, fx.NUMERIC_KEYS, K, seed_key(seed))
        _ = out["records"] | beam.io.WriteToTFRecord(str(tmp_path / "Split-syn" / "part"), file_name_suffix=".gz")
    return fx.read_split(str(tmp_path), "syn")


@pytest.fixture(scope="module")
def minority():
    return fx.make_rows({1: MINORITY_ROWS}, seed=5)


@pytest.fixture(scope="module")
def synthetic(minority, tmp_path_factory):
    return synthesize_in_beam(minority, SYNTHETIC_ROWS, tmp_path_factory.mktemp("smote"))


def test_every_synthetic_record_lies_between_its_base_and_one_of_its_k_nearest_neighbours(minority, synthetic):
    examples = [tf.train.Example.FromString(r) for r in minority]
    matrix = np.stack([vector(e) for e in examples])
    by_id = {e.features.feature[fx.STRING_KEY].bytes_list.value[0]: i for i, e in enumerate(examples)}
    assert len(synthetic) == SYNTHETIC_ROWS
    for record in synthetic:
        example = tf.train.Example.FromString(record)
        base = by_id[example.features.feature[fx.STRING_KEY].bytes_list.value[0]]
        assert example.features.feature[fx.LABEL_KEY] == examples[base].features.feature[fx.LABEL_KEY]
        # Independent exact kNN: brute force in numpy.
        distances = np.linalg.norm(matrix - matrix[base], axis=1)
        distances[base] = np.inf
        neighbours = np.argsort(distances, kind="stable")[:K]
        point, start = vector(example), matrix[base]
        on_segment = False
        for neighbour in neighbours:
            direction = matrix[neighbour] - start
            lam = float(np.dot(point - start, direction) / np.dot(direction, direction))
            residual = np.linalg.norm(point - (start + lam * direction))
            if -1e-6 <= lam <= 1 + 1e-6 and residual <= 1e-5 * (1 + np.linalg.norm(start)):
                on_segment = True
                break
        assert on_segment, f"synthetic {point} is on no segment from base {start} to its {K} nearest neighbours"


def test_synthetic_distribution_agrees_with_imbalanced_learn(minority, synthetic):
    """Per feature: means within 0.15 minority std; min and max within 0.25 of the minority range."""
    matrix = np.stack([vector(tf.train.Example.FromString(r)) for r in minority])
    ours = np.stack([vector(tf.train.Example.FromString(r)) for r in synthetic])
    majority = fx.make_rows({0: 200}, seed=6)
    features = np.concatenate([matrix, np.stack([vector(tf.train.Example.FromString(r)) for r in majority])])
    labels = np.array([1] * len(matrix) + [0] * len(majority))
    sampler = SMOTE(sampling_strategy={1: MINORITY_ROWS + SYNTHETIC_ROWS}, k_neighbors=K, random_state=0)
    resampled, _ = sampler.fit_resample(features, labels)
    theirs = resampled[len(features) :]
    assert theirs.shape == ours.shape
    spread, width = matrix.std(axis=0), matrix.max(axis=0) - matrix.min(axis=0)
    assert np.all(np.abs(ours.mean(axis=0) - theirs.mean(axis=0)) <= 0.15 * spread)
    assert np.all(np.abs(ours.min(axis=0) - theirs.min(axis=0)) <= 0.25 * width)
    assert np.all(np.abs(ours.max(axis=0) - theirs.max(axis=0)) <= 0.25 * width)
    # Both stay inside the minority's bounding box (convex combinations of minority rows).
    assert np.all(ours >= matrix.min(axis=0) - 1e-5) and np.all(ours <= matrix.max(axis=0) + 1e-5)


def test_synthesis_does_not_depend_on_input_order_and_follows_the_seed(minority):
    key = seed_key(3)
    shuffled = list(minority)
    random.Random(0).shuffle(shuffled)
    first = list(smote.synthesize(minority, 55, fx.NUMERIC_KEYS, K, key, "train", "1"))
    second = list(smote.synthesize(shuffled, 55, fx.NUMERIC_KEYS, K, key, "train", "1"))
    other = list(smote.synthesize(minority, 55, fx.NUMERIC_KEYS, K, seed_key(4), "train", "1"))
    assert first == second and len(first) == 55 and first != other


def test_integer_features_stay_integers():
    records = [fx.make_example({"f0": float(i), "n": i * 10, "Class": 1, "row_id": str(i)}) for i in range(8)]
    synthetic = list(smote.synthesize(records, 16, ("f0", "n"), 3, seed_key(1), "train", "1"))
    for record in synthetic:
        feature = tf.train.Example.FromString(record).features.feature["n"]
        assert feature.WhichOneof("kind") == "int64_list" and 0 <= feature.int64_list.value[0] <= 70


@pytest.mark.parametrize(
    "bad_values, match",
    [
        ({"f1": "text"}, r"feature 'f1' is bytes_list .* only numeric"),
        ({"f1": float("nan")}, r"feature 'f1' is nan \(not finite\)"),
        ({"f1": [1.0, 2.0]}, r"feature 'f1' has 2 values"),
    ],
)
def test_bad_smote_features_are_refused_with_the_feature_named(bad_values, match):
    records = fx.make_rows({1: 8})
    records.append(fx.make_example({"f0": 0.5, "f2": 0.1, "Class": 1, "row_id": "bad", **bad_values}))
    with pytest.raises(ValueError, match=match):
        list(smote.synthesize(records, 10, fx.NUMERIC_KEYS, 3, seed_key(1), "train", "1"))


def test_absent_smote_feature_is_refused():
    with pytest.raises(ValueError, match=r"split 'train': feature 'nope' is absent"):
        list(smote.synthesize(fx.make_rows({1: 8}), 4, ("f0", "nope"), 3, seed_key(1), "train", "1"))
