"""The data the strategies share: the data set's description, data prep, one ExampleGen run and the schema.

Prepared like `local_runner.py` prepares it (`pipeline.prepare`: typed tf.Examples in stratified
train/valid/eval files per span), then turned into Examples by the pipeline's own ExampleGen.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
from typing import Any, Dict, Optional, Tuple

from benchmarks.strategy_report.runs import write_atomically
from benchmarks.strategy_report.strategies import StrategyReportError
from pipeline import data, harness
from pipeline.config import PipelineConfig
from pipeline.dataset import DatasetDescription, load_description
from pipeline.prepare import PreparedData, prepare_dataset, read_manifest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_DATASET = REPO_ROOT / "schema" / "creditcard" / "dataset.yaml"
PREPARED_DATA_DIR = "prepared_data"
EXAMPLES_DONE_FILE = "examples_done.json"


def description(dataset: Optional[str], table: Optional[str]) -> DatasetDescription:
    """The description of `--dataset` (default: credit-card), reading `--data` instead of its own table if given."""
    loaded = load_description(pathlib.Path(dataset) if dataset else DEFAULT_DATASET)
    if table is None:
        return loaded
    return dataclasses.replace(loaded, data=pathlib.Path(table).resolve(), fetch=None)


def prepare(
    described: DatasetDescription, data_dir: pathlib.Path, output: pathlib.Path
) -> Tuple[pathlib.Path, PreparedData]:
    """Data prep of the one table (fetched and verified first if the description says so); the table's path too."""
    source = data.resolve_source(described, data_dir)
    if not source.is_file():
        raise StrategyReportError(f"--data {source} must be a CSV file (span folders are for the pipeline runners)")
    output.mkdir(parents=True, exist_ok=True)
    return source, prepare_dataset(described, data.find_spans(source), output / PREPARED_DATA_DIR)


def data_key(prepared: PreparedData) -> Dict[str, Any]:
    """What the Examples depend on: each prepared span's inputs (its raw file, description and prep version)."""
    return {str(span): (read_manifest(item.folder) or {}).get("fingerprint") for span, item in prepared.spans.items()}


def examples_once(config: PipelineConfig, prepared: PreparedData, output: pathlib.Path) -> Tuple[Any, float]:
    """The pipeline's ExampleGen on the prepared data, once per prepared data (reused otherwise).

    ExampleGen writes the records in another order on every run, so models are reproducible given
    the same Examples, which a reused `--output` keeps. Returns the Examples and ExampleGen's seconds.
    """
    from tfx.types.artifact import Artifact

    done = output / EXAMPLES_DONE_FILE
    uri = output / "examples"
    key = json.loads(json.dumps(data_key(prepared)))
    if done.exists():
        record = json.loads(done.read_text())
        if record.get("key") == key and "artifact" in record and uri.is_dir():
            print(f"examples: reusing {uri}", flush=True)
            examples = Artifact.from_json_dict(record["artifact"])
            examples.uri = str(uri)
            return examples, record["seconds"]
    done.unlink(missing_ok=True)
    started = time.monotonic()
    examples = harness.make_examples(config, output)
    seconds = time.monotonic() - started
    write_atomically(done, json.dumps({"key": key, "seconds": seconds, "artifact": examples.to_json_dict()}).encode())
    return examples, seconds
