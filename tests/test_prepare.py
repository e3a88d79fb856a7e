"""Data prep on the four table shapes: types, exact stratified splits, typed tf.Examples, reuse, determinism."""

from __future__ import annotations

import gzip
import pathlib
from typing import Dict, List

import pytest
from tensorflow.core.example import example_pb2

from pipeline.dataset import SPLIT_NAMES, load_description
from pipeline.prepare import SPLIT_FILENAME, prepare_dataset
from pipeline.splits import split_targets
from tests import tables


def read_examples(path: pathlib.Path) -> List[example_pb2.Example]:
    """Reads a gzip TFRecord file without TensorFlow's reader: length, crc, payload, crc."""
    data = gzip.decompress(path.read_bytes())
    examples, position = [], 0
    while position < len(data):
        length = int.from_bytes(data[position : position + 8], "little")
        payload = data[position + 12 : position + 12 + length]
        examples.append(example_pb2.Example.FromString(payload))
        position += 12 + length + 4
    return examples


def values(example: example_pb2.Example) -> Dict[str, object]:
    result: Dict[str, object] = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        result[name] = list(getattr(feature, kind).value)[0]
    return result


def prepare(shape: str, tmp_path: pathlib.Path):
    description = load_description(tables.SHAPES[shape](tmp_path / "in"))
    return description, prepare_dataset(description, {1: description.data}, tmp_path / "prepared")


@pytest.mark.parametrize("shape", sorted(tables.SHAPES))
def test_every_shape_splits_each_class_exactly(shape, tmp_path):
    description, prepared = prepare(shape, tmp_path)
    span = prepared.spans[1]
    shares = description.split.shares()
    for cls, count in span.class_counts.items():
        assert {split: span.split_counts[split][cls] for split in SPLIT_NAMES} == split_targets(count, shares)
        for split in SPLIT_NAMES:
            assert abs(span.split_counts[split][cls] - shares[split] * count) <= 1
    for split in SPLIT_NAMES:
        examples = read_examples(span.folder / split / SPLIT_FILENAME)
        labels = [values(example)[description.label.column] for example in examples]
        assert {cls: labels.count(cls) for cls in (0, 1)} == span.split_counts[split]


def test_mixed_types_drop_missing_and_slices(tmp_path):
    description, prepared = prepare("mixed", tmp_path)
    assert prepared.types.numeric == ("age", "marker")
    assert prepared.types.categorical == ("region", "clinic")
    assert prepared.types.nullable == ("marker",)
    examples = [values(e) for s in SPLIT_NAMES for e in read_examples(prepared.spans[1].folder / s / SPLIT_FILENAME)]
    assert all("patient_id" not in example for example in examples)
    assert all(
        isinstance(example["age"], float) and example["clinic"] in (b"101", b"102", b"205") for example in examples
    )
    assert any("marker" not in example for example in examples), "NA must become an absent feature"
    assert {example["age_band"] for example in examples} == {b"young", b"old"}
    assert {example["diagnosis"] for example in examples} == {0, 1}


def test_headerless_file_takes_names_and_missing_markers(tmp_path):
    _, prepared = prepare("headerless", tmp_path)
    assert prepared.types.numeric == ("temperature", "vibration")
    assert prepared.types.categorical == ("line",)
    assert prepared.types.nullable == ("temperature", "vibration")
    examples = [values(e) for e in read_examples(prepared.spans[1].folder / "train" / SPLIT_FILENAME)]
    assert any("temperature" not in example for example in examples)


def test_credit_card_layout_keeps_its_columns_and_bands(tmp_path):
    _, prepared = prepare("creditcard", tmp_path)
    assert prepared.types.numeric == ("Time", *(f"V{i}" for i in range(1, 29)), "Amount")
    assert prepared.types.categorical == () and prepared.types.nullable == ()
    example = values(read_examples(prepared.spans[1].folder / "eval" / SPLIT_FILENAME)[0])
    assert example["hour_band"] in (b"night", b"morning", b"afternoon", b"evening")
    assert example["amount_bucket"] in (b"lt_10", b"10_to_100", b"100_to_1000", b"ge_1000")


def test_same_inputs_give_the_same_bytes_and_a_rerun_reuses_them(tmp_path):
    description, first = prepare("text_labels", tmp_path / "a")
    again = prepare_dataset(description, {1: description.data}, tmp_path / "a" / "prepared")
    assert again.spans[1].reused and not first.spans[1].reused
    other = prepare_dataset(description, {1: description.data}, tmp_path / "b")
    for split in SPLIT_NAMES:
        assert (first.spans[1].folder / split / SPLIT_FILENAME).read_bytes() == (
            other.spans[1].folder / split / SPLIT_FILENAME
        ).read_bytes()


def test_another_seed_draws_other_rows(tmp_path):
    description, first = prepare("text_labels", tmp_path / "a")
    reseeded = description.__class__(**{**description.__dict__, "split": description.split.__class__(seed=7)})
    other = prepare_dataset(reseeded, {1: description.data}, tmp_path / "b")
    assert other.spans[1].split_counts == first.spans[1].split_counts
    assert (first.spans[1].folder / "eval" / SPLIT_FILENAME).read_bytes() != (
        other.spans[1].folder / "eval" / SPLIT_FILENAME
    ).read_bytes()
