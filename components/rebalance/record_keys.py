"""Per-record keys of Rebalance: the class of a serialized tf.Example, and its seeded hash.

Every random choice is a function of (seed, record bytes[, salt]) through a keyed BLAKE2b hash
(`record_hash`), never of a global RNG or of processing order, so the output records do not
depend on the runner, the number of workers or how the input is split into bundles.

The class is read from the wire format directly (`find_label_feature`) and each distinct label
Feature is decoded once (`ClassKeyReader`): this runs once per record in every pass. A record
without a usable label gives a `LabelProblem` instead of a class name.
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict, Optional, Sequence, Tuple, Union

from google.protobuf.message import DecodeError
from tensorflow.core.example import example_pb2, feature_pb2

from components.rebalance.problems import LABEL_VALUES, MISSING_LABEL, UNPARSEABLE, LabelProblem

HASH_BITS = 64
HASH_RANGE = 1 << HASH_BITS

# A class name, or why the record has none.
ClassKey = Union[str, LabelProblem]


def seed_key(seed: int) -> bytes:
    """The BLAKE2b key of a seed (keys are at most 64 bytes; any Python int's decimal text fits)."""
    key = str(int(seed)).encode("ascii")
    if len(key) > 64:
        raise ValueError(f"seed {seed!r} is too large; use an int with at most 64 digits")
    return key


def record_hash(key: bytes, record: bytes, salt: bytes = b"") -> int:
    """A uniform 64-bit integer from (seed key, record bytes, salt)."""
    return int.from_bytes(hashlib.blake2b(record + salt, digest_size=8, key=key).digest(), "big")


def parse_example(record: bytes) -> example_pb2.Example:
    return example_pb2.Example.FromString(record)


def _varint(data: bytes, pos: int) -> Tuple[int, int]:
    """(value, position after it) of the protobuf varint at `pos`."""
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def label_entry_prefix(label_key: str) -> bytes:
    """The bytes that open the map entry of `label_key` in a serialized tf.Example: key field, then value tag."""
    key = label_key.encode("utf-8")
    return b"\x0a" + _encode_varint(len(key)) + key + b"\x12"


def find_label_feature(record: bytes, entry_prefix: bytes) -> Optional[bytes]:
    """The serialized Feature of the label, found by walking the map entries of a serialized tf.Example.

    Much cheaper than parsing the whole example (benchmarks/RESULTS.md, Rebalance benchmark); one-byte
    lengths, the common case, are read inline. Exact: it steps from entry to entry (never searches
    inside values). Returns None when the walk finds no such entry or meets anything unexpected;
    callers then parse the whole example.
    """
    try:
        if record[0] != 0x0A:  # Example.features
            return None
        pos = 1
        while record[pos] & 0x80:  # skip the length of Features: the walk stops at the record's end
            pos += 1
        pos += 1
        end = len(record)
        size = len(entry_prefix)
        while pos < end:
            if record[pos] != 0x0A:  # Features.feature (map entry)
                return None
            length = record[pos + 1]
            if length < 0x80:
                body = pos + 2
            else:
                length, body = _varint(record, pos + 1)
            if record.startswith(entry_prefix, body):
                feature_length = record[body + size]
                if feature_length < 0x80:
                    start = body + size + 1
                else:
                    feature_length, start = _varint(record, body + size)
                if start + feature_length > body + length:
                    return None
                return record[start : start + feature_length]
            pos = body + length
        return None
    except IndexError:
        return None


def _class_name_of_feature(feature: feature_pb2.Feature) -> ClassKey:
    kind = feature.WhichOneof("kind")
    values: Sequence[Any] = getattr(feature, kind).value if kind else ()
    if len(values) != 1:
        return LabelProblem(LABEL_VALUES, str(len(values)))
    value = values[0]
    if kind == "bytes_list":
        return value.decode("utf-8", errors="backslashreplace")
    if kind == "float_list" and float(value).is_integer():
        return str(int(value))
    return str(value)


def class_name_of(example: example_pb2.Example, label_key: str) -> ClassKey:
    """The class of a parsed example as str, or the LabelProblem of why it has none."""
    feature_map = example.features.feature
    if label_key not in feature_map:
        return LabelProblem(MISSING_LABEL, str(sorted(feature_map)))
    return _class_name_of_feature(feature_map[label_key])


def class_key(record: bytes, label_key: str, entry_prefix: Optional[bytes] = None) -> ClassKey:
    """The class of a serialized example (fast path: `find_label_feature`), or the LabelProblem."""
    feature_bytes = find_label_feature(record, entry_prefix or label_entry_prefix(label_key))
    if feature_bytes is not None:
        try:
            return _class_name_of_feature(feature_pb2.Feature.FromString(feature_bytes))
        except DecodeError:
            pass  # Fall through to the full parse, which names the problem.
    try:
        example = parse_example(record)
    except DecodeError as error:
        return LabelProblem(UNPARSEABLE, type(error).__name__)
    return class_name_of(example, label_key)


class ClassKeyReader:
    """`class_key` of one label, remembering the class of each distinct serialized label Feature.

    A label has a handful of distinct values, so after the first records each class is one dict
    lookup; the memory is capped for labels that are (wrongly) continuous.
    """

    MAX_REMEMBERED = 4096

    def __init__(self, label_key: str):
        self._label_key = label_key
        self._entry_prefix = label_entry_prefix(label_key)
        self._classes: Dict[bytes, ClassKey] = {}

    def __call__(self, record: bytes) -> ClassKey:
        feature_bytes = find_label_feature(record, self._entry_prefix)
        if feature_bytes is None:
            return class_key(record, self._label_key, self._entry_prefix)
        name = self._classes.get(feature_bytes)
        if name is None:
            name = class_key(record, self._label_key, self._entry_prefix)
            if len(self._classes) < self.MAX_REMEMBERED:
                self._classes[feature_bytes] = name
        return name
