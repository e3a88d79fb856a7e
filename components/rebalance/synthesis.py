"""What the synthesis strategies share: a class gathered in one worker, bases in a fixed order, exact counts.

SMOTE, augment_noise and mixup each add `s = n - N` synthetic records to a class of N records and
keep the N originals untouched. The records of one class of one split are gathered in one worker:
the plan refuses classes above `smote_max_minority_rows` before the job starts, which bounds the
memory (SMOTE needs every row for its kNN table, mixup any row as a partner; augment_noise would
not need it, but shares the rule so one limit covers all three).

The records are sorted by (seed hash, bytes), so the choice of bases does not depend on arrival
order, bundles or workers: each record is the base of `s // N` synthetic records, plus one more
for the first `s % N` records in that order (the very records an oversampling cut would choose).
Synthetic copy j of base b draws its randomness from a keyed hash of (seed, b's bytes, j) only.

A strategy (a `Maker`) turns the float64 matrix of the features it alters into one new point per
(base row, copy index). Only those features are rewritten; every other feature (categorical or
text values, the label, numeric features not listed) is copied from the base. Integer features are
rounded to the nearest integer so the schema's types hold.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import math
from typing import Any, Callable, ClassVar, Iterable, Iterator, List, Sequence, Tuple

import apache_beam as beam
import numpy as np
from apache_beam import pvalue
from tensorflow.core.example import example_pb2

from components.rebalance.counting import CountingDoFn
from components.rebalance.problems import PROBLEMS_TAG, SYNTHESIS_INPUT, Problem
from components.rebalance.record_keys import parse_example, record_hash

# (base row, copy index) -> the new values of the altered features, float64 [features].
PointFn = Callable[[int, int], np.ndarray]


@dataclasses.dataclass(frozen=True)
class ClassRows:
    """One class of one split as a strategy sees it: rows and records in base order."""

    # float64 [rows, features]: the altered features, columns in `feature_keys` order.
    matrix: np.ndarray
    records: Sequence[bytes]
    feature_keys: Sequence[str]
    # The seed's hash key: the synthetic copies' randomness is keyed with it.
    key: bytes
    # "split 'train', class '1'", for messages.
    where: str


class Maker(abc.ABC):
    """One synthesis strategy: what it does to the features (for messages), and how it makes points.

    A strategy names what it does in its class statement: `class Smote(Maker, verb="SMOTE interpolates")`.
    """

    verb: ClassVar[str] = ""

    def __init_subclass__(cls, verb: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.verb = verb

    @abc.abstractmethod
    def prepare(self, rows: ClassRows) -> PointFn:
        """The point of each synthetic copy of the class's rows; raises ValueError on a class it cannot grow."""


def feature_matrix(
    examples: Sequence[example_pb2.Example], feature_keys: Sequence[str], split: str, class_name: str, verb: str
) -> np.ndarray:
    """float64 [rows, features] of the altered features; raises ValueError naming every kind of bad value."""
    matrix = np.empty((len(examples), len(feature_keys)), dtype=np.float64)
    problems = []
    for column, key in enumerate(feature_keys):
        for row, example in enumerate(examples):
            feature = example.features.feature.get(key)
            kind = feature.WhichOneof("kind") if feature is not None else None
            if kind not in ("float_list", "int64_list"):
                found = "absent" if feature is None else (kind or "empty")
                problems.append(
                    f"feature {key!r} is {found} in a {class_name!r} example; {verb} only numeric "
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
                    "rows first"
                )
                break
            matrix[row, column] = value
    if problems:
        raise ValueError(f"split {split!r}: " + "; ".join(problems))
    return matrix


def base_copies(synthetic_count: int, rows: int) -> Iterator[Tuple[int, int]]:
    """(base row, copy index) of every synthetic record: `count // rows` per row, +1 for the first `count % rows`."""
    per_base, extra = divmod(synthetic_count, rows)
    for row in range(rows):
        for copy_index in range(per_base + (1 if row < extra else 0)):
            yield row, copy_index


def hash_words(key: bytes, record: bytes, salt: bytes, copy_index: int, words: int) -> np.ndarray:
    """`words` uniform uint64 from a keyed hash of (record, salt, copy index): the copy's own random stream."""
    prefix = record + salt + copy_index.to_bytes(8, "big")
    blocks = [
        hashlib.blake2b(prefix + block.to_bytes(4, "big"), digest_size=64, key=key).digest()
        for block in range(-(-words // 8))
    ]
    return np.frombuffer(b"".join(blocks), dtype=">u8")[:words].astype(np.uint64)


def unit_interval(words: np.ndarray) -> np.ndarray:
    """float64 in [0, 1) from uint64 words: their top 53 bits, so every value is exact."""
    return (words >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def with_values(example: example_pb2.Example, feature_keys: Sequence[str], point: np.ndarray) -> bytes:
    """A copy of `example` with the altered features set to `point` (ints rounded), serialized."""
    synthetic = example_pb2.Example()
    synthetic.CopyFrom(example)
    for column, feature_key in enumerate(feature_keys):
        feature = synthetic.features.feature[feature_key]
        if feature.WhichOneof("kind") == "int64_list":
            feature.int64_list.value[0] = int(round(point[column]))
        else:
            feature.float_list.value[0] = point[column]
    return synthetic.SerializeToString(deterministic=True)  # map order fixed: same bytes everywhere


def synthesize(
    records: Iterable[bytes],
    synthetic_count: int,
    feature_keys: Sequence[str],
    key: bytes,
    split: str,
    class_name: str,
    maker: Maker,
) -> Iterator[bytes]:
    """`synthetic_count` serialized synthetic examples from the records of one class."""
    ordered = sorted(records, key=lambda record: (record_hash(key, record), record))
    examples = [parse_example(record) for record in ordered]
    matrix = feature_matrix(examples, feature_keys, split, class_name, maker.verb)
    point_of = maker.prepare(ClassRows(matrix, ordered, feature_keys, key, f"split {split!r}, class {class_name!r}"))
    for row, copy_index in base_copies(synthetic_count, len(ordered)):
        yield with_values(examples[row], feature_keys, point_of(row, copy_index))


class _SynthesizeClass(CountingDoFn):
    def __init__(self, split: str, synthetic_counts, feature_keys: Sequence[str], key: bytes, maker: Maker):
        super().__init__(split)
        self._synthetic_counts = dict(synthetic_counts)
        self._feature_keys = tuple(feature_keys)
        self._key = key
        self._maker = maker

    def process(self, element):
        class_name, records = element
        try:
            synthetic: List[bytes] = list(
                synthesize(
                    records,
                    self._synthetic_counts[class_name],
                    self._feature_keys,
                    self._key,
                    self._split,
                    class_name,
                    self._maker,
                )
            )
        except ValueError as error:
            yield pvalue.TaggedOutput(PROBLEMS_TAG, Problem(SYNTHESIS_INPUT, self._split, 1, str(error)))
            return
        self._counts.inc("out", class_name, len(synthetic))
        yield from synthetic


class SynthesizeClasses(beam.PTransform):
    """(class, serialized example) of the classes to grow -> synthetic examples, and problems.

    Returns {"records": synthetic serialized examples, "problems": a `Problem` per class it cannot
    grow}. Holds one class of one split in one worker's memory (see the module docstring).
    """

    def __init__(self, split: str, synthetic_counts, feature_keys: Sequence[str], key: bytes, maker: Maker):
        super().__init__()
        self._args = (split, synthetic_counts, feature_keys, key, maker)

    def expand(self, bases):
        outputs = (
            bases
            | "GroupClass" >> beam.GroupByKey()
            | "Synthesize" >> beam.ParDo(_SynthesizeClass(*self._args)).with_outputs(PROBLEMS_TAG, main="records")
        )
        return {"records": outputs["records"], PROBLEMS_TAG: outputs[PROBLEMS_TAG]}
