"""The benchmark's data: a copy of the data set's description that reads a folder of span-<N>/ tables.

The runs must see a second span appear, as scheduled retraining does (README, "Scheduled retraining on new
spans"): the description's `data` names a folder and each `span-<N>/` in it holds one table. A description that
fetches its table (the credit-card default) or names one file has no such folder, so the benchmark writes a
description of its own into OUTPUT/dataset/: the original's keys and name (so the pipeline, its name and data
prep are the same), `data` pointing at OUTPUT/spans/, and the reviewed schema copied beside it (so ImportSchemaGen
runs, as it does for the original). `span-1/` holds the table, or its first --rows rows; `span-2/` is added
before the third run as a byte copy of span 1's table.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import pathlib
import shutil
from typing import List, Optional

import yaml

from pipeline import data
from pipeline.dataset import DatasetDescription, load_description
from pipeline.table_scan import read_rows

DESCRIPTION_DIR = "dataset"
SPANS_DIR = "spans"


@dataclasses.dataclass
class BenchInputs:
    """What the three runs read, and what the benchmark did to make it (printed as notes)."""

    description_path: pathlib.Path
    spans_dir: pathlib.Path
    table_name: str
    notes: List[str]

    def span_table(self, span: int) -> pathlib.Path:
        return self.spans_dir / f"{data.SPAN_DIR_PREFIX}{span}" / self.table_name


def source_table(description: DatasetDescription, data_dir: pathlib.Path, notes: List[str]) -> pathlib.Path:
    """The table the description reads, fetched and checked first if it is a download (not timed)."""
    fetched = description.fetch is not None and description.data is None
    source = data.resolve_source(description, data_dir)
    if fetched:
        notes.append(f"table: {source} (fetched and checked against its sha256 before the runs; not timed)")
    spans = data.find_spans(source)
    if len(spans) > 1:
        notes.append(f"table: the description reads {len(spans)} spans; the benchmark uses the last, span {max(spans)}")
    return spans[max(spans)]


def copy_first_rows(description: DatasetDescription, source: pathlib.Path, target: pathlib.Path, rows: int) -> int:
    """Copies the header and the first `rows` data rows of `source` byte for byte; returns the rows copied.

    Rows are counted by data prep's own reader (`read_rows`: quoted line breaks, comment and blank lines),
    and the file is cut after the line that ends the last row, so the copy parses exactly as the original.
    """
    last_line, copied = 0, 0
    for line_number, _ in itertools.islice(read_rows(description, source), 1, rows + 1):
        last_line, copied = line_number, copied + 1
    with open(source, "rb") as reader, open(target, "wb") as writer:
        writer.writelines(itertools.islice(reader, last_line))
    return copied


def prepare_inputs(
    dataset_path: pathlib.Path, data_dir: pathlib.Path, folder: pathlib.Path, rows: Optional[int]
) -> BenchInputs:
    """Writes OUTPUT/dataset/dataset.yaml (+ schema) and OUTPUT/spans/span-1/<table>; nothing is timed here."""
    description = load_description(dataset_path)
    notes: List[str] = []
    source = source_table(description, data_dir, notes)
    inputs = BenchInputs(folder / DESCRIPTION_DIR / "dataset.yaml", folder / SPANS_DIR, source.name, notes)
    span_1 = inputs.span_table(1)
    span_1.parent.mkdir(parents=True)
    if rows is None:
        # A link, not a copy: the credit-card table is 150 MB and data prep only reads it.
        os.symlink(source.resolve(), span_1)
    else:
        copied = copy_first_rows(description, source, span_1, rows)
        short = f" (the table has only {copied})" if copied < rows else ""
        notes.append(f"--rows {rows}: span 1 is the first {copied} rows of {source}{short}")
    tree = yaml.safe_load(description.path.read_text(encoding="utf-8"))
    tree.pop("fetch", None)
    tree["name"] = description.name
    tree["data"] = str(inputs.spans_dir)
    inputs.description_path.parent.mkdir(parents=True)
    inputs.description_path.write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
    if description.schema_path.is_file():
        shutil.copyfile(description.schema_path, inputs.description_path.parent / description.schema_path.name)
    else:
        notes.append(
            f"schema: {description.schema_path} does not exist, so the fresh run infers one (SchemaGen) and the "
            "rerun imports it (ImportSchemaGen): the rerun cannot be served from the cache entirely"
        )
    load_description(inputs.description_path)
    return inputs


def add_second_span(inputs: BenchInputs) -> pathlib.Path:
    """span-2/<table>: a byte copy of span 1's table (same rows, same size), written before the third run."""
    span_2 = inputs.span_table(2)
    span_2.parent.mkdir(parents=True)
    shutil.copyfile(inputs.span_table(1), span_2)
    inputs.notes.append(
        f"span 2: a copy of span 1's rows ({span_2}); ExampleGen reads the highest span, so the third run "
        "ingests, trains and evaluates span 2 and the gate judges its model against span 1's blessed one"
    )
    return span_2
