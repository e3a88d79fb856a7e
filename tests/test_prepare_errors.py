"""Every input data prep cannot use fails in one line naming the file, row, column and value; nothing is written."""

from __future__ import annotations

import pathlib

import pytest

from pipeline.dataset import DescriptionError, load_description
from pipeline.prepare import prepare_dataset
from pipeline.table_scan import PrepError
from tests import tables

LOANS = {"data": "loans.csv", "label": {"column": "status", "positive": ["bad"]}}


def run(tmp_path: pathlib.Path, text, tree=None, spans=None):
    """Writes loans.csv (text or bytes) and its description, then prepares it into tmp_path/prepared."""
    folder = tmp_path / "in"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "loans.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    description = load_description(tables.write_description(folder, tree or LOANS))
    return prepare_dataset(description, spans or {1: path}, tmp_path / "prepared")


def table(rows, header="income,debt,status"):
    return header + "\n" + "\n".join(rows) + "\n"


GOOD = [f"{50 + i},{i % 7},{'bad' if i % 5 == 0 else 'good'}" for i in range(40)]


@pytest.mark.parametrize(
    "text, message",
    [
        (table(GOOD, header="income,debt,income2,debt"), r"loans.csv:1: column name 'debt' appears 2 times"),
        (table(GOOD, header="income,debt,state"), r"label.column names \['status'\], not among the columns found"),
        ("", r"loans.csv is empty; it needs a header row"),
        ("income,debt,status\n", r"loans.csv has no data rows"),
        (table([*GOOD, "1,2"]), r"loans.csv:42: expected 3 fields, found 2"),
        (table([*GOOD, "1,2,"]), r"loans.csv:42: label 'status' is missing"),
        (table(["1,2,good"] * 40), r"the class of interest \['bad'\] never occurs in column 'status' \(values found"),
        (
            table(["1,2,good"] * 40 + ["1,2,bad"] * 2),
            r"column 'status' has 2 rows of the class of interest \['bad'\]; at least 4 are needed",
        ),
        (table([*GOOD, "1,nan,good"]), r"loans.csv:42: column 'debt' holds 'nan', not a finite number"),
        (table([*GOOD, "1,inf,good"]), r"loans.csv:42: column 'debt' holds 'inf', not a finite number"),
        (
            b"income,debt,status\n"
            + table(GOOD[:3], "").encode().lstrip()
            + b"5,\xff7,good\n"
            + table(GOOD, "").encode().lstrip(),
            r"loans.csv:5: byte 0xff at character 3 is not valid utf-8; set read.encoding",
        ),
    ],
    ids=[
        "duplicate-column",
        "no-label-column",
        "empty",
        "no-rows",
        "short-row",
        "missing-label",
        "no-positives",
        "too-few-positives",
        "nan",
        "inf",
        "bad-byte",
    ],
)
def test_bad_tables(tmp_path, text, message):
    with pytest.raises(PrepError, match=message):
        run(tmp_path, text)
    assert not (tmp_path / "prepared").exists() or not any((tmp_path / "prepared").iterdir())


def test_unknown_label_value_names_row_and_the_known_values(tmp_path):
    tree = {**LOANS, "label": {"column": "status", "positive": ["bad"], "values": ["good", "bad"]}}
    with pytest.raises(PrepError, match=r"loans.csv:42: label 'status' is 'meh', which is neither a class of interest"):
        run(tmp_path, table([*GOOD, "1,2,meh"]), tree)


def test_text_in_a_declared_numeric_column(tmp_path):
    tree = {**LOANS, "columns": {"numeric": ["debt"]}}
    with pytest.raises(PrepError, match=r"loans.csv:42: column 'debt' holds 'lots', not a number"):
        run(tmp_path, table([*GOOD, "1,lots,good"]), tree)


def test_cut_slice_on_a_text_column(tmp_path):
    tree = {**LOANS, "slices": [{"name": "debt_band", "column": "debt", "edges": [3], "labels": ["lo", "hi"]}]}
    with pytest.raises(
        PrepError, match=r"loans.csv:42: slice 'debt_band' cuts column 'debt' at edges, but it holds text"
    ):
        run(tmp_path, table([*GOOD, "1,lots,good"]), tree)


def test_byte_order_mark_is_accepted_and_other_encodings_can_be_declared(tmp_path):
    prepared = run(tmp_path / "bom", b"\xef\xbb\xbf" + table(GOOD).encode())
    assert prepared.spans[1].rows == 40
    latin = table([*GOOD, "1,2,good"]).replace("income,", "caf\u00e9,").encode("latin-1")
    tree = {**LOANS, "read": {"encoding": "latin-1"}}
    assert run(tmp_path / "latin", latin, tree).types.numeric == ("caf\u00e9", "debt")


def test_a_column_that_changes_type_between_spans(tmp_path):
    folder = tmp_path / "spans"
    (folder / "span-1").mkdir(parents=True)
    (folder / "span-2").mkdir(parents=True)
    (folder / "span-1" / "a.csv").write_text(table(GOOD))
    (folder / "span-2" / "a.csv").write_text(table([*GOOD, "n/a,2,good"]))
    spans = {1: folder / "span-1" / "a.csv", 2: folder / "span-2" / "a.csv"}
    with pytest.raises(
        PrepError, match=r"column 'income' is categorical in span 2 but numeric in span 1 .*holds 'n/a'"
    ):
        run(tmp_path, table(GOOD), spans=spans)


def test_a_bad_new_file_leaves_the_prepared_span_as_it_was(tmp_path):
    run(tmp_path, table(GOOD))
    files = {path: path.read_bytes() for path in (tmp_path / "prepared").rglob("*") if path.is_file()}
    with pytest.raises(PrepError):
        run(tmp_path, table([*GOOD, "1,2"]))
    assert {path: path.read_bytes() for path in (tmp_path / "prepared").rglob("*") if path.is_file()} == files


@pytest.mark.parametrize(
    "tree, message",
    [
        ({**LOANS, "lable": {}}, r"dataset.yaml: lable: unknown key; did you mean 'label'\?"),
        ({**LOANS, "read": {"delimeter": ";"}}, r"read.delimeter: unknown key; did you mean 'delimiter'\?"),
        ({**LOANS, "read": {"header": False}}, r"read.columns: a file without a header needs its column names"),
        ({"data": "loans.csv", "label": {"column": "status"}}, r"label.positive: name the class\(es\) of interest"),
        ({**LOANS, "split": {"train": 0.5}}, r"split: train \+ valid \+ eval must be 1"),
        (
            {**LOANS, "slices": [{"column": "income", "edges": [2, 1], "labels": ["a", "b", "c"]}]},
            "strictly increasing",
        ),
        (
            {**LOANS, "slices": [{"name": "b", "column": "income", "edges": [1], "labels": ["a"]}]},
            "give that many labels",
        ),
        ({"label": {"column": "status", "positive": ["bad"]}}, r"data: name the CSV file"),
        ({**LOANS, "settings": ["trainer.model=rf"]}, r"dataset.yaml: settings: expected a mapping of sections"),
        ({**LOANS, "settings": {"trainer": "rf"}}, r"settings.trainer: expected a mapping of the section's settings"),
        ({**LOANS, "settings": {"trainer": {"model": ""}}}, r"settings.trainer.model: expected a value"),
    ],
)
def test_description_mistakes_are_one_line_naming_the_key(tmp_path, tree, message):
    with pytest.raises(DescriptionError, match=message):
        load_description(tables.write_description(tmp_path, tree))


def test_unknown_encoding_names_the_setting(tmp_path):
    with pytest.raises(PrepError, match=r"read.encoding: unknown encoding 'utf-99'"):
        run(tmp_path, table(GOOD), {**LOANS, "read": {"encoding": "utf-99"}})
