"""SMOTE for Beam: synthetic minority examples on segments between a record and one of its kNN.

The class is gathered and its bases chosen as for every synthesis strategy (`synthesis`).
Neighbours are exact (scikit-learn NearestNeighbors, Euclidean) on the configured features.

Synthetic record j of base record b: neighbour = kNN(b)[h1 mod k], lam = h2 / 2**53 in [0, 1),
with (h1, h2) from a keyed hash of (seed, b's bytes, j); each SMOTE feature is
b + lam * (neighbour - b); every other feature (and the label) is copied from b.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Iterable, Iterator, Sequence, Tuple

import numpy as np

from components.rebalance import synthesis
from components.rebalance.synthesis import ClassRows, Maker, PointFn, SynthesizeClasses

SMOTE_SALT = b"\x00smote\x00"


def nearest_neighbors(matrix: np.ndarray, k: int) -> np.ndarray:
    """int [rows, k]: for each row the k nearest other rows (exact, Euclidean; ties by row order)."""
    from sklearn.neighbors import NearestNeighbors  # imported here: only SMOTE workers need sklearn

    if k >= len(matrix):
        raise ValueError(f"k_neighbors={k} needs more than {k} rows, got {len(matrix)}")
    index = NearestNeighbors(n_neighbors=k + 1, algorithm="brute", metric="euclidean").fit(matrix)
    _, candidates = index.kneighbors(matrix)
    neighbours = np.empty((len(matrix), k), dtype=np.int64)
    for row, row_candidates in enumerate(candidates):
        # The row itself is normally first, but with duplicate points it may come later.
        others = [int(c) for c in row_candidates if c != row]
        neighbours[row] = others[:k]
    return neighbours


def synthetic_draw(key: bytes, record: bytes, copy_index: int, k: int) -> Tuple[int, float]:
    """(neighbour slot in [0, k), lam in [0, 1)) for synthetic copy `copy_index` of `record`."""
    digest = hashlib.blake2b(record + SMOTE_SALT + copy_index.to_bytes(8, "big"), digest_size=16, key=key).digest()
    slot = int.from_bytes(digest[:8], "big") % k
    lam = (int.from_bytes(digest[8:], "big") >> 11) / float(1 << 53)
    return slot, lam


@dataclasses.dataclass(frozen=True)
class Smote(Maker, verb="SMOTE interpolates"):
    """Interpolation towards one of the base's k nearest neighbours."""

    k: int

    def prepare(self, rows: ClassRows) -> PointFn:
        matrix = rows.matrix
        neighbours = nearest_neighbors(matrix, self.k)

        def point(row: int, copy_index: int) -> np.ndarray:
            slot, lam = synthetic_draw(rows.key, rows.records[row], copy_index, self.k)
            return matrix[row] + lam * (matrix[neighbours[row, slot]] - matrix[row])

        return point


def synthesize(
    records: Iterable[bytes],
    synthetic_count: int,
    feature_keys: Sequence[str],
    k: int,
    key: bytes,
    split: str,
    class_name: str,
) -> Iterator[bytes]:
    """`synthetic_count` serialized SMOTE examples from the records of one class."""
    return synthesis.synthesize(records, synthetic_count, feature_keys, key, split, class_name, Smote(k))


class SynthesizeSmote(SynthesizeClasses):
    """(class, serialized example) of the classes to grow -> SMOTE examples, and problems (`SynthesizeClasses`)."""

    def __init__(self, split: str, synthetic_counts, feature_keys: Sequence[str], k: int, key: bytes):
        super().__init__(split, synthetic_counts, feature_keys, key, Smote(k))
