"""The analysis on plain counts: findings, the Trainer's hints, the summary and failing findings."""

from __future__ import annotations

import math

import pytest

from components.class_skew.analysis import analyze, raise_for_failures
from components.class_skew.counts import LabelCounts, label_counts
from components.class_skew.errors import ClassSkewError, ClassSkewInputError
from components.class_skew.spec import ClassSkewParameters
from components.class_skew.tests import fixtures

DEFAULTS = ClassSkewParameters()


def binary(train, eval_):
    return {
        "train": LabelCounts("train", sum(train.values()), train, 0),
        "eval": LabelCounts("eval", sum(eval_.values()), eval_, 0),
    }


def test_missing_labels_are_findings_of_every_split():
    schema = fixtures.parse_schema(fixtures.STRING_SCHEMA)
    stats = fixtures.statistics(["cat", "cat", "dog", None, None], schema, "animal")
    split_counts = label_counts(stats, "animal", "train")
    report = analyze(
        {"train": split_counts, "eval": split_counts}, "animal", DEFAULTS, schema_classes=["cat", "dog", "eel"]
    )
    missing = [f for f in report.findings if f.kind == "missing_labels"]
    assert [f.split for f in missing] == ["train", "eval"]
    assert report.splits["train"].absent_classes == ("eel",)
    assert "train: 2 of 5 rows have no 'animal' label [warn]" in report.summary


def test_initial_bias_is_log_odds_of_train():
    report = analyze(binary({"0": 990, "1": 10}, {"0": 99, "1": 1}), "Class", DEFAULTS)
    assert report.initial_bias == pytest.approx(math.log(10 / 990))
    assert report.hyperparameters()["class_counts"] == {"0": 990, "1": 10}


def test_the_report_records_its_settings_and_span():
    parameters = ClassSkewParameters(on_skew="fail", skew_js_threshold=0.2)
    report = analyze(binary({"0": 50, "1": 50}, {"0": 50, "1": 50}), "Class", parameters, span=3)
    assert report.span == 3 and report.label_key == "Class"
    assert report.thresholds["skew_js_threshold"] == 0.2 and report.actions["on_skew"] == "fail"
    assert report.summary == ("train: 50.00% positive (1:1.0, balanced)", "eval: 50.00% positive (1:1.0, balanced)")


def test_failing_findings_raise_only_when_asked():
    report = analyze(binary({"0": 25}, {"0": 5, "1": 5}), "Class", DEFAULTS)
    assert [(f.kind, f.action) for f in report.failures()] == [("single_class", "fail")]
    with pytest.raises(ClassSkewError, match=r"1 finding\(s\) of label 'Class': \[single_class\] train"):
        raise_for_failures(report)


def test_drift_names_the_previous_span_and_skips_splits_it_lacks():
    previous = {"train": LabelCounts("train", 100, {"0": 90, "1": 10}, 0)}
    report = analyze(
        binary({"0": 80, "1": 20}, {"0": 40, "1": 10}), "Class", DEFAULTS, previous_counts=previous, previous_span=4
    )
    assert report.drift.previous_span == 4
    assert report.drift.skipped_splits == {"eval": "not in the previous span's statistics"}
    assert report.drift.splits["train"].linf == pytest.approx(0.1)
    assert "train: label distribution drift since span 4 L-inf 0.1000" in report.findings[-1].message


def test_positive_class_needs_a_binary_label():
    counts = {"0": 5, "1": 5, "2": 5}
    split_counts = {name: LabelCounts(name, 15, counts, 0) for name in ("train", "eval")}
    with pytest.raises(ClassSkewInputError, match=r"positive_class='1' needs a binary label"):
        analyze(split_counts, "Class", ClassSkewParameters(positive_class="1"))
