"""The typed report: one save, one load, the same file for the same report, clear errors for bad files."""

from __future__ import annotations

import json
import os

import pytest
from tfx.dsl.io import fileio

from components.class_skew.analysis import analyze
from components.class_skew.counts import LabelCounts
from components.class_skew.errors import ClassSkewInputError
from components.class_skew.report import FindingKind, LabelDistributionReport
from components.class_skew.spec import ClassSkewParameters


def sample_report() -> LabelDistributionReport:
    split_counts = {
        "train": LabelCounts("train", 1000, {"0": 990, "1": 10}, 0),
        "eval": LabelCounts("eval", 101, {"0": 90, "1": 10}, 1),
    }
    previous = {"train": LabelCounts("train", 100, {"0": 95, "1": 5}, 0)}
    return analyze(split_counts, "Class", ClassSkewParameters(), previous_counts=previous, previous_span=1, span=2)


def write(uri: str, text: str) -> None:
    with fileio.open(os.path.join(uri, "class_skew.json"), "w") as handle:
        handle.write(text)


def test_save_then_load_gives_the_same_report(tmp_path):
    report = sample_report()
    report.save(str(tmp_path))
    assert LabelDistributionReport.load(str(tmp_path)) == report
    with fileio.open(os.path.join(str(tmp_path), "summary.txt"), "r") as handle:
        assert handle.read().splitlines() == list(report.summary)
    assert sorted(fileio.listdir(str(tmp_path))) == ["class_skew.json", "summary.txt"]


def test_the_json_keeps_its_keys(tmp_path):
    sample_report().save(str(tmp_path))
    with open(os.path.join(str(tmp_path), "class_skew.json")) as handle:
        data = json.load(handle)
    assert data["format_version"] == 1 and data["span"] == 2
    assert data["drift"]["previous_span"] == 1
    assert data["splits"]["eval"]["missing_label_count"] == 1
    assert data["skew"]["eval"]["baseline_split"] == "train"
    assert set(data["findings"][0]) == {"split", "kind", "action", "message", "numbers"}


def test_finding_kinds_are_stored_as_their_plain_names_and_read_back_as_kinds(tmp_path):
    report = sample_report()
    report.save(str(tmp_path))
    with open(os.path.join(str(tmp_path), "class_skew.json")) as handle:
        text = handle.read()
    kinds = [finding.kind for finding in report.findings]
    assert FindingKind.IMBALANCE in kinds and FindingKind.DRIFT in kinds
    assert '"kind": "imbalanced"' in text and '"kind": "drift"' in text and "FindingKind" not in text
    loaded = LabelDistributionReport.load(str(tmp_path)).findings
    assert [(type(finding.kind), finding.kind) for finding in loaded] == [(FindingKind, kind) for kind in kinds]
    # Log lines and messages (`%s`, f-strings) say the plain name.
    assert str(FindingKind.DRIFT) == f"{FindingKind.DRIFT}" == "drift"


def test_load_errors(tmp_path):
    uri = str(tmp_path)
    with pytest.raises(ClassSkewInputError, match=r"no class_skew.json in"):
        LabelDistributionReport.load(uri)
    write(uri, "{not json")
    with pytest.raises(ClassSkewInputError, match=r"is not valid JSON"):
        LabelDistributionReport.load(uri)
    write(uri, json.dumps({"label_key": "Class"}))
    with pytest.raises(ClassSkewInputError, match=r"is not a ClassSkew report \(no 'splits' key\)"):
        LabelDistributionReport.load(uri)
    data = sample_report().to_json_dict()
    write(uri, json.dumps({**data, "format_version": 99}))
    with pytest.raises(ClassSkewInputError, match=r"format_version 99, this code reads 1"):
        LabelDistributionReport.load(uri)
    unknown_kind = {**data["findings"][0], "kind": "overfit"}
    write(uri, json.dumps({**data, "findings": [unknown_kind]}))
    with pytest.raises(ClassSkewInputError, match=r"is not a complete ClassSkew report"):
        LabelDistributionReport.load(uri)
    del data["skew"]
    write(uri, json.dumps(data))
    with pytest.raises(ClassSkewInputError, match=r"is not a complete ClassSkew report"):
        LabelDistributionReport.load(uri)
