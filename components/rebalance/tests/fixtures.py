"""Tiny Examples artifacts written like CsvExampleGen 1.16 does: gzip TFRecords of tf.Example per Split-<name>."""

from __future__ import annotations

import os
from typing import Dict, Iterable, List, Mapping, Sequence

import numpy as np
import tensorflow as tf
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts

from components.class_skew.analysis import analyze
from components.class_skew.counts import LabelCounts
from components.class_skew.spec import ClassSkewParameters

NUMERIC_KEYS = ("f0", "f1", "f2")
STRING_KEY = "row_id"
LABEL_KEY = "Class"


def make_example(values: Mapping[str, object]) -> bytes:
    """A serialized tf.Example; floats -> float_list, ints -> int64_list, str -> bytes_list, lists as given."""
    feature = {}
    for name, value in values.items():
        items = value if isinstance(value, (list, tuple)) else [value]
        if all(isinstance(v, str) for v in items) and items:
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode() for v in items]))
        elif all(isinstance(v, (int, np.integer)) for v in items) and items:
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in items]))
        else:
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in items]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def make_rows(counts: Mapping[object, int], seed: int = 0, split: str = "train") -> List[bytes]:
    """Records with 3 numeric features (class-dependent means), a unique string id and the label."""
    rng = np.random.default_rng(seed)
    records = []
    for label, count in counts.items():
        centre = 3.0 * (hash(str(label)) % 7) if not isinstance(label, int) else 3.0 * label
        for index in range(count):
            point = rng.normal(centre, 1.0, size=len(NUMERIC_KEYS))
            values = {key: float(v) for key, v in zip(NUMERIC_KEYS, point, strict=True)}
            values[STRING_KEY] = f"{split}-{label}-{index}"
            values[LABEL_KEY] = label
            records.append(make_example(values))
    return records


def write_tfrecord_gz(path: str, records: Iterable[bytes]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for record in records:
            writer.write(record)


def read_split(uri: str, split: str) -> List[bytes]:
    """Every record of a split (all files), as written."""
    split_dir = os.path.join(uri, f"Split-{split}")
    records = []
    for name in sorted(os.listdir(split_dir)):
        records.extend(r.numpy() for r in tf.data.TFRecordDataset(os.path.join(split_dir, name), "GZIP"))
    return records


def make_examples_artifact(
    root: str, splits: Mapping[str, Sequence[bytes]], shards: int = 2, span: int = 3, version: int = 1
) -> standard_artifacts.Examples:
    """An Examples artifact at `root` with `shards` gzip files per split."""
    artifact = standard_artifacts.Examples()
    artifact.uri = root
    for split, records in splits.items():
        for shard in range(shards):
            write_tfrecord_gz(
                os.path.join(root, f"Split-{split}", f"data_tfrecord-{shard:05d}-of-{shards:05d}.gz"),
                records[shard::shards],
            )
    artifact.split_names = artifact_utils.encode_split_names(list(splits))
    artifact.span = span
    artifact.version = version
    examples_utils.set_payload_format(artifact, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
    return artifact


def output_artifact(root: str) -> standard_artifacts.Examples:
    artifact = standard_artifacts.Examples()
    artifact.uri = root
    os.makedirs(root, exist_ok=True)
    return artifact


def class_counts(records: Iterable[bytes], label_key: str = LABEL_KEY) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for record in records:
        feature = tf.train.Example.FromString(record).features.feature[label_key]
        kind = feature.WhichOneof("kind")
        value = getattr(feature, kind).value[0]
        name = value.decode() if isinstance(value, bytes) else str(value)
        counts[name] = counts.get(name, 0) + 1
    return counts


def write_class_skew_report(root: str, counts: Mapping[str, Mapping[str, int]], label_key: str = LABEL_KEY) -> str:
    """ClassSkew's report of these class counts (a train and an eval split), saved as ClassSkew saves it."""
    split_counts = {split: LabelCounts(split, sum(c.values()), dict(c), 0) for split, c in counts.items()}
    parameters = ClassSkewParameters(on_single_class="warn", on_empty_split="warn")
    analyze(split_counts, label_key, parameters).save(root)
    return root
