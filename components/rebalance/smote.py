"""SMOTE for Beam: synthetic minority examples on segments between a record and one of its kNN.

The records of one class of one split are gathered in one worker (the plan refuses classes above
`smote_max_minority_rows` before the job starts). They are sorted by (hash, bytes) so the kNN
table and the assignment of synthetic records to base records do not depend on arrival order.
Neighbours are exact (scikit-learn NearestNeighbors, Euclidean) on the configured features.

Synthetic record j of base record b: neighbour = kNN(b)[h1 mod k], lam = h2 / 2**53 in [0, 1),
with (h1, h2) from a keyed hash of (seed, b's bytes, j); each SMOTE feature is
b + lam * (neighbour - b); every other feature (and the label) is copied from b. Integer features
are rounded to the nearest integer so the schema's types hold.
"""

from __future__ import annotations

import hashlib
import math
from typing import Iterable, Iterator, List, Sequence, Tuple

import apache_beam as beam
import numpy as np
from apache_beam import pvalue

from components.rebalance.counting import CountingDoFn
from components.rebalance.problems import PROBLEMS_TAG, SMOTE_INPUT, Problem
from components.rebalance.record_keys import parse_example, record_hash

SMOTE_SALT = b"\x00smote\x00"


def feature_matrix(examples: Sequence, feature_keys: Sequence[str], split: str, class_name: str) -> np.ndarray:
    """float64 [rows, features] of the SMOTE features; raises ValueError naming every kind of bad value."""
    matrix = np.empty((len(examples), len(feature_keys)), dtype=np.float64)
    problems = []
    for column, key in enumerate(feature_keys):
        for row, example in enumerate(examples):
            feature = example.features.feature.get(key)
            kind = feature.WhichOneof("kind") if feature is not None else None
            if kind not in ("float_list", "int64_list"):
                found = "absent" if feature is None else (kind or "empty")
                problems.append(
                    f"feature {key!r} is {found} in a {class_name!r} example; SMOTE interpolates only numeric "
                    "(float or int) features: remove it from smote_feature_keys"
                )
                break
            values = getattr(feature, kind).value
            if len(values) != 1:
                problems.append(f"feature {key!r} has {len(values)} values in a {class_name!r} example, not one")
                break
            value = float(values[0])
            if not math.isfinite(value):
                problems.append(
                    f"feature {key!r} is {value} (not finite) in a {class_name!r} example; impute or drop such "
                    "rows before SMOTE"
                )
                break
            matrix[row, column] = value
    if problems:
        raise ValueError(f"split {split!r}: " + "; ".join(problems))
    return matrix


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


def synthesize(
    records: Iterable[bytes],
    synthetic_count: int,
    feature_keys: Sequence[str],
    k: int,
    key: bytes,
    split: str,
    class_name: str,
) -> Iterator[bytes]:
    """`synthetic_count` serialized synthetic examples from the records of one class."""
    ordered = sorted(records, key=lambda record: (record_hash(key, record), record))
    examples = [parse_example(record) for record in ordered]
    matrix = feature_matrix(examples, feature_keys, split, class_name)
    neighbours = nearest_neighbors(matrix, k)
    per_base, extra = divmod(synthetic_count, len(ordered))
    for row, (record, example) in enumerate(zip(ordered, examples, strict=True)):
        for copy_index in range(per_base + (1 if row < extra else 0)):
            slot, lam = synthetic_draw(key, record, copy_index, k)
            neighbour = matrix[neighbours[row, slot]]
            point = matrix[row] + lam * (neighbour - matrix[row])
            synthetic = type(example)()
            synthetic.CopyFrom(example)
            for column, feature_key in enumerate(feature_keys):
                feature = synthetic.features.feature[feature_key]
                if feature.WhichOneof("kind") == "int64_list":
                    feature.int64_list.value[0] = int(round(point[column]))
                else:
                    feature.float_list.value[0] = point[column]
            yield synthetic.SerializeToString(deterministic=True)  # map order fixed: same bytes everywhere


class _SynthesizeClass(CountingDoFn):
    def __init__(self, split: str, synthetic_counts, feature_keys: Sequence[str], k: int, key: bytes):
        super().__init__(split)
        self._synthetic_counts = dict(synthetic_counts)
        self._feature_keys = tuple(feature_keys)
        self._k = k
        self._key = key

    def process(self, element):
        class_name, records = element
        try:
            synthetic: List[bytes] = list(
                synthesize(
                    records,
                    self._synthetic_counts[class_name],
                    self._feature_keys,
                    self._k,
                    self._key,
                    self._split,
                    class_name,
                )
            )
        except ValueError as error:
            yield pvalue.TaggedOutput(PROBLEMS_TAG, Problem(SMOTE_INPUT, self._split, 1, str(error)))
            return
        self._counts.inc("out", class_name, len(synthetic))
        yield from synthetic


class SynthesizeSmote(beam.PTransform):
    """(class, serialized example) of the classes to grow -> synthetic examples, and problems.

    Returns {"records": synthetic serialized examples, "problems": a `Problem` per class it cannot
    grow}. Holds one class of one split in one worker's memory.
    """

    def __init__(self, split: str, synthetic_counts, feature_keys: Sequence[str], k: int, key: bytes):
        super().__init__()
        self._args = (split, synthetic_counts, feature_keys, k, key)

    def expand(self, bases):
        outputs = (
            bases
            | "GroupClass" >> beam.GroupByKey()
            | "Synthesize" >> beam.ParDo(_SynthesizeClass(*self._args)).with_outputs(PROBLEMS_TAG, main="records")
        )
        return {"records": outputs["records"], PROBLEMS_TAG: outputs[PROBLEMS_TAG]}
