"""Data prep: one data set's raw table(s) -> seeded, stratified train/valid/eval files of tf.Examples.

`prepare_dataset` runs two streaming passes over each raw file, in constant memory: the checks
and type inference of `table_scan.scan_table` for every span first, then `write_span`, which turns
each row into a tf.Example (numbers as floats, categories as bytes, the label as its class index:
0/1 for a binary label, 0..k-1 in `label.classes` order for a multiclass one; the cut slice columns
as bytes; a missing value is an absent feature) and writes it to the split that an exact
stratified draw assigns (`splits.StratifiedSplitter`).

Typed tf.Examples rather than a clean CSV: CsvExampleGen infers types from the text, so a zip code
would become an integer and a column could change type between spans; ImportExampleGen takes these
files as they are. Nothing is written until every span passed every check, and each span is written
into a folder beside the old one and swapped in only when complete, so a failed run leaves the
previous data as it was. An unchanged span (same file, description and prep version) is reused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import pathlib
import shutil
import tempfile
from typing import Any, Dict, Mapping, Optional

from pipeline.config import PipelineConfig
from pipeline.data import SPAN_DIR_PREFIX
from pipeline.dataset import SPLIT_NAMES, DatasetDescription
from pipeline.example_wire import example_bytes
from pipeline.splits import SplitCountError, StratifiedSplitter
from pipeline.table_scan import (
    ColumnTypes,
    PrepError,
    TableScan,
    check_class_counts,
    check_types_across_spans,
    read_rows,
    scan_table,
)

PREP_VERSION = 2
MANIFEST_FILENAME = "prepared.json"
SPLIT_FILENAME = "data.tfrecord.gz"


@dataclasses.dataclass(frozen=True)
class PreparedSpan:
    folder: pathlib.Path
    rows: int
    class_counts: Dict[int, int]
    split_counts: Dict[str, Dict[int, int]]
    types: ColumnTypes
    reused: bool


def fingerprint(description: DatasetDescription, raw: pathlib.Path) -> Dict[str, object]:
    """What a prepared span depends on: the raw file, the description's text and the prep code's version."""
    stat = raw.stat()
    return {
        "source": str(raw.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        # The parsed description, not its file: comments and key order do not matter, and the quick
        # path's description is written only after its data passed every check.
        "description_sha256": hashlib.sha256(_description_identity(description).encode()).hexdigest(),
        "prep_version": PREP_VERSION,
    }


def _description_identity(description: DatasetDescription) -> str:
    """The parsed description as text, path aside; settings added since a span was prepared count only when set.

    `Label.classes` and `ReadOptions.comment` are left out of the dataclasses' repr, so a description
    that does not use them has the identity (and the prepared spans stay reusable, the Examples and
    ExampleGen's cache unchanged) that it had before they existed. `Label.protect` changes no Example.
    """
    identity = repr(dataclasses.replace(description, path=pathlib.Path()))
    added = {"classes": description.label.classes, "comment": description.read.comment}
    added = {name: value for name, value in added.items() if value}
    return identity + (repr(added) if added else "")


def read_manifest(folder: pathlib.Path) -> Optional[Dict[str, Any]]:
    path = folder / MANIFEST_FILENAME
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _manifest_span(folder: pathlib.Path, manifest: Mapping[str, Any]) -> PreparedSpan:
    types = manifest["types"]
    return PreparedSpan(
        folder=folder,
        rows=int(manifest["rows"]),
        class_counts={int(k): v for k, v in manifest["class_counts"].items()},
        split_counts={s: {int(k): v for k, v in c.items()} for s, c in manifest["split_counts"].items()},
        types=ColumnTypes(
            numeric=tuple(types["numeric"]),
            categorical=tuple(types["categorical"]),
            nullable=tuple(types.get("nullable", ())),
        ),
        reused=True,
    )


def reusable_span(folder: pathlib.Path, expected: Mapping[str, Any]) -> Optional[PreparedSpan]:
    """The prepared span in `folder` if it was made from the same inputs, else None."""
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("fingerprint") != expected:
        return None
    if not all((folder / split / SPLIT_FILENAME).is_file() for split in SPLIT_NAMES):
        return None
    return _manifest_span(folder, manifest)


def write_span(
    description: DatasetDescription, scan: TableScan, types: ColumnTypes, folder: pathlib.Path
) -> PreparedSpan:
    """The second pass: writes `folder/<split>/data.tfrecord.gz` and the manifest, then swaps the folder in."""
    import tensorflow as tf  # TensorFlow only when writing: the checks stay light

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".part", dir=folder.parent))
    try:
        splitter = StratifiedSplitter(scan.class_counts, description.split.shares(), description.split.seed)
        writers = {}
        for split in SPLIT_NAMES:
            (staging / split).mkdir()
            writers[split] = tf.io.TFRecordWriter(str(staging / split / SPLIT_FILENAME), options="GZIP")
        rows_iter = read_rows(description, scan.path)
        _, header = next(rows_iter)
        index = {name: position for position, name in enumerate(header)}
        missing = set(description.read.missing)
        label = description.label
        try:
            for _, row in rows_iter:
                cls = label.class_index(row[index[label.column]].strip())
                features: Dict[str, object] = {}
                for name in types.numeric:
                    text = row[index[name]].strip()
                    if text not in missing:
                        features[name] = float(text)
                for name in types.categorical:
                    text = row[index[name]].strip()
                    if text not in missing:
                        features[name] = text
                for item in description.derived_slices:
                    text = row[index[item.column]].strip()
                    features[item.name] = item.band(math.nan if text in missing else float(text))
                features[label.column] = cls
                writers[splitter.assign(cls)].write(example_bytes(features))
            splitter.check_complete()
        except SplitCountError as error:
            raise PrepError(f"{scan.path} changed while it was being prepared ({error}); run again") from None
        finally:
            for writer in writers.values():
                writer.close()
        manifest = {
            "fingerprint": fingerprint(description, scan.path),
            "rows": scan.rows,
            "class_counts": {str(k): v for k, v in scan.class_counts.items()},
            "split_counts": {s: {str(k): v for k, v in c.items()} for s, c in splitter.counts().items()},
            "label_values": scan.label_values,
            "types": {
                "numeric": list(types.numeric),
                "categorical": list(types.categorical),
                "nullable": list(types.nullable),
            },
        }
        (staging / MANIFEST_FILENAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        for path in staging.rglob("*"):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        os.chmod(staging, 0o755)
        _swap_in(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dataclasses.replace(_manifest_span(folder, manifest), reused=False)


def _swap_in(staging: pathlib.Path, folder: pathlib.Path) -> None:
    """Replaces `folder` by `staging`; the old folder is removed only after the new one is in place."""
    retired = None
    if folder.exists():
        retired = folder.with_name(f".{folder.name}.retired")
        shutil.rmtree(retired, ignore_errors=True)
        os.replace(folder, retired)
    os.replace(staging, folder)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


@dataclasses.dataclass(frozen=True)
class PreparedData:
    """Every prepared span, and the model's input columns (the same in every span)."""

    spans: Dict[int, PreparedSpan]
    types: ColumnTypes


def prepare_dataset(
    description: DatasetDescription, raw_spans: Mapping[int, pathlib.Path], prepared_root: pathlib.Path
) -> PreparedData:
    """Prepares every span into `prepared_root/span-<N>/`; checks all of them before writing any."""
    prepared_root = pathlib.Path(prepared_root)
    reused: Dict[int, PreparedSpan] = {}
    scans: Dict[int, TableScan] = {}
    for span, raw in sorted(raw_spans.items()):
        existing = reusable_span(prepared_root / f"{SPAN_DIR_PREFIX}{span}", fingerprint(description, raw))
        if existing is not None:
            reused[span] = existing
            continue
        scans[span] = scan_table(description, raw)
        check_class_counts(description, scans[span])
    kinds = {span: prepared.types for span, prepared in reused.items()}
    kinds.update({span: scan.types for span, scan in scans.items()})
    if len({(kind.numeric, kind.categorical) for kind in kinds.values()}) > 1:
        # Rare: re-read the reused spans too, so the message can quote a row of each.
        everything = {span: scans.get(span) or scan_table(description, raw_spans[span]) for span in kinds}
        check_types_across_spans(everything)
    latest = kinds[max(kinds)]
    nullable = tuple(name for name in latest.numeric if any(name in kind.nullable for kind in kinds.values()))
    types = dataclasses.replace(latest, nullable=nullable)
    written = {
        span: write_span(description, scan, types, prepared_root / f"{SPAN_DIR_PREFIX}{span}")
        for span, scan in scans.items()
    }
    return PreparedData(spans=dict(sorted({**reused, **written}.items())), types=types)


def with_columns(config: PipelineConfig, prepared: PreparedData) -> PipelineConfig:
    """The config with the model's input columns as data prep found them (the runners know them only now)."""
    return dataclasses.replace(
        config,
        numeric_feature_keys=prepared.types.numeric,
        categorical_feature_keys=prepared.types.categorical,
        nullable_feature_keys=prepared.types.nullable,
    )
