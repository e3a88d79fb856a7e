"""A data set's inferred schema, saved for review; the anomalies ExampleValidator found against it.

On a data set's first run SchemaGen infers a schema; the runner copies it beside the data set's
description (`schema/<name>/schema.pbtxt`), where the user reviews and commits it. Later runs
import it, and ExampleValidator checks every new span against it.
"""

from __future__ import annotations

import os
import pathlib
from typing import List, Optional

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2
from tfx.dsl.io import fileio

from components.common.artifact_io import write_text_atomically
from pipeline.dataset import DatasetDescription
from pipeline.table_scan import ColumnTypes

SCHEMA_FILE = "schema.pbtxt"
ANOMALIES_FILE = "SchemaDiff.pb"
_HEADER = (
    "# Inferred by SchemaGen on this data set's first run. Review it (types, domains, which columns may be\n"
    "# missing), then commit it: later runs import it and ExampleValidator checks every new span against it.\n"
)


def mark_label_categorical(schema: schema_pb2.Schema, label_key: str, num_classes: int = 2) -> None:
    """Declares the label `int_domain { is_categorical: true, min: 0, max: num_classes - 1 }`.

    The label is the class index data prep writes: 0/1 for a binary label, 0..k-1 for k classes.

    SchemaGen describes a categorical integer by a string domain of its values, which TFDV does not
    treat as categorical when it computes statistics against the schema; this form it does, so
    StatisticsGen keeps counting the classes for ClassSkew on every later run.
    """
    for feature in schema.feature:
        if feature.name == label_key and feature.type == schema_pb2.INT:
            orphans = {label_key, feature.domain if feature.WhichOneof("domain_info") == "domain" else label_key}
            feature.int_domain.is_categorical = True
            feature.int_domain.min, feature.int_domain.max = 0, num_classes - 1
            # SchemaGen may also leave a string domain of the label's values that no feature refers to.
            referenced = {item.domain for item in schema.feature if item.WhichOneof("domain_info") == "domain"}
            kept = [domain for domain in schema.string_domain if domain.name not in orphans - referenced]
            del schema.string_domain[:]
            schema.string_domain.extend(kept)


def save_inferred_schema(
    schema_uri: str, destination: pathlib.Path, label_key: str, num_classes: int = 2
) -> Optional[pathlib.Path]:
    """Copies SchemaGen's schema to `destination` unless a reviewed one is there; the label is marked categorical.

    `num_classes` sets the label's domain, 0..num_classes-1 (the description's classes; 2 for binary).

    Returns the path written, or None when `destination` already exists (it is never overwritten).
    """
    if destination.exists():
        return None

    with fileio.open(os.path.join(schema_uri, SCHEMA_FILE), "r") as handle:
        schema = text_format.Parse(handle.read(), schema_pb2.Schema())
    mark_label_categorical(schema, label_key, num_classes)
    destination.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(str(destination), _HEADER + text_format.MessageToString(schema))
    return destination


def read_schema(path: pathlib.Path) -> schema_pb2.Schema:
    return text_format.Parse(pathlib.Path(path).read_text(), schema_pb2.Schema())


def columns_from_schema(schema: schema_pb2.Schema, description: DatasetDescription) -> ColumnTypes:
    """The model's input columns by kind, as a reviewed schema declares them (where no data prep runs).

    FLOAT features are numeric (nullable when the schema allows them to be absent); INT and BYTES
    features are categorical; the label and the cut slice columns data prep derives are not inputs.
    """
    derived = {item.name for item in description.derived_slices}
    numeric, categorical, nullable = [], [], []
    for feature in schema.feature:
        if feature.name == description.label.column or feature.name in derived:
            continue
        if feature.type == schema_pb2.FLOAT:
            numeric.append(feature.name)
            if not feature.HasField("presence") or feature.presence.min_fraction < 1.0:
                nullable.append(feature.name)
        else:
            categorical.append(feature.name)
    return ColumnTypes(numeric=tuple(numeric), categorical=tuple(categorical), nullable=tuple(nullable))


def anomaly_lines(anomalies_uri: str) -> List[str]:
    """One line per anomaly ExampleValidator found: the split, the column and what is wrong."""
    lines = []
    for split_dir in sorted(str(path) for path in fileio.glob(os.path.join(anomalies_uri, "Split-*"))):
        path = os.path.join(split_dir, ANOMALIES_FILE)
        if not fileio.exists(path):
            continue
        with fileio.open(path, "rb") as handle:
            anomalies = anomalies_pb2.Anomalies.FromString(handle.read())
        split = os.path.basename(split_dir.rstrip("/"))[len("Split-") :]
        for column, info in sorted(anomalies.anomaly_info.items()):
            lines.append(f"{split}: column {column!r}: {info.short_description or info.description}")
        if anomalies.HasField("dataset_anomaly_info"):
            lines.append(f"{split}: {anomalies.dataset_anomaly_info.short_description}")
    return lines
