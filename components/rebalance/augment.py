"""Minority augmentation for Beam: Gaussian noise on a real row (augment_noise), or mixup of two real rows.

Both are synthesis strategies (`synthesis`): the class is gathered in one worker, the bases are
chosen in (seed hash, bytes) order, exact in count, originals untouched, and only the listed
numeric features change; the label and every other feature come from the base row.

augment_noise: synthetic copy j of base b is b + noise_scale * std * z on each feature, where std
is the feature's population standard deviation over the rows of the class being grown (in the
same job, from the gathered rows) and z ~ N(0, 1) by Box-Muller on a keyed hash of (seed, b, j).
The class's own spread, not the whole split's: the majority's spread (much wider on the
credit-card data) would blur the very region the minority occupies. A feature with zero spread in
the class gets no noise: its synthetic values equal the base's (logged as a warning). Box-Muller on
53-bit uniforms bounds |z| by MAX_NORMAL (8.57), so every value is within 8.57 noise_scale * std of
its base.

mixup: synthetic copy j of base a is lam * a + (1 - lam) * b, with b another row of the class
(uniform over the other rows) and lam ~ Beta(alpha, alpha) folded to max(lam, 1 - lam) in
[0.5, 1], both from a keyed hash of (seed, a, j); lam is the inverse Beta CDF of a hashed uniform.
The fold keeps the new row nearer the base whose label and other features it carries: in
classification mixup the label is mixed too, but a Rebalance row has one label, the base's.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Tuple

import numpy as np
from absl import logging

from components.rebalance.synthesis import ClassRows, Maker, PointFn, hash_words, unit_interval

NOISE_SALT = b"\x00augment_noise\x00"
MIXUP_SALT = b"\x00mixup\x00"
# The largest |z| Box-Muller gives from uniforms on the 2**-53 grid: sqrt(-2 ln 2**-53).
MAX_NORMAL = math.sqrt(-2.0 * math.log(2.0**-53))


def normal_draws(key: bytes, record: bytes, copy_index: int, count: int) -> np.ndarray:
    """`count` standard normal values for synthetic copy `copy_index` of `record`; |value| <= MAX_NORMAL."""
    pairs = -(-count // 2)
    words = hash_words(key, record, NOISE_SALT, copy_index, 2 * pairs)
    u1 = 1.0 - unit_interval(words[0::2])  # (0, 1], so the log is finite
    u2 = unit_interval(words[1::2])
    radius = np.sqrt(-2.0 * np.log(u1))
    angle = 2.0 * np.pi * u2
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1).ravel()[:count]


def mixup_draw(key: bytes, record: bytes, copy_index: int, others: int, alpha: float) -> Tuple[int, float]:
    """(partner slot in [0, others), lam in [0.5, 1]) for synthetic copy `copy_index` of `record`."""
    from scipy.special import betaincinv  # imported here: only mixup workers need it

    words = hash_words(key, record, MIXUP_SALT, copy_index, 2)
    slot = int(words[0]) % others
    lam = float(betaincinv(alpha, alpha, unit_interval(words[1:])[0]))
    return slot, max(lam, 1.0 - lam)


@dataclasses.dataclass(frozen=True)
class AugmentNoise(Maker, verb="augment_noise perturbs"):
    """Feature-wise Gaussian noise, sigma = noise_scale x the feature's std over the class."""

    noise_scale: float

    def prepare(self, rows: ClassRows) -> PointFn:
        spread = rows.matrix.std(axis=0)
        flat = [name for name, value in zip(rows.feature_keys, spread, strict=True) if value == 0.0]
        if flat:
            logging.warning(
                "Rebalance augment_noise, %s: feature(s) %s have the same value in every row, so no noise: "
                "their synthetic values equal the base row's",
                rows.where,
                flat,
            )
        sigma = self.noise_scale * spread

        def point(row: int, copy_index: int) -> np.ndarray:
            return rows.matrix[row] + sigma * normal_draws(rows.key, rows.records[row], copy_index, len(sigma))

        return point


@dataclasses.dataclass(frozen=True)
class Mixup(Maker, verb="mixup mixes"):
    """lam * base + (1 - lam) * partner, lam ~ Beta(alpha, alpha) folded to [0.5, 1]."""

    alpha: float

    def prepare(self, rows: ClassRows) -> PointFn:
        if len(rows.matrix) < 2:
            raise ValueError(f"{rows.where}: mixup needs at least 2 rows to mix, got {len(rows.matrix)}")
        matrix, others = rows.matrix, len(rows.matrix) - 1

        def point(row: int, copy_index: int) -> np.ndarray:
            slot, lam = mixup_draw(rows.key, rows.records[row], copy_index, others, self.alpha)
            partner = slot if slot < row else slot + 1  # any row but the base itself
            return lam * matrix[row] + (1.0 - lam) * matrix[partner]

        return point
