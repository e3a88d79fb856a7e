"""Data prep's first pass: read one raw table as its description says, check it, infer column types.

Reading decodes line by line, so a byte that is not valid in the declared encoding is reported with
its line and character; a byte-order mark is dropped. `scan_table` checks the header (duplicate names,
every column the description names), every row's field count, label and numbers, infers each
column's type (numeric when every present value is a finite number, else categorical) and counts
the classes. Everything the pipeline cannot use fails here with one line naming the file, row,
column and value, before anything is written.
"""

from __future__ import annotations

import codecs
import collections
import csv
import dataclasses
import math
import pathlib
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from pipeline.dataset import SPLIT_NAMES, DatasetDescription
from pipeline.errors import UserInputError
from pipeline.splits import minimum_rows_per_class

POSITIVE, NEGATIVE = 1, 0


class PrepError(UserInputError):
    """The table cannot be used as the description says; the message names the file, row, column and value."""


@dataclasses.dataclass(frozen=True)
class ColumnTypes:
    """The model's input columns by kind, in the table's order (the label and cut slices are not inputs)."""

    numeric: Tuple[str, ...]
    categorical: Tuple[str, ...]
    # Numeric columns with a missing value somewhere: the Transform adds an indicator for each.
    nullable: Tuple[str, ...] = ()

    def kind_of(self, column: str) -> str:
        return "numeric" if column in self.numeric else "categorical"


@dataclasses.dataclass(frozen=True)
class TableScan:
    """What the first pass learned about one raw file."""

    path: pathlib.Path
    header: Tuple[str, ...]
    types: ColumnTypes
    class_counts: Dict[int, int]
    label_values: Dict[str, int]
    rows: int
    # First row holding text, per column inferred categorical: (line, value), for type-change messages.
    first_text: Dict[str, Tuple[int, str]]


def _check_encoding(description: DatasetDescription) -> str:
    encoding = description.read.encoding
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise PrepError(f"{description.path}: read.encoding: unknown encoding {encoding!r}") from None
    return encoding


def _decoded_lines(handle, path: pathlib.Path, encoding: str, comment: Optional[str] = None) -> Iterator[str]:
    """Decodes line by line, so a bad byte is reported with its line and column; drops a byte-order mark.

    A line that begins with `comment` comes out empty, not dropped, so the CSV reader's line numbers
    stay those of the file (empty lines are skipped as rows).
    """
    for number, raw in enumerate(handle, start=1):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as error:
            raise PrepError(
                f"{path}:{number}: byte {raw[error.start]:#04x} at character {error.start + 1} is not valid "
                f"{encoding}; set read.encoding in the data-set description (e.g. latin-1) or fix the file"
            ) from None
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        yield "\n" if comment and text.startswith(comment) else text


def _is_blank(row: Sequence[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


def read_rows(description: DatasetDescription, path: pathlib.Path) -> Iterator[Tuple[int, List[str]]]:
    """(line number, fields) of every data row; the first item is (1, header) with the column names."""
    encoding = _check_encoding(description)
    read = description.read
    with open(path, "rb") as handle:
        reader = csv.reader(_decoded_lines(handle, path, encoding, read.comment), delimiter=read.delimiter)
        if read.header:
            # The first row that is not blank (or a comment).
            first = next((row for row in reader if not _is_blank(row)), None)
            if first is None:
                raise PrepError(f"{path} is empty; it needs a header row and data rows")
            header = [name.strip() for name in first]
        else:
            header = list(read.columns)
        yield 1, header
        for row in reader:
            if _is_blank(row):
                continue
            if len(row) != len(header):
                raise PrepError(
                    f"{path}:{reader.line_num}: expected {len(header)} fields, found {len(row)}; "
                    "fix or drop that row (or check read.delimiter)"
                )
            yield reader.line_num, row


def _check_header(description: DatasetDescription, path: pathlib.Path, header: Sequence[str]) -> None:
    counts = collections.Counter(header)
    repeated = sorted(name for name, count in counts.items() if count > 1)
    if repeated:
        positions = [index + 1 for index, name in enumerate(header) if name == repeated[0]]
        raise PrepError(
            f"{path}:1: column name {repeated[0]!r} appears {counts[repeated[0]]} times (columns {positions}); "
            "rename or drop the extra column so each name means one column"
        )
    columns = description.columns
    wanted = {
        "label.column": [description.label.column],
        "columns.drop": list(columns.drop),
        "columns.categorical": list(columns.categorical),
        "columns.numeric": list(columns.numeric),
        "slices": [item.column for item in description.slices],
    }
    for key, names in wanted.items():
        missing = [name for name in names if name not in counts]
        if missing:
            raise PrepError(
                f"{path}: {key} names {missing}, not among the columns found: {', '.join(header)}; "
                f"fix {description.path.name} or the file"
            )
    dropped_slices = [item.column for item in description.slices if item.column in columns.drop]
    if dropped_slices:
        raise PrepError(f"{description.path}: slices use dropped columns {dropped_slices}; keep them or cut others")


def _parse_number(text: str) -> Optional[float]:
    try:
        return float(text)
    except ValueError:
        return None


def scan_table(description: DatasetDescription, path: pathlib.Path) -> TableScan:
    """The first pass: every check that needs no output, the column types and the class counts."""
    rows_iter = read_rows(description, path)
    _, header = next(rows_iter)
    _check_header(description, path, header)
    label = description.label
    label_index = header.index(label.column)
    inputs = [
        (index, name)
        for index, name in enumerate(header)
        if name != label.column and name not in description.columns.drop
    ]
    missing = set(description.read.missing)
    declared_numeric = set(description.columns.numeric)
    declared_categorical = set(description.columns.categorical)
    first_text: Dict[str, Tuple[int, str]] = {}
    seen_missing = set()
    label_values: Dict[str, int] = collections.Counter()
    rows = 0
    for line, row in rows_iter:
        raw_label = row[label_index].strip()
        if raw_label in missing:
            raise PrepError(f"{path}:{line}: label {label.column!r} is missing; drop that row or fill in its class")
        if label.multiclass and raw_label not in label.classes:
            raise PrepError(
                f"{path}:{line}: label {label.column!r} is {raw_label!r}, which is not among label.classes "
                f"{list(label.classes)}; add it to label.classes or fix the row"
            )
        if label.values and raw_label not in label.values and raw_label not in label.positive:
            raise PrepError(
                f"{path}:{line}: label {label.column!r} is {raw_label!r}, which is neither a class of interest "
                f"{list(label.positive)} nor a known value {list(label.values)}; add it to label.values or fix the row"
            )
        label_values[raw_label] += 1
        for index, name in inputs:
            text = row[index].strip()
            if text in missing:
                seen_missing.add(name)
                continue
            if name in declared_categorical or name in first_text:
                continue
            number = _parse_number(text)
            if number is not None and math.isfinite(number):
                continue
            if name in declared_numeric or number is not None:
                reason = "not a finite number" if number is not None else "not a number"
                raise PrepError(
                    f"{path}:{line}: column {name!r} holds {text!r}, {reason}; fix the row, list the marker in "
                    "read.missing, or move the column from columns.numeric to columns.categorical"
                )
            first_text[name] = (line, text)
        rows += 1
    if rows == 0:
        raise PrepError(f"{path} has no data rows")
    categorical = tuple(name for _, name in inputs if name in declared_categorical or name in first_text)
    numeric = tuple(name for _, name in inputs if name not in categorical)
    for item in description.derived_slices:
        if item.column in categorical:
            line, text = first_text.get(item.column, (0, "?"))
            raise PrepError(
                f"{path}:{line}: slice {item.name!r} cuts column {item.column!r} at edges, but it holds text "
                f"({text!r}); slice a text column without edges"
            )
    return TableScan(
        path=path,
        header=tuple(header),
        types=ColumnTypes(
            numeric=numeric, categorical=categorical, nullable=tuple(name for name in numeric if name in seen_missing)
        ),
        class_counts=_class_counts(description, label_values, rows),
        label_values=dict(sorted(label_values.items())),
        rows=rows,
        first_text=first_text,
    )


def _class_counts(description: DatasetDescription, label_values: Mapping[str, int], rows: int) -> Dict[int, int]:
    """Rows per class index: 0/1 for a binary label, 0..k-1 in label.classes order for a multiclass one."""
    label = description.label
    if label.multiclass:
        return {index: label_values.get(name, 0) for index, name in enumerate(label.classes)}
    positives = sum(count for value, count in label_values.items() if value in label.positive)
    return {NEGATIVE: rows - positives, POSITIVE: positives}


def check_class_counts(description: DatasetDescription, scan: TableScan) -> None:
    """Fails before any Beam job when a class cannot fill every split."""
    label = description.label
    shares = description.split.shares()
    needed = minimum_rows_per_class(shares)
    split_text = "/".join(f"{shares[name]:g}" for name in SPLIT_NAMES)
    found = ", ".join(f"{value!r}: {count}" for value, count in scan.label_values.items())
    if label.multiclass:
        _check_multiclass_counts(description, scan, needed, split_text, found)
        return
    if scan.class_counts[POSITIVE] == 0:
        raise PrepError(
            f"{scan.path}: the class of interest {list(label.positive)} never occurs in column {label.column!r} "
            f"(values found: {found}); set label.positive in {description.path.name}"
        )
    for cls, name in ((POSITIVE, f"class of interest {list(label.positive)}"), (NEGATIVE, "other classes")):
        if scan.class_counts[cls] < needed:
            raise PrepError(
                f"{scan.path}: column {label.column!r} has {scan.class_counts[cls]} rows of the {name}; at least "
                f"{needed} are needed so that train, valid and eval each get one (split {split_text}); add rows "
                "or change split in the data-set description"
            )


def _check_multiclass_counts(
    description: DatasetDescription, scan: TableScan, needed: int, split_text: str, found: str
) -> None:
    label = description.label
    for index, name in enumerate(label.classes):
        count = scan.class_counts[index]
        if count == 0:
            raise PrepError(
                f"{scan.path}: class {name!r} of label.classes never occurs in column {label.column!r} (values "
                f"found: {found}); remove it from label.classes in {description.path.name} or add its rows"
            )
        if count < needed:
            raise PrepError(
                f"{scan.path}: column {label.column!r} has {count} rows of class {name!r}; at least {needed} are "
                f"needed so that train, valid and eval each get one (split {split_text}); add rows or change split "
                "in the data-set description"
            )


def check_types_across_spans(scans: Mapping[int, TableScan]) -> None:
    """A column must keep its kind in every span; a change is named with the span, row and value."""
    ordered = sorted(scans.items())
    first_span, first = ordered[0]
    for span, scan in ordered[1:]:
        for column in first.types.numeric + first.types.categorical:
            before, after = first.types.kind_of(column), scan.types.kind_of(column)
            if column not in scan.header or before == after:
                continue
            text_scan = scan if after == "categorical" else first
            line, text = text_scan.first_text[column]
            raise PrepError(
                f"{scan.path}: column {column!r} is {after} in span {span} but {before} in span {first_span} "
                f"({text_scan.path}:{line} holds {text!r}); fix the value or declare the column in columns.categorical"
            )
        if set(scan.header) != set(first.header):
            raise PrepError(
                f"{scan.path}: span {span} has columns {sorted(set(scan.header) ^ set(first.header))} that span "
                f"{first_span} has not (or the reverse); every span needs the same columns"
            )
