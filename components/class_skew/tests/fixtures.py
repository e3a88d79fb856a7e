"""Test helpers: TFDV statistics of tiny label columns, laid out as StatisticsGen 1.16 writes them.

StatisticsGen writes one serialized DatasetFeatureStatisticsList per split at
`<uri>/Split-<split>/FeatureStats.pb` and sets `split_names` and `span` on the
ExampleStatistics artifact; `stats_artifact_utils.load_statistics` reads it back.
"""

from __future__ import annotations

import os
from typing import Dict, List, Mapping, Optional, Sequence

import pandas as pd
import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils

from components.class_skew import executor as executor_module
from components.class_skew.spec import ClassSkewParameters, ClassSkewReport

PROJECT_SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "schema", "creditcard", "schema.pbtxt")

BINARY_SCHEMA = """
feature { name: "Class" type: INT int_domain { min: 0 max: 1 is_categorical: true } }
feature { name: "x" type: FLOAT }
"""
NOT_CATEGORICAL_SCHEMA = """
feature { name: "Class" type: INT }
feature { name: "x" type: FLOAT }
"""
STRING_SCHEMA = """
feature { name: "animal" type: BYTES string_domain { name: "animal" value: "cat" value: "dog" value: "eel" } }
feature { name: "x" type: FLOAT }
"""


def parse_schema(text: str) -> schema_pb2.Schema:
    return text_format.Parse(text, schema_pb2.Schema())


BINARY = parse_schema(BINARY_SCHEMA)


def project_schema() -> schema_pb2.Schema:
    return io_utils.SchemaReader().read(PROJECT_SCHEMA_PATH)


def label_column(counts: Mapping[object, int]) -> List[object]:
    """[class repeated count times] in class order: the fixture's true counts are `counts`."""
    return [value for value, count in counts.items() for _ in range(count)]


def statistics(
    labels: Sequence[object], schema: Optional[schema_pb2.Schema], label_key: str = "Class"
) -> statistics_pb2.DatasetFeatureStatisticsList:
    """TFDV statistics of a frame with the label column and one float feature."""
    frame = pd.DataFrame({label_key: pd.Series(list(labels)), "x": [float(i) for i in range(len(labels))]})
    if len(labels) == 0:
        frame = frame.astype({label_key: "int64" if schema is None or _is_int(schema, label_key) else "object"})
    options = tfdv.StatsOptions(schema=schema) if schema is not None else tfdv.StatsOptions()
    return tfdv.generate_statistics_from_dataframe(frame, stats_options=options)


def _is_int(schema: schema_pb2.Schema, label_key: str) -> bool:
    return any(f.name == label_key and f.type == schema_pb2.INT for f in schema.feature)


def statistics_artifact(
    root: str, name: str, split_stats: Mapping[str, statistics_pb2.DatasetFeatureStatisticsList], span: int = 0
) -> standard_artifacts.ExampleStatistics:
    artifact = standard_artifacts.ExampleStatistics()
    artifact.uri = os.path.join(root, name)
    artifact.split_names = artifact_utils.encode_split_names(list(split_stats))
    artifact.span = span
    for split, stats in split_stats.items():
        split_dir = artifact_utils.get_split_uri([artifact], split)
        fileio.makedirs(split_dir)
        with fileio.open(os.path.join(split_dir, stats_artifact_utils.BINARY_PB_BASENAME), "wb") as handle:
            handle.write(stats.SerializeToString())
    return artifact


def schema_artifact(root: str, schema: schema_pb2.Schema) -> standard_artifacts.Schema:
    artifact = standard_artifacts.Schema()
    artifact.uri = os.path.join(root, "schema")
    io_utils.write_pbtxt_file(os.path.join(artifact.uri, "schema.pbtxt"), schema)
    return artifact


def outputs(root: str) -> Dict[str, list]:
    report = ClassSkewReport()
    report.uri = os.path.join(root, "class_skew")
    hyperparameters = standard_artifacts.HyperParameters()
    hyperparameters.uri = os.path.join(root, "hyperparameters")
    fileio.makedirs(report.uri)
    fileio.makedirs(hyperparameters.uri)
    return {"class_skew": [report], "hyperparameters": [hyperparameters]}


def binary_stats(
    counts: Mapping[object, int], schema: Optional[schema_pb2.Schema] = BINARY
) -> statistics_pb2.DatasetFeatureStatisticsList:
    return statistics(label_column(counts), schema)


def assert_nothing_written(root: str) -> None:
    for name in ("class_skew", "hyperparameters"):
        assert fileio.listdir(os.path.join(root, name)) == []


def examples_artifact(root: str, name: str, span: int) -> standard_artifacts.Examples:
    """Examples as ExampleGen 1.16 records them: the span in the `span` custom property only."""
    artifact = standard_artifacts.Examples()
    artifact.uri = os.path.join(root, name)
    artifact.set_int_custom_property("span", span)
    return artifact


def run(
    root: str,
    split_stats: Mapping[str, statistics_pb2.DatasetFeatureStatisticsList],
    schema: schema_pb2.Schema,
    previous: Optional[standard_artifacts.ExampleStatistics] = None,
    sample_rate_by_split: Optional[str] = None,
    label_key: str = "Class",
    extra_inputs: Optional[Mapping[str, list]] = None,
    statistics_span: int = 2,
    **overrides: object,
) -> Dict[str, list]:
    """Runs the executor's Do on real artifacts, with ClassSkewParameters(**overrides); returns the output dict."""
    current = statistics_artifact(root, "statistics", split_stats, span=statistics_span)
    if sample_rate_by_split is not None:
        # As StatisticsGen 1.16 records it: a JSON string as the JSON value.
        current.set_json_value_custom_property("sample_rate_by_split", sample_rate_by_split)
    input_dict = {
        "statistics": [current],
        "schema": [schema_artifact(root, schema)],
        **(extra_inputs or {}),
    }
    if previous is not None:
        input_dict["previous_statistics"] = [previous]
    output_dict = outputs(root)
    parameters = ClassSkewParameters(**overrides)
    exec_properties = {"label_key": label_key, **parameters.to_exec_properties()}
    executor_module.Executor().Do(input_dict, output_dict, exec_properties)
    return output_dict
