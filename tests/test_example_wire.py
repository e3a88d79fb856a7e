"""pipeline.example_wire writes the bytes protobuf's deterministic serialization writes, for every kind of value."""

import math
import random

import pytest
from tensorflow.core.example import example_pb2

from pipeline.example_wire import example_bytes


def _protobuf_bytes(features):
    """What data prep wrote before: the Example built through the protobuf API, serialized deterministically."""
    example = example_pb2.Example()
    for name, value in features.items():
        feature = example.features.feature[name]
        if isinstance(value, float):
            feature.float_list.value.append(value)
        elif isinstance(value, int):
            feature.int64_list.value.append(value)
        else:
            feature.bytes_list.value.append(str(value).encode("utf-8"))
    return example.SerializeToString(deterministic=True)


EDGE_VALUES = [
    0.0,
    -0.0,
    0.1,
    -2.5e-7,
    3.4028235e38,
    1e39,  # above float32: protobuf stores inf
    -1e39,
    1e-46,  # below float32's smallest: 0
    math.inf,
    -math.inf,
    0,
    1,
    127,
    128,
    2**31,
    2**63 - 1,
    -1,
    -(2**63),
    True,
    "",
    "night",
    "é ß 中文",
    "x" * 300,  # a length that needs a two-byte varint
]


@pytest.mark.parametrize("value", EDGE_VALUES, ids=repr)
def test_one_feature_of_every_kind_is_byte_identical(value):
    assert example_bytes({"f": value}) == _protobuf_bytes({"f": value})


def test_nan_is_written_as_protobuf_writes_it():
    assert example_bytes({"f": math.nan}) == _protobuf_bytes({"f": math.nan})


def test_keys_are_sorted_as_protobuf_sorts_them_whatever_the_order_given():
    features = {"b": 1.0, "a": 2, "Z": "x", "é": 0.5, "a_long_name" * 20: "v", "V10": 1.0, "V2": 2.0}
    assert example_bytes(features) == _protobuf_bytes(features)
    assert example_bytes(dict(reversed(list(features.items())))) == _protobuf_bytes(features)


def test_random_rows_like_data_preps_are_byte_identical():
    rng = random.Random(7)
    names = [f"V{i}" for i in range(1, 29)] + ["Time", "Amount", "hour_band", "amount_bucket", "Class"]
    for _ in range(2_000):
        row = {}
        for name in names:
            if rng.random() < 0.05:
                continue  # a missing value: the feature is left out
            kind = rng.random()
            if kind < 0.7:
                row[name] = rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-30, 30)
            elif kind < 0.85:
                row[name] = rng.randint(-(2**40), 2**40)
            else:
                row[name] = "".join(rng.choice("ab ?é_-") for _ in range(rng.randint(0, 200)))
        assert example_bytes(row) == _protobuf_bytes(row), row


def test_no_features_gives_the_empty_example():
    assert example_bytes({}) == _protobuf_bytes({}) == b""
    assert example_pb2.Example.FromString(example_bytes({"Class": 1})).features.feature["Class"].int64_list.value == [1]
