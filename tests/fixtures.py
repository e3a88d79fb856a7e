"""Real TFX artifacts for component tests, made by the stock executors on small CSVs."""

from __future__ import annotations

import os
import pathlib
from typing import Sequence, Tuple

from tfx import v1 as tfx
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from pipeline import data

REPO = pathlib.Path(__file__).resolve().parent.parent
SMALL_CSV = REPO / "tests" / "data" / "creditcard_small.csv"
SCHEMA_FILE = REPO / "schema" / "schema.pbtxt"
DEFAULT_SPLITS: Tuple[Tuple[str, int], ...] = (("train", 6), ("valid", 2), ("eval", 2))


def make_examples(
    raw_csv: pathlib.Path,
    workdir: pathlib.Path,
    splits: Sequence[Tuple[str, int]] = DEFAULT_SPLITS,
) -> standard_artifacts.Examples:
    """Prepares `raw_csv` like the runner does and runs CsvExampleGen's executor on it."""
    prepared = data.prepare_clean_csv(raw_csv, workdir / "prepared_data")
    examples = standard_artifacts.Examples()
    examples.uri = str(workdir / "examples")
    os.makedirs(examples.uri, exist_ok=True)
    output_config = example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(
            splits=[example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=count) for name, count in splits]
        )
    )
    input_config = example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="single_split", pattern="*")])
    exec_properties = {
        standard_component_specs.INPUT_BASE_KEY: str(prepared.clean_csv.parent),
        standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(input_config),
        standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(output_config),
        standard_component_specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
        standard_component_specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP,
    }
    csv_executor.Executor().Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]}, exec_properties)
    return examples


def make_schema(workdir: pathlib.Path) -> standard_artifacts.Schema:
    """The project's schema as a Schema artifact (what ImportSchemaGen publishes)."""
    schema = standard_artifacts.Schema()
    schema.uri = str(workdir / "schema")
    os.makedirs(schema.uri, exist_ok=True)
    tfx.dsl.io.fileio.copy(str(SCHEMA_FILE), os.path.join(schema.uri, "schema.pbtxt"), overwrite=True)
    return schema


def split_names(examples: standard_artifacts.Examples) -> list:
    return artifact_utils.decode_split_names(examples.split_names)
