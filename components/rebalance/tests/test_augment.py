"""augment_noise and mixup: exact counts, noise recomputed from the seed, mixup on the segment between two parents."""

from __future__ import annotations

import collections
import random

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf

from components.rebalance import augment, synthesis
from components.rebalance.record_keys import seed_key
from components.rebalance.tests import fixtures as fx

MINORITY_ROWS = 40
SYNTHETIC_ROWS = 400  # 10 per base
NOISE_SCALE = 0.2
ALPHA = 0.4
SEED = 11


def vector(example: tf.train.Example, keys=fx.NUMERIC_KEYS) -> np.ndarray:
    return np.array([example.features.feature[key].float_list.value[0] for key in keys], dtype=np.float64)


def row_id(example: tf.train.Example) -> bytes:
    return example.features.feature[fx.STRING_KEY].bytes_list.value[0]


def synthesize_in_beam(records, maker, tmp_path):
    with beam.Pipeline() as pipeline:
        bases = pipeline | beam.Create([("1", r) for r in records])
        transform = synthesis.SynthesizeClasses("train", {"1": SYNTHETIC_ROWS}, fx.NUMERIC_KEYS, seed_key(SEED), maker)
        out = bases | transform
        _ = out["records"] | beam.io.WriteToTFRecord(str(tmp_path / "Split-syn" / "part"), file_name_suffix=".gz")
    return fx.read_split(str(tmp_path), "syn")


def run(records, maker, count=55, seed=3, keys=fx.NUMERIC_KEYS):
    return list(synthesis.synthesize(records, count, keys, seed_key(seed), "train", "1", maker))


@pytest.fixture(scope="module")
def minority():
    return fx.make_rows({1: MINORITY_ROWS}, seed=5)


@pytest.fixture(scope="module")
def bases(minority):
    """{row_id: (record, parsed example)} of the minority rows."""
    examples = [tf.train.Example.FromString(r) for r in minority]
    return {row_id(e): (r, e) for r, e in zip(minority, examples, strict=True)}


@pytest.fixture(scope="module")
def noisy(minority, tmp_path_factory):
    return synthesize_in_beam(minority, augment.AugmentNoise(NOISE_SCALE), tmp_path_factory.mktemp("noise"))


@pytest.fixture(scope="module")
def mixed(minority, tmp_path_factory):
    return synthesize_in_beam(minority, augment.Mixup(ALPHA), tmp_path_factory.mktemp("mixup"))


def test_noise_is_the_seeded_draw_scaled_by_the_class_spread_and_everything_else_is_the_base(minority, bases, noisy):
    """Exact: each row is base + noise_scale * std * normal_draws(seed, base, j) for one copy j, in float32."""
    spread = np.stack([vector(tf.train.Example.FromString(r)) for r in minority]).std(axis=0)
    assert len(noisy) == SYNTHETIC_ROWS and len(set(noisy)) == SYNTHETIC_ROWS
    copies_per_base = collections.Counter()
    standardized = []
    for record in noisy:
        example = tf.train.Example.FromString(record)
        base_record, base = bases[row_id(example)]
        copies_per_base[row_id(example)] += 1
        assert example.features.feature[fx.LABEL_KEY] == base.features.feature[fx.LABEL_KEY]
        point, start = vector(example), vector(base)
        expected = [
            start + NOISE_SCALE * spread * augment.normal_draws(seed_key(SEED), base_record, j, 3)
            for j in range(SYNTHETIC_ROWS // MINORITY_ROWS)
        ]
        # Equal up to the float32 the tf.Example stores.
        assert any(np.allclose(point, e, rtol=1e-6, atol=1e-6) for e in expected), "not a seeded draw of its base"
        # The hard bound of Box-Muller on 53-bit uniforms (float32 rounding aside).
        assert np.all(np.abs(point - start) <= augment.MAX_NORMAL * NOISE_SCALE * spread + 1e-5 * (1 + np.abs(start)))
        standardized.append((point - start) / (NOISE_SCALE * spread))
    assert set(copies_per_base.values()) == {SYNTHETIC_ROWS // MINORITY_ROWS}
    # The scale is right, not only bounded: 1200 draws of N(0, 1) (seed fixed).
    z = np.concatenate(standardized)
    assert abs(z.mean()) < 0.1 and 0.9 < z.std() < 1.1 and np.abs(z).max() < 6.0


def test_normal_draws_are_standard_normal_and_bounded():
    draws = np.concatenate([augment.normal_draws(seed_key(1), b"record", j, 7) for j in range(3000)])
    assert draws.shape == (21000,) and np.abs(draws).max() <= augment.MAX_NORMAL
    assert abs(draws.mean()) < 0.03 and abs(draws.std() - 1.0) < 0.03
    # Tails: P(|z| > 1.96) = 5%.
    assert 0.04 < np.mean(np.abs(draws) > 1.96) < 0.06


def test_mixup_rows_lie_on_the_segment_from_their_base_towards_another_minority_row(minority, bases, mixed):
    matrix = np.stack([vector(tf.train.Example.FromString(r)) for r in minority])
    assert len(mixed) == SYNTHETIC_ROWS
    lams, partners = [], set()
    for record in mixed:
        example = tf.train.Example.FromString(record)
        _, base = bases[row_id(example)]
        assert example.features.feature[fx.LABEL_KEY] == base.features.feature[fx.LABEL_KEY]
        point, start = vector(example), vector(base)
        found = None
        for index, other in enumerate(matrix):
            direction = start - other
            if not np.any(direction):
                continue
            # point = lam * start + (1 - lam) * other = other + lam * (start - other)
            lam = float(np.dot(point - other, direction) / np.dot(direction, direction))
            residual = np.linalg.norm(point - (other + lam * direction))
            if 0.5 - 1e-6 <= lam <= 1 + 1e-6 and residual <= 1e-5 * (1 + np.linalg.norm(start)):
                found = (index, lam)
                break
        assert found is not None, f"{point} is on no segment from base {start} (lam >= 0.5) to a minority row"
        partners.add(found[0])
        lams.append(found[1])
    # lam = max(L, 1 - L), L ~ Beta(0.4, 0.4): compare its mean with numpy's Beta sampler.
    folded = np.random.default_rng(0).beta(ALPHA, ALPHA, size=200_000)
    expected = np.maximum(folded, 1 - folded).mean()
    assert abs(np.mean(lams) - expected) < 0.03
    assert len(partners) > MINORITY_ROWS // 2, "partners are spread over the class"


def test_smaller_alpha_keeps_mixup_rows_nearer_their_base():
    def mean_lam(alpha):
        return np.mean([augment.mixup_draw(seed_key(1), b"r", j, 9, alpha)[1] for j in range(2000)])

    # Folded Beta means: about 0.93 for alpha 0.1, 0.69 for alpha 2.
    assert mean_lam(0.1) > 0.88 and 0.5 < mean_lam(2.0) < 0.75


@pytest.mark.parametrize("maker", [augment.AugmentNoise(0.1), augment.Mixup(0.4)], ids=["noise", "mixup"])
def test_synthesis_does_not_depend_on_input_order_and_follows_the_seed(minority, maker):
    shuffled = list(minority)
    random.Random(0).shuffle(shuffled)
    first, second, other = run(minority, maker), run(shuffled, maker), run(minority, maker, seed=4)
    assert first == second and len(first) == 55 and first != other
    # Originals untouched: the input records are not among the outputs and were not changed.
    assert not set(first) & set(minority) and sorted(shuffled) == sorted(minority)


def test_a_feature_with_no_spread_gets_no_noise_and_integers_stay_integers():
    records = [
        fx.make_example({"f0": float(i), "flat": 2.5, "n": i * 10, "Class": 1, "row_id": str(i)}) for i in range(8)
    ]
    for record in run(records, augment.AugmentNoise(0.5), count=24, keys=("f0", "flat", "n")):
        features = tf.train.Example.FromString(record).features.feature
        assert features["flat"].float_list.value[0] == 2.5
        assert features["n"].WhichOneof("kind") == "int64_list"


def test_mixup_of_two_rows_stays_between_them_and_keeps_integers_in_range():
    records = [fx.make_example({"f0": 0.0, "n": 0, "Class": 1}), fx.make_example({"f0": 1.0, "n": 10, "Class": 1})]
    for record in run(records, augment.Mixup(0.4), count=20, keys=("f0", "n")):
        features = tf.train.Example.FromString(record).features.feature
        assert 0.0 <= features["f0"].float_list.value[0] <= 1.0
        assert 0 <= features["n"].int64_list.value[0] <= 10


@pytest.mark.parametrize(
    "maker, match",
    [
        (augment.AugmentNoise(0.1), r"feature 'row_id' is bytes_list in a '1' example; augment_noise perturbs only"),
        (augment.Mixup(0.4), r"feature 'row_id' is bytes_list in a '1' example; mixup mixes only numeric"),
    ],
)
def test_a_text_feature_is_refused_with_the_feature_named(maker, match):
    with pytest.raises(ValueError, match=match):
        run(fx.make_rows({1: 8}), maker, keys=("f0", "row_id"))


def test_mixup_of_a_single_row_is_refused():
    with pytest.raises(ValueError, match=r"split 'train', class '1': mixup needs at least 2 rows to mix, got 1"):
        run(fx.make_rows({1: 1}), augment.Mixup(0.4))
